"""Decide: replay each affected thread through the tracker and store the result.

Reads stored messages, builds events (timeline.py), replays them (tracker),
and upserts one `sequences` row per sequence. Writing drafts and reminders is
the outbox's job; this module only says what is due.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daemon.config.identity import Identity
from daemon.db.engine import Store
from daemon.db.tables import Control, Draft, Message
from daemon.decide import snooze, stale
from daemon.decide.calendar_signals import InviteAnswer, calendar_events_for
from daemon.decide.language import LocaleChoice, choose_locale
from daemon.decide.outreach import ThreadFacts, outreach
from daemon.decide.stored import account_id, store_decisions, threads_to_decide, to_view
from daemon.decide.timeline import controls_for, events_for, without_dead
from daemon.decide.views import ControlView, DraftView, MsgView, dedupe, sequence_id
from daemon.ingest.calendar import load_answers, load_entries
from daemon.tracker.away import Away, away_periods
from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.calendar_entry import EntryView
from daemon.tracker.machine import Context, Run, next_action, replay, risk
from daemon.tracker.policy import Duration, Playbook, Rule, resolve_playbook
from daemon.tracker.states import NextAction, Outbound, Risk

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Policy:
    """What decide needs from the config, per account."""

    playbook: Playbook
    rules: tuple[Rule, ...]
    calendar: BusinessCalendar
    identity: Identity
    on_draft_deleted: str = "skip"
    owner: str = ""  # the account address: whose absences pause the schedule
    backup: str | None = None  # with a backup the rhythm is kept: the backup acts
    stale_draft: Duration = stale.STALE_DRAFT  # a draft waiting this long turns yellow
    locale: str = "zh-CN"  # the account's: drafts' language when nothing else says
    locales: tuple[str, ...] = ("zh-CN", "en")  # the locales with templates
    max_recipients: int = 10  # more external recipients: a mass mailing, not followed
    fingerprint: str = ""  # of the config it came from (status_row.policy_fingerprint)


CALENDAR_WINDOW = timedelta(days=180)


@dataclass(slots=True)
class CalendarFacts:
    """What the account's calendar says, loaded once per evaluation."""

    entries: list[EntryView]
    answers: list[InviteAnswer]
    away: tuple[Away, ...] = ()
    bounces: list[_Bounce] | None = None  # the account's bounces, read once when first needed


@dataclass(frozen=True, slots=True)
class _Bounce:
    thread_id: int | None
    sent_at: datetime | None
    sender: str | None
    named: frozenset[str]  # the recipients it reports, lower-cased
    view: MsgView


@dataclass(slots=True)
class Decision:
    sequence_id: str
    account: str
    thread_id: int
    facts: ThreadFacts
    run: Run
    playbook: Playbook
    next: NextAction
    risk: Risk
    current: bool  # the thread's latest sequence
    newly_ended: bool = False  # set when stored: it was open (or unknown) before this decision
    draft_waiting_since: datetime | None = None  # the pending draft went into Drafts then
    snoozed_until: datetime | None = None  # no step before this (gw:snooze / `snooze`)
    language: LocaleChoice | None = None  # the drafts' language and why
    changes_at: datetime | None = None  # the replay may say otherwise from then on

    @property
    def locale(self) -> str | None:
        return self.language.locale if self.language is not None else None

    @property
    def state(self) -> str:
        return self.run.record.state.value


