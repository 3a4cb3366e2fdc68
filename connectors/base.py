"""The protocols every connector implements.

The daemon talks to mailboxes and calendars only through these. Connectors
report facts (message seen, flags changed, event moved), never decisions.
Connectors are synchronous on purpose: one code path is easier to trust.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import ClassVar, Literal, Protocol, runtime_checkable

from connectors.model import (
    CalendarChanges,
    CalendarEvent,
    Capabilities,
    ChangeBatch,
    DraftRef,
    DraftSpec,
    Folder,
)

DraftState = Literal["untouched", "edited", "gone"]
Scope = Literal["all", "inbound"]


@runtime_checkable
class MailSource(Protocol):
    """Reads a mailbox incrementally behind an opaque cursor.

    `fetch_changes(None, ...)` is the first scan: everything received since
    `since` in the watched folders. With a cursor it returns only what changed
    since; a quiet mailbox must cost at most one round trip per folder where the
    server allows it and fetch no message bytes.

    Each yielded batch carries the cursor that covers it and everything before
    it; the daemon stores both in one transaction. A stale cursor is handled
    inside the connector (rescan, reported in `rescanned_folders`) or raised as
    `CursorExpired`.

    `scope="inbound"` limits the work to the folders replies arrive in; the
    returned cursor still describes every folder (the others unchanged), which
    is what the re-check right before writing a draft uses.
    """

    kind: ClassVar[str]

    def open(self) -> None: ...

    def close(self) -> None: ...

    def capabilities(self) -> Capabilities: ...

    def folders(self) -> list[Folder]: ...

    def fetch_changes(
        self,
        cursor: str | None,
        *,
        since: datetime,
        header_fields: Sequence[str],
        scope: Scope = "all",
    ) -> Iterator[ChangeBatch]: ...

    def fetch_raw(self, ref: str, *, max_bytes: int) -> bytes | None:
        """The message's bytes, at most max_bytes (None if it is gone)."""
        ...


TAGS_WRITE = "tags:write"  # capability: the source can set and clear gw: tags itself


@runtime_checkable
class TagWriter(Protocol):
    """Sets or clears one gw: tag on one message (sources declaring TAGS_WRITE).

    Used for what must outlive the database: `ghostwatch stop` leaves `gw:stop`
    on the thread, so a rebuilt database still knows the thread is stopped.
    False when the message is gone (or its folder's UIDs changed).
    """

    def tag_message(self, ref: str, tag: str, *, on: bool) -> bool: ...


@runtime_checkable
class DraftSink(Protocol):
    """Creates and withdraws ghostwatch's own drafts, idempotently by key."""

    def find_draft(self, key: str) -> DraftRef | None: ...

    def create_draft(self, spec: DraftSpec) -> DraftRef: ...

    def draft_state(self, ref: DraftRef) -> DraftState: ...

    def withdraw_draft(self, ref: DraftRef) -> bool:
        """Delete the draft only if it is exactly as written; True if deleted."""
        ...


@runtime_checkable
class CalendarSource(Protocol):
    def fetch_changes(self, cursor: str | None, *, since: datetime) -> CalendarChanges: ...


@runtime_checkable
class CalendarSink(Protocol):
    def find_event(self, uid: str) -> CalendarEvent | None: ...

    def put_event(self, event: CalendarEvent) -> CalendarEvent: ...

    def delete_event(self, uid: str) -> bool: ...
