"""Normalized records that connectors hand to the daemon.

Frozen dataclasses with tz-aware datetimes and no library types, so the daemon
never sees an imapclient, Gmail or Graph object and connectors can be tested
without a database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox: lower-cased address plus the display name as decoded."""

    addr: str
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "addr", self.addr.strip().lower())


class FolderRole(enum.StrEnum):
    """What a folder is for, found by SPECIAL-USE or the provider's API."""

    INBOX = "inbox"
    SENT = "sent"
    DRAFTS = "drafts"
    JUNK = "junk"
    TRASH = "trash"
    ARCHIVE = "archive"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Folder:
    name: str  # the server's name, decoded (IMAP modified UTF-7 already undone)
    role: FolderRole = FolderRole.OTHER


@dataclass(frozen=True, slots=True)
class MailMessage:
    """Headers of one message as seen in one folder.

    `ref` is opaque to the daemon and unique within the account (IMAP packs
    folder, UIDVALIDITY and UID; Gmail and Graph use their message id). The same
    RFC 5322 message in two folders is two MailMessages with one message_id.

    `headers` holds the raw header block (only the fields the classifier asks
    for, see `MailSource.fetch_changes`), so the classifier can run without the
    body; `tags` are the gw:* tags already translated from the provider's native
    form (IMAP keyword, Gmail label, Outlook category, Maildir header).
    """

    ref: str
    folder: str
    folder_role: FolderRole
    message_id: str | None  # without angle brackets
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    sender: Address | None  # From
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None  # Date header, tz-aware; None when missing or unparsable
    received: datetime | None  # INTERNALDATE / receivedDateTime, tz-aware
    headers: bytes
    tags: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    provider_thread_id: str | None = None
    size: int | None = None
    problems: tuple[str, ...] = ()  # what normalization had to repair or skip, for explain
    bcc: tuple[Address, ...] = ()  # seen only on the sender's own copy (Sent)


@dataclass(frozen=True, slots=True)
class MessageGone:
    """A message left a folder (expunged, moved, deleted)."""

    ref: str
    folder: str


@dataclass(frozen=True, slots=True)
class TagsChanged:
    """Flags or gw:* tags of a known message changed."""

    ref: str
    folder: str
    tags: frozenset[str]
    flags: frozenset[str]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A message the connector could not normalize; recorded with the reason."""

    ref: str
    folder: str
    reason: str


Change = MailMessage | MessageGone | TagsChanged | Skipped


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """Changes plus the cursor that is safe to store once they are applied.

    The daemon commits `changes` and `cursor` in one transaction; a crash
    between batches therefore resumes after the last committed batch.
    `rescan` is True when the connector had to restart a folder from scratch
    (UIDVALIDITY changed, history expired): the daemon must then mark the
    folder's previously known refs that do not reappear as gone.
    """

    changes: tuple[Change, ...]
    cursor: str
    rescanned_folders: tuple[str, ...] = ()
    progress: tuple[int, int] | None = None  # (done, total) messages, when known


@dataclass(frozen=True, slots=True)
class DraftSpec:
    """A follow-up draft to create, provider-neutral.

    IMAP/Maildir build a MIME message from it; Gmail sets threadId; Graph calls
    createReply on `reply_to_ref`. `key` is the idempotency key
    (`<sequence-id>.<step>`): a sink must find an existing draft by it before
    creating a second one.
    """

    key: str
    message_id: str
    sender: Address
    to: tuple[Address, ...]
    subject: str
    body: str
    in_reply_to: str | None
    references: tuple[str, ...]
    reply_to_ref: str | None = None
    provider_thread_id: str | None = None
    date: datetime | None = None  # the Date header; the daemon's clock, which --now may set
    reply_to: Address | None = None  # a backup writes for an absent colleague: answers go to them
    cc: tuple[Address, ...] = ()  # the outreach's other recipients who were in Cc


@dataclass(frozen=True, slots=True)
class DraftRef:
    """Where a draft lives now: opaque ref plus what proves it is untouched."""

    key: str
    ref: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """A calendar entry, as read or to be written."""

    uid: str
    summary: str
    start: datetime
    end: datetime
    all_day: bool = False
    description: str = ""
    attendees: tuple[Address, ...] = ()
    organizer: Address | None = None
    status: str = ""  # CONFIRMED / TENTATIVE / CANCELLED
    busy_status: str = ""  # X-MICROSOFT-CDO-BUSYSTATUS, e.g. OOF
    transparent: bool = False
    categories: tuple[str, ...] = ()
    sequence: int = 0
    ghostwatch_key: str | None = None
    alarm_minutes: int | None = None
    etag: str | None = None
    href: str | None = None


@dataclass(frozen=True, slots=True)
class CalendarChanges:
    events: tuple[CalendarEvent, ...]
    removed_uids: tuple[str, ...]
    cursor: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a connector offers, checked before use and listed by `check`."""

    names: frozenset[str] = field(default_factory=frozenset)

    def __contains__(self, name: object) -> bool:
        return name in self.names


def date_only(value: datetime | date | None) -> date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else value
