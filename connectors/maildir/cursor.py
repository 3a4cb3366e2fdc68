"""The Maildir cursor: per folder, which messages the daemon has been told about.

JSON, opaque to the daemon. Per folder it keeps the unique names already
reported with their flag letters, a stat fingerprint (size and mtime, to notice
a rewritten header without opening the file) and gw:* tags, plus the mtimes of
new/ and cur/ so a quiet folder costs two stat calls. Messages the first scan
left out because they are older than `since` are kept as hidden entries, so
they are never reported later as new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from connectors.errors import CursorExpired

VERSION = 1


@dataclass(slots=True)
class Entry:
    letters: str
    fingerprint: str
    tags: str  # sorted gw:* tags joined by spaces
    hidden: bool = False  # left out by `since`: never reported, never reported gone

    def dump(self) -> list[object]:
        return [self.letters, self.fingerprint, self.tags, int(self.hidden)]


@dataclass(slots=True)
class FolderState:
    complete: bool = False  # the first scan of this folder has finished
    dir_mtimes: tuple[int, int] | None = None  # new/, cur/; None = list next time
    known: dict[str, Entry] = field(default_factory=dict)


def fingerprint(size: int, mtime_ns: int) -> str:
    return f"{size:x}.{mtime_ns:x}"


def encode(folders: dict[str, FolderState]) -> str:
    return json.dumps(
        {
            "v": VERSION,
            "folders": {
                name: {
                    "complete": st.complete,
                    "mtimes": list(st.dir_mtimes) if st.dir_mtimes else None,
                    "known": {u: e.dump() for u, e in st.known.items()},
                }
                for name, st in folders.items()
            },
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def decode(cursor: str) -> dict[str, FolderState]:
    """The folder states in `cursor`; CursorExpired when it is not ours or is damaged."""
    try:
        data = json.loads(cursor)
        if data.get("v") != VERSION:
            raise ValueError("version")
        folders: dict[str, FolderState] = {}
        for name, raw in data["folders"].items():
            mtimes = raw["mtimes"]
            folders[name] = FolderState(
                complete=bool(raw["complete"]),
                dir_mtimes=(int(mtimes[0]), int(mtimes[1])) if mtimes else None,
                known={
                    u: Entry(str(e[0]), str(e[1]), str(e[2]), bool(e[3]))
                    for u, e in raw["known"].items()
                },
            )
        return folders
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise CursorExpired(f"maildir cursor unreadable ({type(exc).__name__})") from exc