def _chunks(items: Sequence[int], size: int = 400) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def evaluate(
    s: Session, account: str, policy: Policy, now: datetime, thread_ids: Sequence[int]
) -> list[Decision]:
    """Replay the given threads as of `now`; reads only."""
    acct = account_id(s, account)
    if acct is None:
        return []
    decisions: list[Decision] = []
    since = now - CALENDAR_WINDOW
    cal = CalendarFacts(
        entries=load_entries(s, acct, since=since),
        answers=load_answers(s, acct, since=since),
    )
    cal.away = tuple(away_periods(cal.entries, policy.calendar.timezone, owner=policy.owner))
    for chunk in _chunks(thread_ids):
        by_thread: dict[int, list[MsgView]] = defaultdict(list)
        rows = [r for r in s.scalars(select(Message).where(Message.thread_id.in_(chunk)))]
        foreign = _foreign_keys(s, acct, {r.gw_key for r in rows if r.gw_key})
        for row in rows:
            if (row.sent_at or row.received_at) and row.gw_key not in foreign:
                by_thread[row.thread_id].append(to_view(row))  # type: ignore[index]
        controls: dict[int, list[ControlView]] = defaultdict(list)
        for c in s.scalars(select(Control).where(Control.thread_id.in_(chunk))):
            controls[c.thread_id].append(ControlView(c.action, c.at, c.contact_addr))
        drafts: dict[int, list[DraftView]] = defaultdict(list)
        for dr in s.scalars(select(Draft).where(Draft.thread_id.in_(chunk))):
            drafts[dr.thread_id].append(  # type: ignore[index]
                DraftView(dr.key, dr.sequence_id, dr.step, dr.state, dr.written_at, dr.resolved_at)
            )
        found = {
            tid: (messages, outreach(messages, policy.identity, policy.max_recipients).sequences)
            for tid in chunk
            for messages in (dedupe(by_thread[tid]),)
        }
        wanted = {
            (tid, i): (tid, tf) for tid, (_, seqs) in found.items() for i, tf in enumerate(seqs)
        }
        elsewhere = _elsewhere(s, acct, wanted, cal)
        for (tid, i), (_, tf) in wanted.items():
            decisions += _decide_sequence(
                s, account, tid, found[tid][0], tf, elsewhere[(tid, i)], controls[tid],
                drafts[tid], policy, now, cal,
            )  # fmt: skip
    return decisions


def _foreign_keys(s: Session, acct: int, keys: set[str]) -> set[str]:
    """Keys of drafts this account wrote for a colleague who was away: their follow-up,
    not an outreach of ours (it counts as a touch in the colleague's thread)."""
    if not keys:
        return set()
    query = select(Draft.key).where(Draft.key.in_(sorted(keys)), Draft.account_id != acct)
    return set(s.scalars(query))


def _decide_sequence(
    s: Session,
    account: str,
    tid: int,
    messages: list[MsgView],
    tf: ThreadFacts,
    elsewhere: list[MsgView],
    controls: list[ControlView],
    drafts: list[DraftView],
    policy: Policy,
    now: datetime,
    cal: CalendarFacts,
) -> list[Decision]:
    """The runs of one sequence of a thread (the To/Cc one, or one Bcc recipient's)."""
    contacts = set(tf.addresses)
    by_ref = {m.ref: m for m in messages}
    recipient = tf.contact if tf.separate else ""

    def name(start: Outbound) -> str:
        return sequence_id(account, by_ref.get(start.ref, tf.first_outbound), recipient)

    mine = drafts
    if tf.separate or tf.has_separate_siblings:
        # Another sequence's drafts in this thread (a Bcc recipient's) are not ours.
        own_ids = {sequence_id(account, m, recipient) for m in messages if m.direction == "out"}
        mine = [d for d in drafts if d.sequence_id in own_ids]
    replied_in = {m.thread_id for m in elsewhere if m.kind == "human" and m.thread_id is not None}
    started = _outreach_started(s, replied_in)
    events = events_for(messages, elsewhere, controls, policy.identity, tf, mine, started)
    events, tf = without_dead(events, tf)
    events += calendar_events_for(cal.entries, contacts, tf.first_outbound.at, cal.answers)
    playbook = resolve_playbook(policy.playbook, policy.rules, tf.tags, tf.subject)
    language = choose_locale(
        tag=tf.tags.get("lang"),
        rule_locale=playbook.locale,
        rule_label=playbook.locale_rule,
        detected=tf.first_outbound.lang,
        account_locale=policy.locale,
        available=policy.locales,
    )
    ctx = Context(
        playbook=playbook,
        calendar=policy.calendar,
        on_draft_deleted=policy.on_draft_deleted,
        away=() if policy.backup else cal.away,
    )
    runs = replay(events, now, ctx, name=name)
    until = snooze.snoozed_until(messages, controls_for(controls, tf), policy.calendar)
    out = []
    for i, run in enumerate(runs):
        waiting = stale.waiting_since(run.record, run.id, drafts)
        plain = next_action(run.record, ctx)
        nxt, run.due = snooze.hold(plain, run.due, until, now)
        out.append(
            Decision(
                sequence_id=run.id,
                account=account,
                thread_id=tid,
                facts=tf,
                run=run,
                playbook=playbook,
                next=nxt,
                risk=stale.worst(
                    risk(run.record, now, ctx),
                    stale.stale_risk(waiting, now, policy.calendar, policy.stale_draft),
                ),
                current=i == len(runs) - 1,
                draft_waiting_since=waiting,
                snoozed_until=until if nxt.due == until and until is not None else None,
                language=language,
                changes_at=_changes_at(
                    now,
                    plain.due,
                    until,
                    run.record.deferred_until,
                    *_stale_turns(waiting, policy.calendar, policy.stale_draft),
                ),
            )
        )
    return out


