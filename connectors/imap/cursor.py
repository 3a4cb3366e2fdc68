"""The IMAP cursor: per-folder sync state packed into one opaque JSON string.

Format (version 1), one entry per watched folder, keyed by decoded folder name:

    {"v": 1, "folders": {"INBOX": {
        "uv": 1795434903,        # UIDVALIDITY the rest is valid for
        "next": 42,              # every UID below this has been handled
        "modseq": 1234,          # HIGHESTMODSEQ seen before the last fetch (0: no CONDSTORE)
        "uids": "1:17,19,23:41", # UIDs known to exist, compact (expunge detection)
        "flags": {"\\\\Seen gw:stop": "3,7"},   # only without CONDSTORE: non-empty flag sets
        "since": "2024-01-01"    # only while a first scan is unfinished
    }}}

Everything a batch carries is already reflected here, nothing more, so a crash
after any batch resumes without loss and without duplicates.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import date

from connectors.errors import CursorExpired

VERSION = 1


def compact(uids: Iterable[int]) -> str:
    """[1, 2, 3, 7] -> "1:3,7" (the IMAP sequence-set syntax)."""
    ordered = sorted(set(uids))
    if not ordered:
        return ""
    if ordered[-1] - ordered[0] + 1 == len(ordered):
        # A folder nobody expunged from: one range, without walking 100k UIDs.
        return str(ordered[0]) if len(ordered) == 1 else f"{ordered[0]}:{ordered[-1]}"
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def expand(uid_set: str) -> set[int]:
    """Undo `compact`: "1:3,7" -> {1, 2, 3, 7}; ValueError on anything else."""
    result: set[int] = set()
    for part in filter(None, uid_set.split(",")):
        low, sep, high = part.partition(":")
        if sep:
            a, b = sorted((int(low), int(high)))
            result.update(range(a, b + 1))
        else:
            result.add(int(low))
    return result


class CompactUids(AbstractSet[int]):
    """A UID set read from a cursor, expanded only when a change needs it.

    A quiet cycle only needs the count (to notice expunges without QRESYNC)
    and to write the same cursor back: expanding 100k UIDs into a frozenset
    and compacting them again cost more than the whole IMAP round trip.
    """

    __slots__ = ("_count", "_expanded", "_ranges", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._expanded: frozenset[int] | None = None
        self._ranges: tuple[list[int], list[int]] | None = None
        count = 0
        for part in filter(None, text.split(",")):
            low, sep, high = part.partition(":")
            count += abs(int(high) - int(low)) + 1 if sep else (int(low) >= 0)
        self._count = count

    @property
    def text(self) -> str:
        return self._text

    def with_added(self, uids: Iterable[int]) -> CompactUids:
        """This set plus `uids`, keeping the text compact without re-reading the set.

        The cursor is written after every batch; re-compacting a folder's 37k
        UIDs each time cost more than storing the batch. New mail has UIDs above
        all known ones, so its ranges are simply appended.
        """
        fresh = sorted(set(uids))
        if not fresh:
            return self
        top = self._top()
        if top is not None and fresh[0] <= top:
            return CompactUids(compact([*self, *fresh]))  # rare: not above the known ones
        parts = [p for p in self._text.split(",") if p]
        tail = compact(fresh).split(",")
        if top is not None and fresh[0] == top + 1:
            # The first new range continues the last known one: "1:5" + "6:8" -> "1:8".
            low = parts.pop().partition(":")[0]
            tail[0] = f"{low}:{tail[0].rpartition(':')[2]}"
        return CompactUids(",".join(parts + tail))

    def _top(self) -> int | None:
        last = self._text.rpartition(",")[2]
        if not last:
            return None
        low, _, high = last.partition(":")
        return max(int(low), int(high)) if high else int(low)

    def _set(self) -> frozenset[int]:
        if self._expanded is None:
            self._expanded = frozenset(expand(self._text))
        return self._expanded

    def __len__(self) -> int:
        return self._count

    def __contains__(self, uid: object) -> bool:
        if self._expanded is None and isinstance(uid, int) and self._text.count(",") < 256:
            # Few ranges (a folder rarely expunged from): bisect them rather than
            # hold a 37k-element set per folder for the whole first scan.
            if self._ranges is None:
                lows, highs = [], []
                for part in filter(None, self._text.split(",")):
                    low, sep, high = part.partition(":")
                    a, b = sorted((int(low), int(high))) if sep else (int(low), int(low))
                    lows.append(a)
                    highs.append(b)
                merged_lows: list[int] = []
                merged_highs: list[int] = []
                for a, b in sorted(zip(lows, highs, strict=True)):
                    if merged_highs and a <= merged_highs[-1] + 1:
                        merged_highs[-1] = max(merged_highs[-1], b)  # overlapping parts
                    else:
                        merged_lows.append(a)
                        merged_highs.append(b)
                self._ranges = (merged_lows, merged_highs)
            lows, highs = self._ranges
            at = bisect.bisect_right(lows, uid) - 1
            return at >= 0 and uid <= highs[at]
        return uid in self._set()

    def __iter__(self) -> Iterator[int]:
        return iter(self._set())

    @classmethod
    def _from_iterable(cls, it: Iterable[int]) -> frozenset[int]:  # type: ignore[override]
        return frozenset(it)

    __hash__ = AbstractSet._hash


@dataclass(frozen=True, slots=True)
class FolderState:
    uidvalidity: int
    uidnext: int
    modseq: int = 0
    uids: AbstractSet[int] = frozenset()
    flags: dict[str, frozenset[int]] | None = None  # flag-set key -> UIDs; None with CONDSTORE
    since: date | None = None

    def with_changes(self, **kwargs: object) -> FolderState:
        return replace(self, **kwargs)  # type: ignore[arg-type]

    def flags_of(self) -> dict[int, str]:
        """UID -> flag-set key for the non-CONDSTORE diff ("" when no flags)."""
        result = dict.fromkeys(self.uids, "")
        for key, uids in (self.flags or {}).items():
            for uid in uids:
                result[uid] = key
        return result

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "uv": self.uidvalidity,
            "next": self.uidnext,
            "modseq": self.modseq,
            "uids": self.uids.text if isinstance(self.uids, CompactUids) else compact(self.uids),
        }
        if self.flags is not None:
            out["flags"] = {k: compact(v) for k, v in sorted(self.flags.items()) if v and k}
        if self.since is not None:
            out["since"] = self.since.isoformat()
        return out

    @classmethod
    def from_json(cls, data: dict[str, object]) -> FolderState:
        flags = data.get("flags")
        since = data.get("since")
        return cls(
            uidvalidity=int(data["uv"]),  # type: ignore[call-overload]
            uidnext=int(data["next"]),  # type: ignore[call-overload]
            modseq=int(data.get("modseq") or 0),  # type: ignore[call-overload]
            uids=CompactUids(str(data.get("uids") or "")),
            flags=(
                {str(k): frozenset(expand(str(v))) for k, v in flags.items()}
                if isinstance(flags, dict)
                else None
            ),
            since=date.fromisoformat(since) if isinstance(since, str) else None,
        )


def flag_groups(flags_by_uid: dict[int, str]) -> dict[str, frozenset[int]]:
    groups: dict[str, set[int]] = {}
    for uid, key in flags_by_uid.items():
        if key:
            groups.setdefault(key, set()).add(uid)
    return {k: frozenset(v) for k, v in groups.items()}


@dataclass(frozen=True, slots=True)
class Cursor:
    folders: dict[str, FolderState] = field(default_factory=dict)

    def dump(self) -> str:
        payload = {
            "v": VERSION,
            "folders": {name: st.to_json() for name, st in sorted(self.folders.items())},
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def load(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        try:
            payload = json.loads(text)
            if payload.get("v") != VERSION:
                raise ValueError(f"version {payload.get('v')!r}")
            folders = {str(n): FolderState.from_json(s) for n, s in payload["folders"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CursorExpired(
                f"the stored IMAP cursor is unreadable ({type(exc).__name__}); a rescan is needed"
            ) from None
        return cls(folders)

    def with_folder(self, name: str, state: FolderState | None) -> Cursor:
        folders = dict(self.folders)
        if state is None:
            folders.pop(name, None)
        else:
            folders[name] = state
        return Cursor(folders)
