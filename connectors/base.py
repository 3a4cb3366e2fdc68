"""The connector contract: everything a connector author needs, in one file.

Connectors are the edges of ghostwatch that read mailboxes and calendars and
write ghostwatch's drafts and reminders. They report facts (message seen,
flags changed, event moved), never decisions, and they never send mail.
They are synchronous on purpose: one code path is easier to trust.
`connectors/` never imports `daemon/`.

Writing a mail connector
------------------------
1. A package `connectors/<kind>/` (or one module) that sets `CONNECTOR`, a
   `MailConnector` (below): its `Settings` class, its openers and its declared
   capabilities. Add one line to `connectors.MAIL_CONNECTORS` (kind -> module
   path); modules are imported lazily, so nobody installs what they don't use.
2. `Settings`: a frozen dataclass of simple types. The config loader fills it
   from `[accounts.mail]` (secrets come as `connectors.secrets.SecretSource`)
   and reports unknown keys; raise ValueError in `__post_init__` for a bad
   value. Shared shapes (loopback check, time zone) are in `connectors.settings`.
3. `open_mailbox(settings) -> MailSource` (below). It must not touch the
   network; `open()` does, and raises the typed errors of `connectors.errors`.
4. Capabilities are declared, never probed: `Capability.DRAFTS` with
   `open_drafts(settings) -> DraftSink`; `Capability.PUSH` when the source has
   `wait_for_changes` (`PushSource`); `Capability.READ_ONLY` when ghostwatch
   may write nothing there (no DraftSink: due drafts are only previewed,
   as `once --dry-run` shows them).
   `folder_roles` names the roles `check` must find and the hint naming the
   setting that fixes a missing one (`{FolderRole.SENT: "set sent_folder"}`);
   a source without folders declares none.

What a mail source reports
--------------------------
- `MailMessage`s built by `connectors.messages.build_message` from the header
  block: parsed addresses, decoded subject, ids without angle brackets,
  tz-aware dates, only the header fields asked for (`header_fields` plus
  `connectors.headers.ALWAYS_KEEP`), never the body.
- `ref`: opaque, unique in the account and stable across scans of the same
  message (a rescan must find the same refs again, or the daemon sees new
  messages). The same message in two folders has two refs.
- `folder_role`: which folder is the Inbox, Sent, Drafts, Junk, Trash
  (SPECIAL-USE, well-known folders, labels, or the settings). Direction is not
  reported: the daemon decides it from the sender address.
- `tags`: gw:* tags normalised with `connectors.tags`; `flags`: IMAP names
  (`\\Seen`, `\\Answered`, `\\Draft`...).
- A message that cannot be read is a `Skipped` with the reason, never an
  exception: one bad message must not cost the batch.
- `MessageGone` when a reported message leaves; `TagsChanged` when its flags or
  tags change.

Cursors and errors
------------------
The cursor is an opaque string the daemon stores with each batch. A cursor
the source cannot use (damaged, another version, history expired) raises
`CursorExpired`: the daemon then rescans once from scratch (`cursor=None`),
counts it, and degrades the account if the rescan expires too. A folder that
restarted on its own (UIDVALIDITY changed) is named in `rescanned_folders`.
Each error's `severity` (`connectors.errors.Severity`) says what it costs:
ITEM (that draft or event write is skipped and retried; a message is a
`Skipped` instead), FOLDER (that folder waits for the next cycle; raise it
after yielding the other folders' batches: what was yielded is kept),
ACCOUNT (the account's cycle fails and is retried with backoff), FATAL (a
setting is unusable). Error texts never hold passwords, tokens or bodies.

Calendars follow the same pattern with `CalendarConnector`,
`open_calendar(settings)` and `connectors.CALENDAR_CONNECTORS`.

Test a connector with the contract suites in tests/contract/ (mail source,
draft sink, calendar); tests/connectors/mbox_source.py is a complete read-only
example.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from connectors.model import (
    CalendarChanges,
    CalendarEvent,
    Capabilities,
    ChangeBatch,
    DraftRef,
    DraftSpec,
    Folder,
    FolderRole,
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


@runtime_checkable
class TagWriter(Protocol):
    """Sets or clears one gw: tag on one message (sources declaring Capability.TAGS_WRITE).

    Used for what must outlive the database: `ghostwatch stop` leaves `gw:stop`
    on the thread, so a rebuilt database still knows the thread is stopped.
    False when the message is gone (or its folder's UIDs changed).
    """

    def tag_message(self, ref: str, tag: str, *, on: bool) -> bool: ...


@runtime_checkable
class PushSource(Protocol):
    """A MailSource that can wait for news (declared with `Capability.PUSH`).

    The daemon calls it on a MailSource of its own that it never `open()`s;
    `close()` from another thread must end a wait.
    """

    def wait_for_changes(self, timeout: float) -> bool:
        """True when the mailbox (probably) changed, False after `timeout` seconds."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class DraftSink(Protocol):
    """Creates and withdraws ghostwatch's own drafts, idempotently by key.

    `find_draft(key)` must find a draft written by an earlier, crashed attempt
    (the key travels in the X-Ghostwatch-Key header): the daemon asks before
    every create, and a second draft for one key is the worst bug there is.
    """

    def open(self) -> None: ...

    def close(self) -> None: ...

    def find_draft(self, key: str) -> DraftRef | None: ...

    def create_draft(self, spec: DraftSpec) -> DraftRef: ...

    def draft_state(self, ref: DraftRef) -> DraftState: ...

    def withdraw_draft(self, ref: DraftRef) -> bool:
        """Delete the draft only if it is exactly as written; True if deleted."""
        ...


@runtime_checkable
class CalendarSource(Protocol):
    """Reads the calendar: events ending after `since` on the first read, then
    what changed; a stale cursor raises CursorExpired (the daemon rereads)."""

    def open(self) -> None: ...

    def close(self) -> None: ...

    def capabilities(self) -> Capabilities: ...

    def fetch_changes(self, cursor: str | None, *, since: datetime) -> CalendarChanges: ...


@runtime_checkable
class CalendarSink(Protocol):
    def find_event(self, uid: str) -> CalendarEvent | None: ...

    def put_event(self, event: CalendarEvent) -> CalendarEvent: ...

    def delete_event(self, uid: str) -> bool: ...


class Capability(enum.StrEnum):
    """The optional parts of a connector, declared in its registry entry."""

    DRAFTS = "drafts"  # open_drafts gives a DraftSink for the account's Drafts
    PUSH = "push"  # the MailSource is a PushSource (IMAP IDLE, Gmail watch, Graph webhooks)
    READ_ONLY = "read-only"  # ghostwatch writes nothing there: drafts are only previewed
    # The MailSource is a TagWriter: gw:stop and gw:skip survive a lost database in the mailbox.
    TAGS_WRITE = "tags-write"


@dataclass(frozen=True, slots=True)
class MailConnector:
    """One mail connector's registry entry: `CONNECTOR` in its package `__init__`."""

    settings: type  # the frozen Settings dataclass the config loader fills
    open_mailbox: Callable[[Any], MailSource]
    open_drafts: Callable[[Any], DraftSink] | None = None
    capabilities: frozenset[Capability] = frozenset()
    # Roles `check` must find among `folders()`, each with the hint that fixes it.
    folder_roles: Mapping[FolderRole, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        drafts = Capability.DRAFTS in self.capabilities
        if drafts != (self.open_drafts is not None):
            raise TypeError("Capability.DRAFTS and open_drafts go together")
        if drafts and Capability.READ_ONLY in self.capabilities:
            raise TypeError("a read-only connector cannot offer drafts")

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities


@dataclass(frozen=True, slots=True)
class CalendarConnector:
    """One calendar connector's registry entry: `CONNECTOR` in its package `__init__`."""

    settings: type
    open_calendar: Callable[[Any], CalendarSource]
