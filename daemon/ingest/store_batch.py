"""One batch of mail changes into the store: new messages (classified by their
headers and linked into threads), deletions, tag changes and skips.

Runs inside the caller's transaction, which also stores the batch's cursor. New
messages take their ids up front and go in with one executemany per table: a
100k-message first scan builds no ORM objects for them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from connectors.headers import UNTRACKABLE
from connectors.model import ChangeBatch, FolderRole, MailMessage, MessageGone, Skipped, TagsChanged
from daemon.config.identity import Identity
from daemon.db.bulk import BulkInsert, reserve_ids, select_in
from daemon.db.tables import Message, MessageRef, Skip, Thread
from daemon.decide.views import message_time
from daemon.ingest.mail_threads import key_from_headers, link_threads
from daemon.ingest.reused_ids import separate_reused_ids
from daemon.ingest.verdicts import VERDICT_COLUMNS, classify_fields

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SyncReport:
    account: str
    new: int = 0
    gone: int = 0
    retagged: int = 0
    skipped: int = 0
    bodies: int = 0
    batches: int = 0
    rescanned: list[str] = field(default_factory=list)  # folders the connector restarted
    cursor_rescans: int = 0  # whole-account rescans after CursorExpired
    folder_problems: list[str] = field(default_factory=list)  # parts skipped this cycle


def apply_batch(
    s: Session, account_id: int, batch: ChangeBatch, me: Identity, now: datetime, report: SyncReport
) -> None:
    if batch.rescanned_folders:
        report.rescanned.extend(batch.rescanned_folders)
        s.execute(
            update(Message)
            .where(Message.account_id == account_id, Message.folder.in_(batch.rescanned_folders))
            .values(gone=True)
        )
    new: list[MailMessage] = []
    for change in batch.changes:
        if isinstance(change, MailMessage):
            new.append(change)
        else:
            _apply_change(s, account_id, change, now, report)
    if new:
        report.new += _insert_messages(s, account_id, new, me, now)


def _apply_change(
    s: Session,
    account_id: int,
    change: MessageGone | TagsChanged | Skipped,
    now: datetime,
    report: SyncReport,
) -> None:
    if isinstance(change, MessageGone):
        _mark_gone(s, account_id, change, now)
        report.gone += 1
    elif isinstance(change, TagsChanged):
        _retag(s, account_id, change)
        report.retagged += 1
    elif isinstance(change, Skipped):
        s.add(
            Skip(
                account_id=account_id,
                ref=change.ref,
                folder=change.folder,
                reason=change.reason,
                at=now,
            )
        )
        log.info("skipped a message in %s: %s", change.folder, change.reason)
        report.skipped += 1


def mark_dirty(s: Session, thread_ids: Iterable[int | None]) -> None:
    """These threads' decisions are replayed in the next decide pass."""
    ids = {t for t in thread_ids if t is not None}
    if ids:
        s.execute(update(Thread).where(Thread.id.in_(ids)).values(dirty=True))


def _mark_gone(s: Session, account_id: int, change: MessageGone, now: datetime) -> None:
    row = s.scalar(
        select(Message).where(Message.account_id == account_id, Message.ref == change.ref)
    )
    if row is not None and not row.gone:
        row.gone = True
        row.gone_at = now
        mark_dirty(s, [row.thread_id])


def _retag(s: Session, account_id: int, change: TagsChanged) -> None:
    row = s.scalar(
        select(Message).where(Message.account_id == account_id, Message.ref == change.ref)
    )
    if row is not None:
        row.tags = sorted(change.tags)
        row.flags = sorted(change.flags)
        mark_dirty(s, [row.thread_id])


def _insert_messages(
    s: Session, account_id: int, batch: Sequence[MailMessage], me: Identity, now: datetime
) -> int:
    fresh = _refresh_known(s, account_id, batch)
    if not fresh:
        return 0
    fresh = separate_reused_ids(s, account_id, fresh, me.is_own)
    _warn_untrackable(fresh)
    keys = {msg.ref: key_from_headers(msg.headers) for msg in fresh}
    threads = link_threads(s, account_id, fresh, now, keys)
    ids = reserve_ids(s, MESSAGES, len(fresh))
    rows: list[tuple[object, ...]] = []
    refs: list[tuple[int, str]] = []
    for pk, msg in zip(ids, fresh, strict=True):
        rows.append(_message_row(pk, msg, me, now, keys[msg.ref], threads[msg.ref]))
        if msg.references or msg.in_reply_to:
            refs.extend(_ref_pairs(pk, msg))
    # Ids taken up front and one executemany per table: no RETURNING, no ORM objects.
    _MESSAGE_INSERT.execute(s, rows, (account_id, False, None, now))
    _REF_INSERT.execute(s, refs, (account_id,))
    return len(rows)