def _stale_turns(
    since: datetime | None, calendar: BusinessCalendar, wait: Duration
) -> tuple[datetime | None, ...]:
    """When a waiting draft turns yellow and red (the boundaries of stale.stale_risk)."""
    if since is None:
        return ()
    twice = Duration(wait.amount * 2, wait.unit)
    return calendar.add(since, wait).at, calendar.add(since, twice).at


def _changes_at(now: datetime, *times: datetime | None) -> datetime | None:
    """The first of these instants after `now`: where risk, next step or the tracker's
    timers can change the decision with no new input (the replay's own boundaries)."""
    later = [t for t in times if t is not None and t > now]
    return min(later) if later else None


def _elsewhere(
    s: Session,
    acct: int,
    sequences: Mapping[tuple[int, int], tuple[int, ThreadFacts]],
    cal: CalendarFacts,
) -> dict[tuple[int, int], list[MsgView]]:
    """Per sequence: the contacts' messages outside its thread, and bounces naming them.

    One query for the contacts of all the sequences, and the account's bounces
    read once per evaluation: a query per thread, each loading every bounce
    since its outreach, was most of what `status` spent on a big mailbox.
    """
    wanted = {
        key: (tid, set(tf.addresses), tf.first_outbound.at) for key, (tid, tf) in sequences.items()
    }
    out: dict[tuple[int, int], list[MsgView]] = {key: [] for key in wanted}
    if not wanted:
        return out
    everyone = sorted(set().union(*(contacts for _, contacts, _ in wanted.values())))
    earliest = min(since for _, _, since in wanted.values())
    by_sender: dict[str, list[tuple[int | None, datetime, MsgView]]] = defaultdict(list)
    query = select(Message).where(
        Message.account_id == acct,
        Message.direction == "in",
        Message.sent_at >= earliest,
        Message.sender_addr.in_(everyone),
    )
    for row in s.scalars(query):
        by_sender[row.sender_addr].append((row.thread_id, row.sent_at, to_view(row)))  # type: ignore[index]
    if cal.bounces is None:
        cal.bounces = _bounces(s, acct)
    for key, (tid, contacts, since) in wanted.items():
        views = out[key]
        for contact in contacts:
            views.extend(v for t, at, v in by_sender.get(contact, ()) if t != tid and at >= since)
        for b in cal.bounces:
            if b.sender in contacts or b.thread_id == tid or b.sent_at is None or b.sent_at < since:
                continue  # from the contact: already above; in this thread: not "elsewhere"
            if contacts & b.named:
                views.append(b.view)
    return out


def _bounces(s: Session, acct: int) -> list[_Bounce]:
    query = select(Message).where(
        Message.account_id == acct, Message.direction == "in", Message.kind == "bounce"
    )
    return [
        _Bounce(
            thread_id=row.thread_id,
            sent_at=row.sent_at,
            sender=row.sender_addr,
            named=frozenset(r.lower() for r in (row.bounce_recipients or [])),
            view=to_view(row),
        )
        for row in s.scalars(query)
    ]


def _outreach_started(s: Session, thread_ids: set[int]) -> dict[int, datetime]:
    """When the consultant first wrote in each of these threads (none: the contact began it)."""
    if not thread_ids:
        return {}
    query = (
        select(Message.thread_id, func.min(Message.sent_at))
        .where(Message.thread_id.in_(sorted(thread_ids)), Message.direction == "out")
        .group_by(Message.thread_id)
    )
    return {tid: at for tid, at in s.execute(query) if tid is not None and at is not None}


def decide(store: Store, account: str, policy: Policy, now: datetime) -> list[Decision]:
    """Re-decide the threads that changed or are open, store and return the result."""
    with store.transaction() as s:
        acct = account_id(s, account)
        if acct is None:
            return []
        tids = threads_to_decide(s, acct, everything=False)
        decisions = evaluate(s, account, policy, now, tids)
        store_decisions(s, acct, tids, decisions, now, policy.fingerprint)
    for d in decisions:
        if d.current and d.run.due:
            log.debug(
                "[%s] step %s due for %s (%s): %s",
                account,
                d.next.step,
                mask(d.facts.contact),
                d.sequence_id,
                "; ".join(d.next.trace[-1:]),
            )
    return decisions


def mask(addr: str) -> str:
    local, _, domain = addr.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
