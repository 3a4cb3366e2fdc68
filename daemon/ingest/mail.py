"""Ingest: connector changes -> stored messages + threads + cursor, one commit per batch.

The cursor a batch carries is stored in the same transaction as the batch's
messages, so a crash or a dropped connection never loses or repeats a message.
Bodies are never stored: a suspected bounce or auto-reply is fetched once,
classified, and only the verdict kept.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from connectors.base import MailSource, Scope
from connectors.errors import ConnectorError, CursorExpired
from connectors.header_split import split_header_block
from connectors.headers import ALWAYS_KEEP, UNTRACKABLE
from connectors.model import (
    ChangeBatch,
    FolderRole,
    MailMessage,
    MessageGone,
    Skipped,
    TagsChanged,
)
from daemon import classify
from daemon.classify.message import MAX_RAW
from daemon.config.identity import Identity
from daemon.db.bulk import BulkInsert, reserve_ids, select_in
from daemon.db.engine import Store
from daemon.db.tables import Account, Message, MessageRef, Skip, Thread
from daemon.db.tables import Sequence as SequenceRow
from daemon.decide.timeline import message_time
from daemon.errors import AccountDegraded
from daemon.failures import describe, skips_part
from daemon.ingest.calendar import record_answers
from daemon.ingest.mail_threads import key_from_headers, link_threads
from daemon.ingest.reused_ids import separate_reused_ids

if TYPE_CHECKING:
    from connectors.ical import ImipReply

log = logging.getLogger(__name__)

BODY_LIMIT = 256 * 1024
# A big first scan commits a few batches at a time: each commit rewrites the
# index pages it touched into the WAL, and consecutive batches touch the same
# ones. The cursor is stored in the same transaction, so a crash still resumes
# exactly after the last commit.
GROUP_CHANGES = 2000


def header_fields() -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for name in (*sorted(ALWAYS_KEEP), *classify.HEADER_FIELDS):
        seen.setdefault(name.lower(), None)
    return tuple(seen)


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


def ensure_account(store: Store, name: str, address: str) -> int:
    with store.transaction() as s:
        acct = s.scalar(select(Account).where(Account.name == name))
        if acct is None:
            acct = Account(name=name, address=address, health="ok", rescans=0)
            s.add(acct)
            s.flush()
        return acct.id


def sync_mail(
    store: Store,
    account: str,
    address: str,
    source: MailSource,
    me: Identity,
    now: datetime,
    lookback: timedelta,
    progress: Callable[[ChangeBatch], None] | None = None,
    scope: Scope = "all",
    *,
    may_rescan: bool = True,
) -> SyncReport:
    """Fetch every change since the stored cursor and store it, batch by batch.

    An expired cursor is recovered by one rescan from scratch (counted in
    `Account.rescans`); refs are stable, so the rescan finds the stored rows
    again instead of adding threads. A second expiry in the same call (or any
    expiry when `may_rescan` is False, as for the re-check later in the same
    cycle) degrades the account with the reason instead of looping.
    """
    account_id = ensure_account(store, account, address)
    report = SyncReport(account=account)
    with store.reader() as s:
        cursor = s.scalar(select(Account.cursor).where(Account.id == account_id))
    fetch = _Fetch(store, account_id, source, me, now, now - lookback, scope, progress, report)
    try:
        fetch.run(cursor)
    except CursorExpired as exc:
        if cursor is None or not may_rescan:
            raise _degraded(store, account_id, f"the mail cursor cannot be used ({exc})") from exc
        log.warning("[%s] mail cursor expired (%s): rescanning from scratch", account, exc)
        _count_rescan(store, account_id)
        report.cursor_rescans += 1
        try:
            fetch.run(None)
        except CursorExpired as again:
            why = f"the mail cursor expired again during its rescan ({again})"
            raise _degraded(store, account_id, why) from again
    refine_bodies(store, account_id, source, report)
    with store.transaction() as s:
        s.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(last_sync_at=now, health="ok", last_error=_joined(report.folder_problems))
        )
    return report


@dataclass(slots=True)
class _Fetch:
    """One pass over `fetch_changes`, committing batches with their cursor."""

    store: Store
    account_id: int
    source: MailSource
    me: Identity
    now: datetime
    since: datetime
    scope: Scope
    progress: Callable[[ChangeBatch], None] | None
    report: SyncReport

    def run(self, cursor: str | None) -> None:
        fields = header_fields()
        report = self.report
        with ExitStack() as group:
            s: Session | None = None
            grouped = 0
            try:
                for batch in self.source.fetch_changes(
                    cursor, since=self.since, header_fields=fields, scope=self.scope
                ):
                    if s is None:
                        s = group.enter_context(self.store.transaction())
                    apply_batch(s, self.account_id, batch, self.me, self.now, report)
                    s.execute(
                        update(Account)
                        .where(Account.id == self.account_id)
                        .values(cursor=batch.cursor)
                    )
                    report.batches += 1
                    grouped += len(batch.changes)
                    if grouped >= GROUP_CHANGES:
                        group.close()  # commit: these batches and the cursor that covers them
                        s, grouped = None, 0
                    if self.progress:
                        self.progress(batch)
            except ConnectorError as exc:
                if isinstance(exc, CursorExpired) or not skips_part(exc):
                    raise  # the rescan above, or the account's cycle fails
                # What was fetched before it stays: the batches carry their own cursor.
                log.warning("[%s] %s", report.account, describe(exc))
                report.folder_problems.append(describe(exc))


def _count_rescan(store: Store, account_id: int) -> None:
    """One more rescan; the cursor is dropped with it, so a crash during the rescan
    resumes the rescan instead of counting (and meeting) the same expiry again."""
    with store.transaction() as s:
        s.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(cursor=None, rescans=Account.rescans + 1)
        )


def _degraded(store: Store, account_id: int, why: str) -> AccountDegraded:
    with store.transaction() as s:
        s.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(health="degraded", last_error=why)
        )
    return AccountDegraded(why)


def _joined(problems: Sequence[str]) -> str | None:
    return "; ".join(problems)[:500] if problems else None


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
        elif isinstance(change, MessageGone):
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
    if new:
        report.new += _insert_messages(s, account_id, new, me, now)


def _dirty(s: Session, thread_ids: Iterable[int | None]) -> None:
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
        _dirty(s, [row.thread_id])


def _retag(s: Session, account_id: int, change: TagsChanged) -> None:
    row = s.scalar(
        select(Message).where(Message.account_id == account_id, Message.ref == change.ref)
    )
    if row is not None:
        row.tags = sorted(change.tags)
        row.flags = sorted(change.flags)
        _dirty(s, [row.thread_id])


def _classify_fields(msg: MailMessage, me: Identity) -> Mapping[str, object]:
    sender = msg.sender.addr if msg.sender else None
    if me.is_own(sender):
        return _OWN_FIELDS
    # One header split per message, shared by the classifier and the invite check.
    view = classify.header_view(msg.headers)
    verdict = classify.classify(view, has_body=False, received=msg.received or msg.date)
    fields = _verdict_fields(verdict)
    fields["direction"] = "in"
    # The classifier's view stops at MAX_RAW; the invite check always read every header.
    # The view holds Content-Type (a HEADER_PASS_FIELDS name), all the check reads.
    whole = view.fields if len(msg.headers) <= MAX_RAW else split_header_block(msg.headers)
    if verdict.kind == "human" and _looks_like_invite_answer(msg, whole):
        fields["needs_body"] = True  # its text/calendar part says whether they accepted
    return fields


# Shared by every message the account sent (a third of a mailbox): read-only.
_OWN_FIELDS: Mapping[str, object] = MappingProxyType(
    {
        "direction": "out",
        "kind": "own",
        "reason": "sent by the account",
        "needs_body": False,
    }
)


_INVITE_SUBJECT = re.compile(
    r"^\s*(accepted|tentative|declined|已接受|接受|暂定|已拒绝)\s*[:：]", re.I
)


def _looks_like_invite_answer(msg: MailMessage, fields: dict[str, list[str]]) -> bool:
    if _INVITE_SUBJECT.match(msg.subject):
        return True
    content_type = " ".join(fields.get("content-type", [])).lower()
    return "text/calendar" in content_type


def invite_answers(raw: bytes) -> list[ImipReply]:
    """The iMIP REPLY answers carried by a mail's text/calendar parts."""
    # Imported here: icalendar is only needed for the rare invitation answer.
    from connectors.ical import parse_imip_reply

    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except (ValueError, TypeError, IndexError):
        return []
    answers: list[ImipReply] = []
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                answers.extend(parse_imip_reply(payload))
    return answers