def _refresh_known(s: Session, account_id: int, batch: Sequence[MailMessage]) -> list[MailMessage]:
    """The batch's messages not stored yet; the stored ones are refreshed in place."""
    known = _known_refs(s, account_id, batch)
    fresh: list[MailMessage] = []
    for msg in batch:
        row = known.get(msg.ref) or known.get(_folder_key(msg.folder, msg.message_id))
        if row is None:
            fresh.append(msg)
            continue
        # Seen before (a retried batch, or a rescan after UIDVALIDITY changed): same row.
        row.ref, row.gone = msg.ref, False
        row.tags, row.flags = sorted(msg.tags), sorted(msg.flags)
    return fresh


def _warn_untrackable(fresh: Sequence[MailMessage]) -> None:
    for msg in fresh:
        for problem in msg.problems:
            if problem.startswith(UNTRACKABLE):
                # The reason names no address: those are exactly what could not be trusted.
                log.warning(
                    "a message in %s is stored but never followed up: %s",
                    msg.folder,
                    problem[len(UNTRACKABLE) :],
                )


def _message_row(
    pk: int, msg: MailMessage, me: Identity, now: datetime, key: str | None, thread: int
) -> tuple[object, ...]:
    """The values of one `messages` row, in _MESSAGE_INSERT's column order."""
    sender = msg.sender
    verdict = classify_fields(msg, me)
    get = verdict.get
    when, time_note = message_time(msg.date, msg.received, now)
    return (
        pk,
        msg.ref,
        msg.folder,
        _ROLE_TEXT[msg.folder_role],
        msg.message_id,
        msg.in_reply_to,
        list(msg.references),
        msg.provider_thread_id,
        msg.subject,
        sender.addr if sender else None,
        sender.name if sender else "",
        _recipients(msg),
        when,
        msg.received,
        verdict["direction"],
        verdict["kind"],
        verdict["reason"],
        verdict["needs_body"],
        get("return_date"),
        get("bounce_status"),
        get("bounce_hard"),
        get("bounce_reason"),
        get("bounce_recipients") or [],
        sorted(msg.tags) if msg.tags else [],
        sorted(msg.flags) if msg.flags else [],
        [*msg.problems, time_note] if time_note else list(msg.problems),
        key,
        thread,
    )


def _recipients(msg: MailMessage) -> list[list[str]]:
    recipients = [[a.addr, a.name, "to"] for a in msg.to]
    if msg.cc:
        recipients += [[a.addr, a.name, "cc"] for a in msg.cc]
    if msg.bcc:
        recipients += [[a.addr, a.name, "bcc"] for a in msg.bcc]
    return recipients


def _ref_pairs(pk: int, msg: MailMessage) -> list[tuple[int, str]]:
    """One `message_refs` row per message id this one answers or refers to."""
    in_reply_to = msg.in_reply_to
    targets = {*msg.references, *([in_reply_to] if in_reply_to else [])}
    return [(pk, target) for target in targets]


MESSAGES = cast(Table, Message.__table__)
_ROLE_TEXT = {role: role.value for role in FolderRole}  # Enum.value is a slow descriptor
_MESSAGE_INSERT = BulkInsert(
    MESSAGES,
    (
        "id",
        "ref",
        "folder",
        "folder_role",
        "message_id",
        "in_reply_to",
        "references",
        "provider_thread_id",
        "subject",
        "sender_addr",
        "sender_name",
        "recipients",
        "sent_at",
        "received_at",
        "direction",
        *VERDICT_COLUMNS,
        "tags",
        "flags",
        "problems",
        "gw_key",
        "thread_id",
    ),
    constants=("account_id", "gone", "gone_at", "seen_at"),
)
_REF_INSERT = BulkInsert(
    cast(Table, MessageRef.__table__),
    ("message_pk", "target"),
    constants=("account_id",),
)


def _folder_key(folder: str, message_id: str | None) -> str:
    return f"\0{folder}\0{message_id}" if message_id else "\0"


def _known_refs(s: Session, account_id: int, batch: Sequence[MailMessage]) -> dict[str, Message]:
    refs = [m.ref for m in batch]
    ids = [m.message_id for m in batch if m.message_id]
    # Plain lookups first: on a first sync nothing is known and no ORM object is built.
    by_ref = select_in(
        s, "SELECT id FROM messages WHERE account_id = ? AND ref IN (*)", (account_id,), refs
    )
    gone = select_in(
        s,
        "SELECT id FROM messages WHERE account_id = ? AND gone = ? AND message_id IN (*)",
        (account_id, True),
        ids,
    )
    known: dict[str, Message] = {}
    for row in _load_messages(s, [pk for (pk,) in by_ref]):
        known[row.ref] = row
    for row in _load_messages(s, [pk for (pk,) in gone]):
        known.setdefault(_folder_key(row.folder, row.message_id), row)
    return known


def _load_messages(s: Session, pks: Sequence[int]) -> list[Message]:
    """ORM rows for these ids, in the order given."""
    rows: dict[int, Message] = {}
    for i in range(0, len(pks), 500):
        chunk = pks[i : i + 500]
        rows.update((m.id, m) for m in s.scalars(select(Message).where(Message.id.in_(chunk))))
    return [rows[pk] for pk in pks if pk in rows]
