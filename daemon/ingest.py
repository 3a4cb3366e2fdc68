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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from connectors.base import MailSource, Scope
from connectors.headers import ALWAYS_KEEP, split_header_block
from connectors.ical import ImipReply, parse_imip_reply
from connectors.model import ChangeBatch, MailMessage, MessageGone, Skipped, TagsChanged
from daemon import classify
from daemon.calendar_ingest import record_answers
from daemon.db.engine import Store
from daemon.db.tables import Account, Message, MessageRef, Skip, Thread
from daemon.db.tables import Sequence as SequenceRow
from daemon.identity import Identity
from daemon.threads import key_from_headers, link_threads

log = logging.getLogger(__name__)

BODY_LIMIT = 256 * 1024
BODIES_PER_CYCLE = 500


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
    rescanned: list[str] = field(default_factory=list)


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
) -> SyncReport:
    """Fetch every change since the stored cursor and store it, batch by batch."""
    account_id = ensure_account(store, account, address)
    report = SyncReport(account=account)
    with store.reader() as s:
        cursor = s.scalar(select(Account.cursor).where(Account.id == account_id))
    since = now - lookback
    for batch in source.fetch_changes(
        cursor, since=since, header_fields=header_fields(), scope=scope
    ):
        with store.transaction() as s:
            apply_batch(s, account_id, batch, me, now, report)
            s.execute(update(Account).where(Account.id == account_id).values(cursor=batch.cursor))
        report.batches += 1
        if progress:
            progress(batch)
    refine_bodies(store, account_id, source, report)
    with store.transaction() as s:
        s.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(last_sync_at=now, health="ok", last_error=None)
        )
    return report


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


def _classify_fields(msg: MailMessage, me: Identity) -> dict[str, object]:
    sender = msg.sender.addr if msg.sender else None
    if me.is_own(sender):
        return {
            "direction": "out",
            "kind": "own",
            "reason": "sent by the account",
            "needs_body": False,
        }
    verdict = classify.classify(msg.headers, has_body=False, received=msg.received or msg.date)
    fields = {"direction": "in", **_verdict_fields(verdict)}
    if verdict.kind == "human" and _looks_like_invite_answer(msg):
        fields["needs_body"] = True  # its text/calendar part says whether they accepted
    return fields


_INVITE_SUBJECT = re.compile(
    r"^\s*(accepted|tentative|declined|已接受|接受|暂定|已拒绝)\s*[:：]", re.I
)


def _looks_like_invite_answer(msg: MailMessage) -> bool:
    if _INVITE_SUBJECT.match(msg.subject):
        return True
    content_type = " ".join(split_header_block(msg.headers).get("content-type", [])).lower()
    return "text/calendar" in content_type


def invite_answers(raw: bytes) -> list[ImipReply]:
    """The iMIP REPLY answers carried by a mail's text/calendar parts."""
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
    threads = link_threads(s, account_id, fresh, now)
    rows: list[dict[str, object]] = []
    for msg in fresh:
        recipients = [[a.addr, a.name, "to"] for a in msg.to]
        recipients += [[a.addr, a.name, "cc"] for a in msg.cc]
        rows.append(
            {
                **_NO_VERDICT,
                "account_id": account_id,
                "ref": msg.ref,
                "folder": msg.folder,
                "folder_role": msg.folder_role.value,
                "message_id": msg.message_id,
                "in_reply_to": msg.in_reply_to,
                "references": list(msg.references),
                "provider_thread_id": msg.provider_thread_id,
                "subject": msg.subject,
                "sender_addr": msg.sender.addr if msg.sender else None,
                "sender_name": msg.sender.name if msg.sender else "",
                "recipients": recipients,
                "sent_at": msg.date or msg.received or now,
                "received_at": msg.received,
                "tags": sorted(msg.tags),
                "flags": sorted(msg.flags),
                "problems": list(msg.problems),
                "gw_key": key_from_headers(msg.headers),
                "thread_id": threads[msg.ref],
                "gone": False,
                "gone_at": None,
                "seen_at": now,
                **_classify_fields(msg, me),
            }
        )
    # Core insert with RETURNING: one statement per batch instead of 500 ORM objects.
    ids = s.execute(insert(Message).returning(Message.id, sort_by_parameter_order=True), rows)
    refs = [
        {"account_id": account_id, "message_pk": pk, "target": target}
        for pk, row in zip(ids.scalars(), rows, strict=True)
        for target in {*row["references"], *([row["in_reply_to"]] if row["in_reply_to"] else [])}  # type: ignore[misc]
    ]
    if refs:
        s.execute(insert(MessageRef), refs)
    return len(rows)


_NO_VERDICT: dict[str, object] = {
    "return_date": None,
    "bounce_status": None,
    "bounce_hard": None,
    "bounce_recipients": [],
}


def _folder_key(folder: str, message_id: str | None) -> str:
    return f"\0{folder}\0{message_id}" if message_id else "\0"


def _known_refs(s: Session, account_id: int, batch: Sequence[MailMessage]) -> dict[str, Message]:
    refs = [m.ref for m in batch]
    ids = [m.message_id for m in batch if m.message_id]
    known: dict[str, Message] = {}
    for chunk in _chunks(refs):
        for row in s.scalars(
            select(Message).where(Message.account_id == account_id, Message.ref.in_(chunk))
        ):
            known[row.ref] = row
    for chunk in _chunks(ids):
        rows = s.scalars(
            select(Message).where(
                Message.account_id == account_id,
                Message.message_id.in_(chunk),
                Message.gone.is_(True),
            )
        )
        for row in rows:
            known.setdefault(_folder_key(row.folder, row.message_id), row)
    return known


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def refine_bodies(store: Store, account_id: int, source: MailSource, report: SyncReport) -> None:
    """Classify suspected bounces and auto-replies from their body, then forget the body."""
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
                .limit(BODIES_PER_CYCLE)
            )
        )
    for pk, ref, received, sent in pending:
        raw = source.fetch_raw(ref, max_bytes=BODY_LIMIT)
        with store.transaction() as s:
            row = s.get(Message, pk)
            if row is None:
                continue
            if raw is None:
                row.needs_body = False
                row.problems = [*row.problems, "gone before its body could be read"]
                continue
            verdict = classify.classify(raw, has_body=True, received=received or sent)
            for key, value in _verdict_fields(verdict).items():
                setattr(row, key, value)
            answers = invite_answers(raw) if verdict.kind == "human" else []
            if answers:
                record_answers(s, account_id, ref, answers, sent or received)
            if any(a.partstat.upper() == "ACCEPTED" for a in answers):
                # The calendar answer speaks for it: a Meeting event, not a plain reply.
                row.kind = "invite_answer"
                row.reason = f"invitation answer: {', '.join(a.partstat for a in answers)}"
            row.needs_body = False
            _dirty(s, [row.thread_id])
        report.bodies += 1


def open_sequence_threads(s: Session, account_id: int) -> set[int]:
    rows = s.scalars(
        select(SequenceRow.thread_id).where(
            SequenceRow.account_id == account_id,
            SequenceRow.state.in_(("waiting", "draft_pending")),
        )
    )
    return {t for t in rows if t is not None}
