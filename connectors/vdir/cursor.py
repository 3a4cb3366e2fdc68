"""The vdir cursor: what every `.ics` file looked like at the last scan.

JSON, opaque to the daemon:

    {"v": 1, "dir": "/abs/calendar/dir",
     "files": {"<name>.ics": [mtime_ns, size, "<sha256 prefix>", ["<uid>", ...]]}}

mtime and size let a quiet scan skip reading files; the hash tells a touched
file from a changed one; the UIDs say what was removed when a file goes away.
An mtime of 0 means "do not trust the stat next time" (see `source.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from connectors.errors import CursorExpired

VERSION = 1


@dataclass(frozen=True, slots=True)
class Entry:
    mtime_ns: int
    size: int
    hash: str
    uids: tuple[str, ...]


def encode(directory: str, files: dict[str, Entry]) -> str:
    body = {n: [e.mtime_ns, e.size, e.hash, list(e.uids)] for n, e in sorted(files.items())}
    return json.dumps({"v": VERSION, "dir": directory, "files": body}, separators=(",", ":"))


def decode(cursor: str, directory: str) -> dict[str, Entry]:
    try:
        raw = json.loads(cursor)
        if raw["v"] != VERSION:
            raise CursorExpired(f"vdir cursor version {raw['v']!r} is not {VERSION}")
        if raw["dir"] != directory:
            raise CursorExpired(f"vdir cursor is for {raw['dir']}, not {directory}")
        return {
            str(name): Entry(int(m), int(size), str(h), tuple(str(u) for u in uids))
            for name, (m, size, h, uids) in raw["files"].items()
        }
    except CursorExpired:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CursorExpired(f"vdir cursor unreadable: {type(exc).__name__}") from None
