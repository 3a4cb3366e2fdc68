"""The outbox: due follow-ups become drafts in the consultant's Drafts folder.

Delivery is at-least-once and every write is idempotent by key (intents.py):
the intent row is committed before the draft is written, the provider's ref
after. A retry, or the next cycle after a crash, first asks the Drafts folder
whether a draft with that key already exists. Right before each
write the inbound folders are synced again, so a reply that arrived a second
ago cancels the draft instead of racing it.

It only ever touches drafts it wrote, and withdraws one only while it is
exactly as written (same ref, same content hash).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from connectors.base import DraftSink
from connectors.errors import ConnectorError
from connectors.model import DraftRef
from daemon.act.draft_spec import Author, build_spec, draft_key, draft_message_id
from daemon.act.intents import Stored, commit_intent, held_by, resolve, write_once
from daemon.db.engine import Store
from daemon.db.tables import Draft, Message
from daemon.decide.replay import Decision, mask
from daemon.tracker.states import WriteDraft

log = logging.getLogger(__name__)

OPEN_DRAFT_STATES = ("intent", "written", "failed")


@dataclass(slots=True)
class OutboxReport:
    written: list[tuple[Decision, int, str]] = field(default_factory=list)  # decision, step, body
    cancelled: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    kept_edited: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deferred: int = 0  # due but held back by max_drafts_per_cycle


# ---- reconcile: what happened to the drafts we wrote ---------------------------------------


def _in_sink(sink_account: str | None) -> ColumnElement[bool]:
    return held_by(Draft.sink_account, sink_account)


def backup_sinks(store: Store, account_id: int) -> list[str]:
    """Accounts whose Drafts hold open drafts of this one (written while it was away)."""
    with store.reader() as s:
        query = select(Draft.sink_account).where(
            Draft.account_id == account_id,
            Draft.sink_account.is_not(None),
            Draft.state.in_(OPEN_DRAFT_STATES),
        )
        return sorted({name for name in s.scalars(query.distinct()) if name})


def reconcile(
    store: Store, account_id: int, sink: DraftSink, now: datetime, sink_account: str | None = None
) -> None:
    """Ask the Drafts folder about every draft still there as far as we know."""
    with store.reader() as s:
        query = select(Draft).where(
            Draft.account_id == account_id, Draft.state == "written", _in_sink(sink_account)
        )
        rows = list(s.scalars(query))
    for row in rows:
        ref = DraftRef(key=row.key, ref=row.ref or "", content_hash=row.content_hash or "")
        try:
            state = sink.draft_state(ref)
        except ConnectorError as exc:
            log.warning("could not check draft %s: %s", row.key, exc)
            continue
        with store.transaction() as s:
            fresh = s.get(Draft, row.key)
            if fresh is None or fresh.state != "written":
                continue
            if state == "gone":
                fresh.state = _gone_state(s, fresh)
                fresh.resolved_at = now
                log.info("draft %s left Drafts: %s", row.key, fresh.state)
            elif state == "edited" and not fresh.edited:
                fresh.edited = True


def _gone_state(s: Session, row: Draft) -> str:
    """Sent (a message of ours in the thread after the draft) or deleted unsent."""
    if row.thread_id is None or row.written_at is None:
        return "deleted"
    later = s.scalar(
        select(Message.id).where(
            Message.thread_id == row.thread_id,
            Message.direction == "out",
            Message.folder_role != "drafts",
            Message.sent_at >= row.written_at - timedelta(minutes=5),
        )
    )
    keyed = s.scalar(
        select(Message.id).where(Message.gw_key == row.key, Message.folder_role != "drafts")
    )
    return "sent" if later or keyed else "deleted"


# ---- withdraw: the sequence ended while a draft waits -------------------------------------


def withdraw_ended(
    store: Store,
    account_id: int,
    sink: DraftSink,
    decisions: Sequence[Decision],
    now: datetime,
    sink_account: str | None = None,
) -> OutboxReport:
    report = OutboxReport()
    ended = {d.sequence_id: d for d in decisions if not d.run.record.state.open}
    if not ended:
        return report
    for row in _open_drafts(store, account_id, list(ended), sink_account):
        if row.state != "written":
            _resolve(store, row.key, "cancelled", now)
            report.cancelled.append(row.key)
            continue
        why = ended[row.sequence_id].run.record.outcome_reason
        _withdraw_one(store, sink, row, why, now, report)
    return report


def _open_drafts(
    store: Store, account_id: int, sequence_ids: list[str], sink_account: str | None
) -> list[Draft]:
    with store.reader() as s:
        query = select(Draft).where(
            Draft.account_id == account_id,
            Draft.sequence_id.in_(sequence_ids),
            Draft.state.in_(OPEN_DRAFT_STATES),
            _in_sink(sink_account),
        )
        return list(s.scalars(query))


def _withdraw_one(
    store: Store, sink: DraftSink, row: Draft, why: str | None, now: datetime, report: OutboxReport
) -> None:
    """Remove the draft only while it is exactly as written; an edited one stays."""
    ref = DraftRef(key=row.key, ref=row.ref or "", content_hash=row.content_hash or "")
    try:
        removed = sink.withdraw_draft(ref)
        state = "withdrawn" if removed else sink.draft_state(ref)
    except ConnectorError as exc:
        log.warning("could not withdraw draft %s: %s", row.key, exc)
        return
    outcome = {"withdrawn": "withdrawn", "gone": "deleted"}.get(state, "kept_edited")
    _resolve(store, row.key, outcome, now)
    if outcome == "withdrawn":
        report.withdrawn.append(row.key)
        log.info("withdrew untouched draft %s: %s", row.key, why)
    elif outcome == "kept_edited":
        report.kept_edited.append(row.key)
        log.info("left draft %s alone: you edited it (%s)", row.key, why)


def _resolve(store: Store, key: str, state: str, now: datetime) -> None:
    resolve(store, Draft, key, state, now, also=_keep_edited)


def _keep_edited(row: Draft) -> None:
    row.edited = row.edited or row.state == "kept_edited"


# ---- write: due steps become drafts --------------------------------------------------------


Recheck = Callable[[Decision], Decision | None]


def write_due(
    store: Store,
    account_id: int,
    sink: DraftSink,
    author: Author,
    decisions: Sequence[Decision],
    now: datetime,
    *,
    limit: int,
    recheck: Recheck,
) -> OutboxReport:
    """Write the drafts that are due, oldest due first, at most `limit` new ones."""
    report = OutboxReport()
    for decision, intent in due_drafts(decisions):
        key = draft_key(decision.sequence_id, intent.step)
        if not _writable(store, key, now):
            continue
        if len(report.written) >= limit:
            report.deferred += 1
            continue
        _commit_intent(store, account_id, decision, intent, key, author, now)
        fresh = _rechecked(store, decision, intent, key, now, recheck, report)
        if fresh is not None:
            body = _write_one(store, sink, fresh, intent, key, author, now, report)
            if body is not None:
                report.written.append((fresh, intent.step, body))
    if report.deferred:
        log.info(
            "%d more follow-up(s) due; max_drafts_per_cycle=%d holds them for later",
            report.deferred,
            limit,
        )
    return report


def due_drafts(decisions: Sequence[Decision]) -> list[tuple[Decision, WriteDraft]]:
    """The drafts the current decisions ask for, oldest due first."""
    due = [
        (d, intent)
        for d in decisions
        for intent in d.run.due
        if d.current and isinstance(intent, WriteDraft)
    ]
    return sorted(due, key=lambda item: item[1].due)


def _writable(store: Store, key: str, now: datetime) -> bool:
    """Not written before (the tracker sees it next replay) nor resolved, nor backing off."""
    with store.reader() as s:
        row = s.get(Draft, key)
    if row is None:
        return True
    if row.state not in ("intent", "failed"):
        return False
    return not (row.next_attempt_at and row.next_attempt_at > now)


def _rechecked(
    store: Store,
    decision: Decision,
    intent: WriteDraft,
    key: str,
    now: datetime,
    recheck: Recheck,
    report: OutboxReport,
) -> Decision | None:
    """The decision as of right before the APPEND; None (and cancelled) if it no longer asks."""
    fresh = recheck(decision)
    if fresh is not None and any(
        isinstance(i, WriteDraft) and i.step == intent.step for i in fresh.run.due
    ):
        return fresh
    _resolve(store, key, "cancelled", now)
    report.cancelled.append(key)
    log.info("draft %s cancelled: the thread changed right before writing", key)
    return None


def _commit_intent(
    store: Store,
    account_id: int,
    d: Decision,
    intent: WriteDraft,
    key: str,
    author: Author,
    now: datetime,
) -> None:
    commit_intent(
        store,
        Draft,
        key,
        lambda: Draft(
            key=key,
            account_id=account_id,
            sequence_id=d.sequence_id,
            thread_id=d.thread_id,
            step=intent.step,
            state="intent",
            due_at=intent.due,
            message_id=draft_message_id(key, author.address),
            created_at=now,
            attempts=0,
            edited=False,
            sink_account=author.sink_account,
        ),
    )


def _write_one(
    store: Store,
    sink: DraftSink,
    d: Decision,
    intent: WriteDraft,
    key: str,
    author: Author,
    now: datetime,
    report: OutboxReport,
) -> str | None:
    bodies: list[str] = []

    def attempt() -> Stored:
        spec, body = build_spec(store, d, intent.step, key, author, now)
        bodies.append(body)
        existing = sink.find_draft(key)
        ref = existing if existing is not None else sink.create_draft(spec)
        columns = {"ref": ref.ref, "content_hash": ref.content_hash}
        return Stored(columns, found=existing is not None)

    stored = write_once(store, Draft, key, now, attempt, what="draft", log=log)
    if stored is None:
        report.failed.append(key)
        return None
    log.info(
        "wrote draft %s: step %d to %s (%s)",
        key,
        intent.step,
        mask(d.facts.contact),
        "found from an earlier try" if stored.found else "new",
    )
    return bodies[0]


def drafts_of(s: Session, sequence_ids: Sequence[str]) -> list[Draft]:
    if not sequence_ids:
        return []
    return list(s.scalars(select(Draft).where(Draft.sequence_id.in_(list(sequence_ids)))))
