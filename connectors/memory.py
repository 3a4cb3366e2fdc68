"""In-memory fake of a mail source, for unit tests of the daemon; its drafts and
its calendar are in memory_drafts.py and memory_calendar.py.

They keep the real connectors' promises (tested by the same contract suites):
cursors cover exactly what was yielded, a quiet mailbox yields an empty batch,
drafts are found by key and withdrawn only untouched. Helpers named like user
actions (`deliver`, `remove`, `set_tags`, `edit_draft`...) change the state.

Cursors are a logical clock: every change stamps the message with the next
tick, and a cursor says "everything up to tick N has been reported".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import ClassVar

from connectors.base import Scope
from connectors.errors import CursorExpired
from connectors.headers import ALWAYS_KEEP, parse_header_block
from connectors.messages import build_message, header_block
from connectors.model import (
    Capabilities,
    Change,
    ChangeBatch,
    Folder,
    FolderRole,
    MailMessage,
    MessageGone,
    Skipped,
    TagsChanged,
)
from connectors.tags import normalize_tag

DEFAULT_FOLDERS = (
    Folder("INBOX", FolderRole.INBOX),
    Folder("Sent", FolderRole.SENT),
    Folder("Drafts", FolderRole.DRAFTS),
    Folder("Trash", FolderRole.TRASH),
)


def raw_message(
    *,
    sender: str,
    to: str,
    subject: str,
    message_id: str | None,
    date: datetime | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    extra: Sequence[str] = (),
    body: str = "",
) -> bytes:
    """A simple RFC 5322 message for tests (ids without angle brackets)."""
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    if date is not None:
        lines.append(f"Date: {format_datetime(date)}")
    if message_id:
        lines.append(f"Message-ID: <{message_id}>")
    if in_reply_to:
        lines.append(f"In-Reply-To: <{in_reply_to}>")
    if references:
        lines.append("References: " + " ".join(f"<{r}>" for r in references))
    lines += [*extra, "Content-Type: text/plain; charset=utf-8"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


@dataclass(slots=True)
class StoredMessage:
    ref: str
    folder: Folder
    raw: bytes
    received: datetime
    flags: frozenset[str]
    tags: frozenset[str]
    created: int  # tick it was delivered
    version: int  # tick of its last change


@dataclass(slots=True)
class _Tombstone:
    ref: str
    folder: str
    created: int
    removed: int
    when: datetime  # its date, for the first-scan `since` rule


class MemoryMailbox:
    """MailSource fake. `deliver` returns the ref; `batch_size` forces multi-batch scans."""

    kind: ClassVar[str] = "memory"

    def __init__(
        self, folders: Iterable[Folder] = DEFAULT_FOLDERS, *, batch_size: int = 500
    ) -> None:
        self._folders = {f.name: f for f in folders}
        self.batch_size = batch_size
        self._messages: dict[str, StoredMessage] = {}
        self._tombstones: list[_Tombstone] = []
        self._clock = 0
        self._next_id = 0
        self.opened = False

    # -- user and server actions --

    def folder(self, name_or_role: str) -> Folder:
        """A folder by name, or by role value ("inbox", "sent", "drafts")."""
        if name_or_role in self._folders:
            return self._folders[name_or_role]
        for f in self._folders.values():
            if f.role.value == name_or_role:
                return f
        raise KeyError(f"no folder {name_or_role!r}")

    def add_folder(self, name: str, role: FolderRole = FolderRole.OTHER) -> Folder:
        self._folders[name] = Folder(name, role)
        return self._folders[name]

    def deliver(
        self,
        folder: str,
        raw: bytes,
        *,
        flags: Iterable[str] = (),
        tags: Iterable[str] = (),
        received: datetime | None = None,
    ) -> str:
        self._clock += 1
        self._next_id += 1
        target = self.folder(folder)
        ref = f"{target.name}/{self._next_id}"
        self._messages[ref] = StoredMessage(
            ref=ref,
            folder=target,
            raw=raw,
            received=received or datetime.now(UTC),
            flags=frozenset(flags),
            tags=_normalize_tags(tags),
            created=self._clock,
            version=self._clock,
        )
        return ref

    def ref_of(self, folder: str, message_id: str) -> str:
        name = self.folder(folder).name
        for m in self._messages.values():
            if m.folder.name == name and parse_header_block(m.raw).message_id == message_id:
                return m.ref
        raise KeyError(f"no message <{message_id}> in {name}")

    def remove(self, folder: str, message_id: str) -> None:
        self.remove_ref(self.ref_of(folder, message_id))

    def remove_ref(self, ref: str) -> None:
        stored = self._messages.pop(ref)
        self._clock += 1
        self._tombstones.append(
            _Tombstone(ref, stored.folder.name, stored.created, self._clock, _when(stored))
        )

    def set_tags(self, folder: str, message_id: str, tags: Iterable[str]) -> None:
        self._touch(self.ref_of(folder, message_id), tags=_normalize_tags(tags))

    def set_flags(self, folder: str, message_id: str, flags: Iterable[str]) -> None:
        self._touch(self.ref_of(folder, message_id), flags=frozenset(flags))

    def _touch(self, ref: str, **changes: frozenset[str]) -> None:
        self._clock += 1
        stored = self._messages[ref]
        self._messages[ref] = replace(stored, version=self._clock, **changes)

    # -- MailSource --

    def open(self) -> None:
        self.opened = True

    def close(self) -> None:
        self.opened = False

    def capabilities(self) -> Capabilities:
        return Capabilities(frozenset({"fetch_raw", "flags", "tags", "drafts"}))

    def tag_message(self, ref: str, tag: str, *, on: bool) -> bool:
        stored = self._messages.get(ref)
        if stored is None:
            return False
        tags = stored.tags | {tag} if on else stored.tags - {tag}
        self._touch(ref, tags=_normalize_tags(tags))
        return True

    def folders(self) -> list[Folder]:
        return list(self._folders.values())

    def fetch_raw(self, ref: str, *, max_bytes: int) -> bytes | None:
        stored = self._messages.get(ref)
        return None if stored is None else stored.raw[: max(0, max_bytes)]

    def fetch_changes(
        self,
        cursor: str | None,
        *,
        since: datetime,
        header_fields: Sequence[str],
        scope: Scope = "all",
    ) -> Iterator[ChangeBatch]:
        state = _decode(cursor) if cursor else _Cursor(0, 0, self._clock, since)
        active = ("in",) if scope == "inbound" else ("in", "out")
        wanted = frozenset(h.lower() for h in header_fields) | ALWAYS_KEEP
        events: list[tuple[int, Change | None]] = []
        for m in self._messages.values():
            side = _side(m.folder)
            if side in active and m.version > state.pos(side):
                events.append((m.version, self._change(m, state, wanted)))
        for t in self._tombstones:
            side = _side(self._folders.get(t.folder, Folder(t.folder)))
            if side in active and t.removed > state.pos(side):
                known = t.created <= state.pos(side) and not state.hidden(t.created, t.when)
                events.append((t.removed, MessageGone(t.ref, t.folder) if known else None))
        events.sort(key=lambda e: e[0])
        batch: list[Change] = []
        for tick, change in events:
            if change is not None:
                batch.append(change)
            state = state.advanced(active, tick)
            if len(batch) >= self.batch_size:
                yield ChangeBatch(tuple(batch), state.encode())
                batch = []
        yield ChangeBatch(tuple(batch), state.advanced(active, self._clock).encode())

    def _change(self, m: StoredMessage, state: _Cursor, wanted: frozenset[str]) -> Change | None:
        if state.hidden(m.created, _when(m)):
            return None  # before the lookback window when the first scan began
        if m.created > state.pos(_side(m.folder)):
            return _normalize(m, wanted)
        tags = m.tags | parse_header_block(m.raw).tags  # same sources as the MailMessage
        return TagsChanged(m.ref, m.folder.name, tags, m.flags)


@dataclass(frozen=True, slots=True)
class _Cursor:
    """Ticks reported for inbound and outbound folders, and the first scan's window."""

    inbound: int
    outbound: int
    start: int  # the clock when the first scan began
    since: datetime  # that scan's `since`: older messages from before `start` stay hidden

    def pos(self, side: str) -> int:
        return self.inbound if side == "in" else self.outbound

    def hidden(self, created: int, when: datetime) -> bool:
        return created <= self.start and when < self.since

    def advanced(self, sides: tuple[str, ...], tick: int) -> _Cursor:
        return replace(
            self,
            inbound=max(self.inbound, tick) if "in" in sides else self.inbound,
            outbound=max(self.outbound, tick) if "out" in sides else self.outbound,
        )

    def encode(self) -> str:
        return json.dumps(
            {
                "memory": 1,
                "in": self.inbound,
                "out": self.outbound,
                "start": self.start,
                "since": self.since.isoformat(),
            }
        )


def _normalize(m: StoredMessage, wanted: frozenset[str]) -> MailMessage | Skipped:
    return build_message(
        header_block(m.raw),
        ref=m.ref,
        folder=m.folder.name,
        role=m.folder.role,
        received=m.received,
        wanted=wanted,
        flags=m.flags,
        tags=m.tags,
        size=len(m.raw),
    )


def _when(m: StoredMessage) -> datetime:
    return parse_header_block(m.raw).date or m.received


def _normalize_tags(tags: Iterable[str]) -> frozenset[str]:
    return frozenset(tag for t in tags if (tag := normalize_tag(t)) is not None)


def _side(folder: Folder) -> str | None:
    """Which cursor position a folder's changes count against (None: not watched)."""
    if folder.role in (FolderRole.TRASH, FolderRole.JUNK):
        return None
    return "out" if folder.role in (FolderRole.SENT, FolderRole.DRAFTS) else "in"


def _decode(cursor: str) -> _Cursor:
    try:
        data = json.loads(cursor)
        return _Cursor(
            int(data["in"]),
            int(data["out"]),
            int(data["start"]),
            datetime.fromisoformat(data["since"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise CursorExpired("memory cursor unreadable") from exc
