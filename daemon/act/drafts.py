"""The outbox: due follow-ups become drafts in the consultant's Drafts folder.

Delivery is at-least-once and every write is idempotent by key (nylas'
ActionLog rule): the intent row is committed before the draft is written, the
provider's ref after. A retry, or the next cycle after a crash, first asks the
Drafts folder whether a draft with that key already exists. Right before each
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
from connectors.compose import reply_subject
from connectors.errors import ConnectorError, Permanent, Transient
from connectors.model import Address, DraftRef, DraftSpec
from daemon.act.render import KINDS, DraftVars, render_step
from daemon.backoff import mark_failed
from daemon.db.engine import Store
from daemon.db.tables import Draft, Message
from daemon.decide.replay import Decision, mask
from daemon.tracker.states import WriteDraft

log = logging.getLogger(__name__)

OPEN_DRAFT_STATES = ("intent", "written", "failed")


@dataclass(frozen=True, slots=True)
class Author:
    """Who the drafts are from, and how they are written."""

    address: str
    display_name: str
    locale: str
    templates_dir: str | None = None
    # Set when a backup writes while the owner is away: (owner's name, owner's address).
    on_behalf_of: tuple[str, str] | None = None
    sink_account: str | None = None  # whose Drafts folder holds the draft (None: the owner's)


@dataclass(slots=True)
class OutboxReport:
    written: list[tuple[Decision, int, str]] = field(default_factory=list)  # decision, step, body
    cancelled: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    kept_edited: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deferred: int = 0  # due but held back by max_drafts_per_cycle


def draft_key(sequence_id: str, step: int) -> str:
    return f"{sequence_id}.{step}"


def draft_message_id(key: str, address: str) -> str:
    domain = address.rpartition("@")[2] or "ghostwatch.invalid"
    return f"ghostwatch.{key}@{domain}"


# ---- reconcile: what happened to the drafts we wrote ---------------------------------------


def _in_sink(sink_account: str | None) -> ColumnElement[bool]:
    if sink_account is None:
        return Draft.sink_account.is_(None)
    return Draft.sink_account == sink_account


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
    with store.reader() as s:
        rows = list(
            s.scalars(
                select(Draft).where(
                    Draft.account_id == account_id,
                    Draft.sequence_id.in_(list(ended)),
                    Draft.state.in_(OPEN_DRAFT_STATES),
                    _in_sink(sink_account),
                )
            )
        )
    for row in rows:
        if row.state != "written":
            _resolve(store, row.key, "cancelled", now)
            report.cancelled.append(row.key)
            continue
        ref = DraftRef(key=row.key, ref=row.ref or "", content_hash=row.content_hash or "")
        try:
            removed = sink.withdraw_draft(ref)
            state = "withdrawn" if removed else sink.draft_state(ref)
        except ConnectorError as exc:
            log.warning("could not withdraw draft %s: %s", row.key, exc)
            continue
        outcome = {"withdrawn": "withdrawn", "gone": "deleted"}.get(state, "kept_edited")
        _resolve(store, row.key, outcome, now)
        why = ended[row.sequence_id].run.record.outcome_reason
        if outcome == "withdrawn":
            report.withdrawn.append(row.key)
            log.info("withdrew untouched draft %s: %s", row.key, why)
        elif outcome == "kept_edited":
            report.kept_edited.append(row.key)
            log.info("left draft %s alone: you edited it (%s)", row.key, why)
    return report


def _resolve(store: Store, key: str, state: str, now: datetime) -> None:
    with store.transaction() as s:
        row = s.get(Draft, key)
        if row is not None:
            row.state = state
            row.resolved_at = now
            row.edited = row.edited or state == "kept_edited"


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
    due: list[tuple[datetime, Decision, WriteDraft]] = []
    for d in decisions:
        for intent in d.run.due:
            if d.current and isinstance(intent, WriteDraft):
                due.append((intent.due, d, intent))
    due.sort(key=lambda item: item[0])
    written = 0
    for _, decision, intent in due:
        key = draft_key(decision.sequence_id, intent.step)
        with store.reader() as s:
            row = s.get(Draft, key)
        if row is not None and row.state not in ("intent", "failed"):
            continue  # written before (the tracker sees it next replay), or resolved
        if row is not None and row.next_attempt_at and row.next_attempt_at > now:
            continue
        if written >= limit:
            report.deferred += 1
            continue
        _commit_intent(store, account_id, decision, intent, key, author, now)
        fresh = recheck(decision)
        if fresh is None or not any(
            isinstance(i, WriteDraft) and i.step == intent.step for i in fresh.run.due
        ):
            _resolve(store, key, "cancelled", now)
            report.cancelled.append(key)
            log.info("draft %s cancelled: the thread changed right before writing", key)
            continue
        body = _write_one(store, sink, fresh, intent, key, author, now, report)
        if body is not None:
            written += 1
            report.written.append((fresh, intent.step, body))
    if report.deferred:
        log.info(
            "%d more follow-up(s) due; max_drafts_per_cycle=%d holds them for later",
            report.deferred,
            limit,
        )
    return report


def _commit_intent(
    store: Store,
    account_id: int,
    d: Decision,
    intent: WriteDraft,
    key: str,
    author: Author,
    now: datetime,
) -> None:
    with store.transaction() as s:
        if s.get(Draft, key) is None:
            s.add(
                Draft(
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
                )
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
    try:
        spec, body = build_spec(store, d, intent.step, key, author, now)
        existing = sink.find_draft(key)
        ref = existing if existing is not None else sink.create_draft(spec)
    except (Transient, Permanent, ConnectorError) as exc:
        _failed(store, key, str(exc), now)
        report.failed.append(key)
        log.warning("draft %s not written: %s (will retry)", key, exc)
        return None
    with store.transaction() as s:
        row = s.get(Draft, key)
        if row is not None:
            row.state = "written"
            row.ref = ref.ref
            row.content_hash = ref.content_hash
            row.written_at = now
            row.attempts += 1
            row.last_error = None
    log.info(
        "wrote draft %s: step %d to %s (%s)",
        key,
        intent.step,
        mask(d.facts.contact),
        "found from an earlier try" if existing else "new",
    )
    return body


def _failed(store: Store, key: str, error: str, now: datetime) -> None:
    with store.transaction() as s:
        row = s.get(Draft, key)
        if row is not None:
            mark_failed(row, error, now)


def build_spec(
    store: Store, d: Decision, step: int, key: str, author: Author, now: datetime
) -> tuple[DraftSpec, str]:
    """The draft as a provider-neutral spec, threaded as a reply to the latest message."""
    with store.reader() as s:
        rows = list(
            s.scalars(
                select(Message)
                .where(Message.thread_id == d.thread_id, Message.folder_role != "drafts")
                .order_by(Message.sent_at)
            )
        )
    if d.facts.separate:
        # A Bcc recipient's own conversation: never thread onto another recipient's mail.
        rows = [r for r in rows if _involves(r, d.facts.contact)]
    last = rows[-1] if rows else None
    references: list[str] = []
    if last is not None:
        references = [*(last.references or []), *([last.message_id] if last.message_id else [])]
    to, cc = _recipients(d, "to"), _recipients(d, "cc")
    if not to:  # the To recipients' addresses bounced: the Cc'd ones are addressed
        to, cc = cc or (Address(d.facts.contact, d.facts.contact_name),), ()
    greeted = (*to, *cc)
    tags = dict(d.playbook.tags)
    rec = d.run.record
    variables = DraftVars(
        contact_name=greeted[0].name,
        consultant_name=author.display_name,
        consultant_signature=_signature(author, d.locale or author.locale),
        # The template's role is the job title; the role tag (tech, exec) is a cadence.
        role=d.playbook.title,
        company=d.playbook.company,
        original_subject=d.facts.subject,
        stage=tags.get("stage") or "",
        days_silent=max(0, (now - rec.started_at).days),
        step=step,
        salary_report=d.playbook.salary_report,
        kind=tags.get("kind") if tags.get("kind") in KINDS else "candidate",
        contact_address=greeted[0].addr,
        other_names=tuple(a.name for a in greeted[1:]),
    )
    # The thread's language (tag, rule, the outreach's own language), else the account's.
    locale = d.locale or author.locale
    body = render_step(locale, variables.kind, step, variables, author.templates_dir)
    spec = DraftSpec(
        key=key,
        message_id=draft_message_id(key, author.address),
        sender=Address(author.address, author.display_name),
        to=to,
        cc=cc,
        subject=reply_subject(d.facts.subject),
        body=body,
        in_reply_to=last.message_id if last is not None else None,
        references=tuple(references[-20:]),
        reply_to_ref=last.ref if last is not None else None,
        provider_thread_id=last.provider_thread_id if last is not None else None,
        date=now,
        reply_to=Address(owner[1], owner[0]) if (owner := author.on_behalf_of) else None,
    )
    return spec, body


def _involves(row: Message, addr: str) -> bool:
    if row.direction == "out":
        return any(r[0] == addr for r in row.recipients or ())
    return row.sender_addr == addr


def _recipients(d: Decision, field_name: str) -> tuple[Address, ...]:
    """The outreach's external recipients in To or Cc: the follow-up goes to all of them."""
    return tuple(Address(a, n) for a, n, f in d.facts.recipients if f == field_name)


def _signature(author: Author, locale: str) -> str:
    if author.on_behalf_of is None:
        return author.display_name
    owner = author.on_behalf_of[0]
    if locale.lower().startswith("zh"):
        return f"{author.display_name}（代{owner}跟进）"
    return f"{author.display_name} (for {owner}, who is away)"


def drafts_of(s: Session, sequence_ids: Sequence[str]) -> list[Draft]:
    if not sequence_ids:
        return []
    return list(s.scalars(select(Draft).where(Draft.sequence_id.in_(list(sequence_ids)))))
