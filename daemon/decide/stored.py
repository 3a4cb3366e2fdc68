"""The store as the replay sees it: message rows as views, which threads to decide,
and each decision written back as a `sequences` row (with the status line it shows).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.orm import Session

from daemon.db.tables import Account, Message, Thread
from daemon.db.tables import Sequence as SequenceRow
from daemon.decide.status_row import StatusRow
from daemon.decide.views import MsgView
from daemon.tracker.states import OPEN_STATES, State

if TYPE_CHECKING:
    from daemon.decide.replay import Decision


CLOCK_SKEW = timedelta(hours=1)


def _event_time(row: Message) -> datetime:
    """When the message happened: its Date, unless the sender's clock runs ahead of ours.

    A reply dated a few seconds or minutes after we read it would otherwise lie
    in the future and only count on a later cycle.
    """
    at = row.sent_at or row.received_at
    seen = row.seen_at
    if at is not None and seen is not None and seen < at <= seen + CLOCK_SKEW:
        return seen
    return at  # type: ignore[return-value]


def to_view(row: Message) -> MsgView:
    recipients = row.recipients or []
    return MsgView(
        ref=row.ref,
        folder_role=row.folder_role,
        message_id=row.message_id,
        at=_event_time(row),
        direction=row.direction,
        kind=row.kind,
        reason=row.reason,
        sender=row.sender_addr,
        sender_name=row.sender_name,
        to=tuple((a, n) for a, n, f in recipients if f == "to"),
        cc=tuple((a, n) for a, n, f in recipients if f == "cc"),
        bcc=tuple((a, n) for a, n, f in recipients if f == "bcc"),
        lang=row.lang,
        subject=row.subject,
        tags=frozenset(row.tags or ()),
        return_date=row.return_date,
        bounce_hard=row.bounce_hard,
        bounce_status=row.bounce_status,
        bounce_reason=row.bounce_reason,
        bounce_recipients=tuple(row.bounce_recipients or ()),
        gw_key=row.gw_key,
        gone=row.gone,
        thread_id=row.thread_id,
        seen_at=row.seen_at,
        problems=tuple(row.problems or ()),
    )


def account_id(s: Session, name: str) -> int | None:
    return s.scalar(select(Account.id).where(Account.name == name))


def threads_to_decide(s: Session, acct: int, *, everything: bool) -> list[int]:
    if everything:
        return list(
            s.scalars(select(Thread.id).where(Thread.account_id == acct).order_by(Thread.id))
        )
    open_threads = select(SequenceRow.thread_id).where(
        SequenceRow.account_id == acct, SequenceRow.state.in_(OPEN_STATES)
    )
    query = select(Thread.id).where(
        Thread.account_id == acct,
        or_(
            Thread.dirty.is_(True),
            Thread.id.in_(open_threads),
            Thread.id.in_(_returning(acct)),
        ),
    )
    return list(s.scalars(query.order_by(Thread.id)))


def _returning(acct: int) -> Select[tuple[int | None]]:
    """Ended threads whose contact wrote in a changed thread: a contact who returns in a
    new thread revives the old one (issue 8.2), which ingest did not mark changed."""
    changed = select(Thread.id).where(Thread.account_id == acct, Thread.dirty.is_(True))
    writers = select(Message.sender_addr).where(
        Message.account_id == acct, Message.direction == "in", Message.thread_id.in_(changed)
    )
    return select(SequenceRow.thread_id).where(
        SequenceRow.account_id == acct,
        SequenceRow.state.in_((State.GHOSTED, State.STOPPED)),
        SequenceRow.contact_addr.in_(writers),
    )


def store_decisions(
    s: Session,
    acct: int,
    thread_ids: Sequence[int],
    decisions: Sequence[Decision],
    now: datetime,
    fingerprint: str = "",
) -> None:
    keep: dict[int, set[str]] = defaultdict(set)
    for d in decisions:
        order = len(keep[d.thread_id])  # status merges stored rows back in this order
        keep[d.thread_id].add(d.sequence_id)
        rec = d.run.record
        tags = dict(d.playbook.tags)
        touches = rec.touches
        gaps = [round((b - a).total_seconds() / 3600, 2) for a, b in pairwise(touches)]
        silence = None
        if rec.ended_at is not None:
            silence = round((rec.ended_at - rec.started_at).total_seconds() / 3600, 2)
        values = {
            "account_id": acct,
            "thread_id": d.thread_id,
            "contact_addr": d.facts.contact,
            "contact_name": d.facts.contact_name,
            "aliases": sorted(d.facts.aliases),
            "subject": d.facts.subject,
            "state": rec.state.value,
            "steps_done": rec.steps_done,
            "step_reached": len(rec.touches) - 1,
            "started_at": rec.started_at,
            "last_touch_at": rec.last_touch_at,
            "next_step": d.next.step,
            "next_due": d.next.due,
            "next_action": d.next.action,
            "deferred_until": rec.deferred_until,
            "ended_at": rec.ended_at,
            "outcome_reason": rec.outcome_reason or None,
            "role": tags.get("role"),
            "stage": tags.get("stage"),
            "contact_kind": tags.get("kind"),
            "source": tags.get("source"),
            "red_flags": list(rec.red_flags),
            "touch_gaps_hours": gaps,
            "silence_hours": silence,
            "reply_latencies_hours": list(rec.reply_latencies_hours),
            "backfilled": rec.backfilled,
            "returned_from": rec.returned_from.value if rec.returned_from else None,
            "returned_from_at": rec.returned_from_at,
            "returned_after_hours": rec.returned_after_hours,
            "decided_at": now,
            "status_row": StatusRow.of(d).to_json(order=order, policy=fingerprint),
        }
        row = s.get(SequenceRow, d.sequence_id)
        d.newly_ended = not rec.state.open and (row is None or row.state in OPEN_STATES)
        if row is None:
            s.add(SequenceRow(id=d.sequence_id, **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)
    for tid in thread_ids:
        stale = select(SequenceRow.id).where(SequenceRow.thread_id == tid)
        ids = [sid for sid in s.scalars(stale) if sid not in keep.get(tid, set())]
        if ids:
            s.execute(delete(SequenceRow).where(SequenceRow.id.in_(ids)))
    if thread_ids:
        s.execute(update(Thread).where(Thread.id.in_(list(thread_ids))).values(dirty=False))
