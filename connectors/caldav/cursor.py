"""The CalDAV cursor, in one of two modes. JSON, opaque to the daemon.

Sync mode (the server offers RFC 6578 sync-collection):

    {"v": 1, "cal": "<calendar URL>", "mode": "sync", "token": "<sync-token>",
     "uids": {"<href>": "<uid>"}}

Etag mode (no sync tokens, or `sync_tokens = false`):

    {"v": 1, "cal": "<calendar URL>", "mode": "etag", "ctag": "<getctag>" | null,
     "items": {"<href>": ["<etag>", "<uid or empty>"]}}

`uids` / the uid in `items` map hrefs to the UIDs the daemon was told about,
so a deleted href can be reported as a removed UID. A cursor for another
calendar URL or another version is stale: CursorExpired.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from connectors.errors import CursorExpired

VERSION = 1
Mode = Literal["sync", "etag"]


@dataclass
class Cursor:
    calendar: str
    mode: Mode
    token: str | None = None  # sync mode
    ctag: str | None = None  # etag mode
    uids: dict[str, str] = field(default_factory=dict)  # href -> uid ("" when not told)
    etags: dict[str, str | None] = field(default_factory=dict)  # href -> etag (etag mode)

    def encode(self) -> str:
        body: dict[str, object] = {"v": VERSION, "cal": self.calendar, "mode": self.mode}
        if self.mode == "sync":
            body["token"] = self.token
            body["uids"] = {h: u for h, u in sorted(self.uids.items()) if u}
        else:
            body["ctag"] = self.ctag
            body["items"] = {h: [e, self.uids.get(h, "")] for h, e in sorted(self.etags.items())}
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def decode(text: str, calendar: str) -> Cursor:
    try:
        raw = json.loads(text)
        version, cal, stored_mode = raw["v"], raw["cal"], raw["mode"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CursorExpired(f"calendar cursor unreadable: {type(exc).__name__}") from None
    if version != VERSION:
        raise CursorExpired(f"calendar cursor version {version!r} is not {VERSION}")
    if cal != calendar:
        raise CursorExpired(f"calendar cursor is for {cal}, the calendar is now {calendar}")
    if stored_mode not in ("sync", "etag"):
        raise CursorExpired(f"calendar cursor mode {stored_mode!r} is unknown")
    mode: Mode = stored_mode
    try:
        if mode == "sync":
            return Cursor(calendar, mode, token=str(raw["token"]),
                          uids={str(h): str(u) for h, u in raw["uids"].items()})  # fmt: skip
        items = raw["items"]
        return Cursor(
            calendar,
            mode,
            ctag=raw["ctag"],
            uids={str(h): str(v[1]) for h, v in items.items()},
            etags={str(h): (None if v[0] is None else str(v[0])) for h, v in items.items()},
        )
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        raise CursorExpired(f"calendar cursor unreadable: {type(exc).__name__}") from None


def mode_of(text: str) -> str | None:
    """The mode a stored cursor was written in (for tests and `explain`)."""
    try:
        return str(json.loads(text)["mode"])
    except (ValueError, KeyError, TypeError):
        return None