def _verdict_fields(verdict: classify.Classification) -> dict[str, object]:
    bounce = verdict.bounce
    return {
        "kind": verdict.kind,
        "reason": verdict.reason,
        "needs_body": verdict.needs_body,
        "return_date": verdict.return_date,
        "bounce_status": bounce.status if bounce else None,
        "bounce_hard": bounce.hard if bounce else None,
        "bounce_reason": bounce.reason if bounce else None,
        "bounce_recipients": list(bounce.recipients) if bounce else [],
    }


def _insert_messages(
    s: Session, account_id: int, batch: Sequence[MailMessage], me: Identity, now: datetime
) -> int:
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
    if not fresh:
        return 0
    fresh = separate_reused_ids(s, account_id, fresh, me.is_own)
    for msg in fresh:
        for problem in msg.problems:
            if problem.startswith(UNTRACKABLE):
                # The reason names no address: those are exactly what could not be trusted.
                log.warning(
                    "a message in %s is stored but never followed up: %s",
                    msg.folder,
                    problem[len(UNTRACKABLE) :],
                )
    keys = {msg.ref: key_from_headers(msg.headers) for msg in fresh}
    threads = link_threads(s, account_id, fresh, now, keys)
    ids = reserve_ids(s, _MESSAGES, len(fresh))
    rows: list[tuple[object, ...]] = []
    refs: list[tuple[int, str]] = []
    for pk, msg in zip(ids, fresh, strict=True):
        sender = msg.sender
        recipients = [[a.addr, a.name, "to"] for a in msg.to]
        if msg.cc:
            recipients += [[a.addr, a.name, "cc"] for a in msg.cc]
        if msg.bcc:
            recipients += [[a.addr, a.name, "bcc"] for a in msg.bcc]
        verdict = _classify_fields(msg, me)
        get = verdict.get
        when, time_note = message_time(msg.date, msg.received, now)
        references, in_reply_to = msg.references, msg.in_reply_to
        rows.append(
            (
                pk,
                msg.ref,
                msg.folder,
                _ROLE_TEXT[msg.folder_role],
                msg.message_id,
                in_reply_to,
                list(references),
                msg.provider_thread_id,
                msg.subject,
                sender.addr if sender else None,
                sender.name if sender else "",
                recipients,
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
                keys[msg.ref],
                threads[msg.ref],
            )
        )
        if references or in_reply_to:
            targets = {*references, *([in_reply_to] if in_reply_to else [])}
            refs.extend([(pk, target) for target in targets])
    # Ids taken up front and one executemany per table: no RETURNING, no ORM objects.
    _MESSAGE_INSERT.execute(s, rows, (account_id, False, None, now))
    _REF_INSERT.execute(s, refs, (account_id,))
    return len(rows)


_MESSAGES = cast(Table, Message.__table__)
_ROLE_TEXT = {role: role.value for role in FolderRole}  # Enum.value is a slow descriptor
_MESSAGE_INSERT = BulkInsert(
    _MESSAGES,
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
        "kind",
        "reason",
        "needs_body",
        "return_date",
        "bounce_status",
        "bounce_hard",
        "bounce_reason",
        "bounce_recipients",
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


def refine_bodies(store: Store, account_id: int, source: MailSource, report: SyncReport) -> None:
    """Classify suspected bounces and auto-replies from their body, then forget the body.

    Every waiting message, in this sync: a verdict left for a later cycle would
    let `status` and `once` decide on a header guess meanwhile (issue 11).
    Bodies are fetched REFINE_COMMIT at a time, with one command where the
    connector can (fetch_raw_many), and each group is committed on its own.
    """
    with store.reader() as s:
        pending = list(
            s.execute(
                select(Message.id, Message.ref, Message.received_at, Message.sent_at)
                .where(
                    Message.account_id == account_id,
                    Message.needs_body.is_(True),
                    Message.gone.is_(False),
                )
                .order_by(Message.folder, Message.id)  # one EXAMINE per folder run
            )
        )
    for start in range(0, len(pending), REFINE_COMMIT):
        group = pending[start : start + REFINE_COMMIT]
        raws = _fetch_bodies(source, [ref for _, ref, _, _ in group])
        done: list[_Refined] = []
        for pk, ref, received, sent in group:
            raw = raws.get(ref)
            if raw is None:
                done.append(_Refined(pk, ref, None, [], sent or received))
            else:
                verdict = classify.classify(raw, has_body=True, received=received or sent)
                answers = invite_answers(raw) if verdict.kind == "human" else []
                done.append(_Refined(pk, ref, verdict, answers, sent or received))
        report.bodies += _store_refined(store, account_id, done)


def _fetch_bodies(source: MailSource, refs: list[str]) -> Mapping[str, bytes | None]:
    many = getattr(source, "fetch_raw_many", None)  # IMAP: one round trip for the group
    if many is not None:
        return cast(Mapping[str, bytes | None], many(refs, max_bytes=BODY_LIMIT))
    return {ref: source.fetch_raw(ref, max_bytes=BODY_LIMIT) for ref in refs}


REFINE_COMMIT = 50  # bodies per FETCH and per transaction; a crash repeats one group


@dataclass(slots=True)
class _Refined:
    pk: int
    ref: str
    verdict: classify.Classification | None  # None: the message was gone
    answers: list[ImipReply]
    when: datetime | None


def _store_refined(store: Store, account_id: int, results: Sequence[_Refined]) -> int:
    """Write a group of body verdicts in one transaction; returns how many were classified."""
    table = _MESSAGES
    stored = 0
    with store.transaction() as s:
        found = {
            pk: (thread_id, problems)
            for pk, thread_id, problems in s.execute(
                select(Message.id, Message.thread_id, Message.problems).where(
                    Message.id.in_([r.pk for r in results])
                )
            )
        }
        threads: list[int | None] = []
        verdicts: list[dict[str, object]] = []
        for item in results:
            if item.pk not in found:
                continue  # deleted meanwhile (account removed): nothing to refine
            thread_id, problems = found[item.pk]
            if item.verdict is None:
                problems = [*problems, "gone before its body could be read"]
                s.execute(
                    update(table)
                    .where(table.c.id == item.pk)
                    .values(needs_body=False, problems=problems)
                )
                continue
            values = _verdict_fields(item.verdict)
            if item.answers:
                record_answers(s, account_id, item.ref, item.answers, item.when)  # type: ignore[arg-type]
            if any(a.partstat.upper() == "ACCEPTED" for a in item.answers):
                # The calendar answer speaks for it: a Meeting event, not a plain reply.
                values["kind"] = "invite_answer"
                parts = ", ".join(a.partstat for a in item.answers)
                values["reason"] = f"invitation answer: {parts}"
            values["needs_body"] = False
            verdicts.append({"pk": item.pk, **{f"v_{k}": v for k, v in values.items()}})
            threads.append(thread_id)
            stored += 1
        if verdicts:
            # One Core executemany: no statement built, no identity-map sync per row.
            s.execute(_SET_VERDICT, verdicts)
        _dirty(s, threads)
    return stored


_VERDICT_COLUMNS = (
    "kind",
    "reason",
    "needs_body",
    "return_date",
    "bounce_status",
    "bounce_hard",
    "bounce_reason",
    "bounce_recipients",
)
_SET_VERDICT = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("pk"))
    .values({name: bindparam(f"v_{name}") for name in _VERDICT_COLUMNS})
)


def open_sequence_threads(s: Session, account_id: int) -> set[int]:
    rows = s.scalars(
        select(SequenceRow.thread_id).where(
            SequenceRow.account_id == account_id,
            SequenceRow.state.in_(("waiting", "draft_pending")),
        )
    )
    return {t for t in rows if t is not None}
