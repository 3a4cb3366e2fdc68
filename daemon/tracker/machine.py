"""The tracker: a pure state machine over one thread's events.

`apply(record, event, ctx)` and `advance(record, now, ctx)` return a new
record, the intents to carry out, and one line for the decision trail.
`replay` folds a thread's whole history through them, so the state stored in
the database is always a cache of what the messages say; recomputing it after a
crash or with another `--now` gives the same answer. States and transitions are
drawn in states.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from daemon.classify.bounce_reason import family
from daemon.tracker.away import Away, shift_for_away
from daemon.tracker.business_calendar import BusinessCalendar, step_due
from daemon.tracker.policy import Playbook
from daemon.tracker.states import (
    AutoReply,
    Bounced,
    DraftGone,
    DraftWritten,
    Event,
    HumanReply,
    Intent,
    Meeting,
    NextAction,
    Outbound,
    Record,
    RedFlag,
    Resume,
    Risk,
    State,
    Stop,
    Withdraw,
    WriteDraft,
    WriteReminder,
    event_sort_key,
)

REMINDER_KIND = {2: "call", 3: "final"}
RETURNABLE = (State.GHOSTED, State.STOPPED)  # a reply after these revives the sequence


@dataclass(frozen=True, slots=True)
class Context:
    playbook: Playbook
    calendar: BusinessCalendar
    on_draft_deleted: str = "skip"  # skip | stop
    away: tuple[Away, ...] = ()  # the consultant's absences: the schedule pauses

    @property
    def step_count(self) -> int:
        return len(self.playbook.steps)


@dataclass(frozen=True, slots=True)
class TrailLine:
    at: datetime
    text: str


@dataclass(slots=True)
class Run:
    """One sequence as replayed: its start, final record and decision trail."""

    start: Outbound
    record: Record
    id: str = ""
    trail: list[TrailLine] = field(default_factory=list)
    due: list[Intent] = field(default_factory=list)  # what is due as of `now`
    end_intents: list[Intent] = field(default_factory=list)  # what ending it asks for


Step = tuple[Record, tuple[Intent, ...], str]


def start(event: Outbound) -> Record:
    return Record(
        state=State.WAITING,
        started_at=event.at,
        first_seen=max(event.seen_at or event.at, event.at),
        touches=(event.at,),
    )


def _end(rec: Record, state: State, at: datetime, why: str) -> Step:
    ended = dataclasses.replace(
        rec, state=state, ended_at=at, outcome_reason=why, pending_step=None
    )
    return ended, (Withdraw(reason=why),), f"sequence ends {state.value}: {why}"


def _returned(rec: Record, ev: HumanReply) -> Step:
    """The contact wrote back after the sequence ended: the door the closing note left open."""
    new = dataclasses.replace(
        rec,
        state=State.REPLIED,
        ended_at=ev.at,
        returned_from=rec.state,
        returned_from_at=rec.ended_at,
        reply_latencies_hours=(*rec.reply_latencies_hours, _hours(ev.at - rec.last_touch_at)),
    )
    where = "in the thread" if ev.in_thread else "in a new thread"
    days = returned_days(new)
    why = f"returned after {days} days: human reply from {ev.sender} {where}"
    was = f"{rec.state.value} since {rec.ended_at.date().isoformat()}" if rec.ended_at else ""
    new = dataclasses.replace(new, outcome_reason=why)
    return new, (), f"sequence ends replied: {why} (was {was or rec.state.value})"


def returned_days(rec: Record) -> int | None:
    """Whole days of silence the contact broke by returning, for people to read."""
    if rec.returned_from is None or rec.ended_at is None:
        return None
    return (rec.ended_at - rec.last_touch_at).days  # not from the rounded hours: 23:59:59 is 0


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def apply(rec: Record, ev: Event, ctx: Context) -> Step:
    """React to one event. Time-driven changes are `advance`'s job."""
    if not rec.state.open and not isinstance(ev, Resume):
        if isinstance(ev, Outbound) and rec.state is State.STOPPED:
            return rec, (), "outbound message while stopped: thread stays stopped"
        if isinstance(ev, HumanReply) and rec.state in RETURNABLE and not ev.answers_other:
            return _returned(rec, ev)
        return rec, (), f"{type(ev).__name__} after the sequence ended: no change"
    match ev:
        case Outbound():
            touches = (*rec.touches, ev.at)
            new = dataclasses.replace(rec, touches=touches, state=State.WAITING, pending_step=None)
            what = "ghostwatch draft sent" if ev.gw_key else "consultant's own follow-up"
            return new, (), f"touch {len(touches) - 1}: {what}"
        case HumanReply():
            hours = _hours(ev.at - rec.last_touch_at)
            rec = dataclasses.replace(
                rec, reply_latencies_hours=(*rec.reply_latencies_hours, hours)
            )
            where = "in the thread" if ev.in_thread else "in a new thread"
            return _end(rec, State.REPLIED, ev.at, f"human reply from {ev.sender} {where}")
        case AutoReply():
            if ev.return_date is not None:
                local = datetime.combine(
                    ev.return_date, time(0), tzinfo=ZoneInfo(ctx.calendar.timezone)
                )
                until = ctx.calendar.next_working_instant(local)
                why = f"out of office until {ev.return_date.isoformat()}"
            else:
                until = ctx.calendar.add(ev.at, ctx.playbook.ooo_default).at
                why = f"out of office, no return date: ooo_default {ctx.playbook.ooo_default}"
            latest = max(until, rec.deferred_until) if rec.deferred_until else until
            new = dataclasses.replace(rec, deferred_until=latest)
            return new, (), f"{why}; next step not before {latest.isoformat()}"
        case Bounced():
            return _bounced(rec, ev, ctx)
        case Meeting():
            return _end(rec, State.MET, ev.at, f"meeting with the contact: {ev.summary}")
        case Stop():
            return _end(rec, State.STOPPED, ev.at, ev.why)
        case Resume():
            if rec.state is not State.STOPPED:
                return rec, (), "resume: the sequence was not stopped"
            new = dataclasses.replace(rec, state=State.WAITING, ended_at=None, outcome_reason="")
            return new, (), "resumed"
        case DraftWritten():
            new = dataclasses.replace(
                rec,
                state=State.DRAFT_PENDING,
                pending_step=ev.step,
                drafts_written=rec.drafts_written + 1,
            )
            return new, (), f"draft for step {ev.step} written"
        case DraftGone():
            if rec.pending_step != ev.step:
                return rec, (), f"draft for step {ev.step} left Drafts after it was sent"
            if ctx.on_draft_deleted == "stop":
                return _end(rec, State.STOPPED, ev.at, f"draft for step {ev.step} deleted unsent")
            new = dataclasses.replace(
                rec, state=State.WAITING, pending_step=None, skipped=(*rec.skipped, ev.step)
            )
            return new, (), f"draft for step {ev.step} deleted unsent: step skipped"
        case RedFlag():
            new = dataclasses.replace(rec, red_flags=_add_flag(rec.red_flags, ev.flag))
            return new, (), f"red flag: {ev.flag}"
    raise TypeError(f"unknown event {ev!r}")  # pragma: no cover


def _bounced(rec: Record, ev: Bounced, ctx: Context) -> Step:
    what = " ".join(p for p in (ev.reason, ev.status) if p)
    match bounce_family(ev):
        case "gone":
            rec = dataclasses.replace(rec, red_flags=_add_flag(rec.red_flags, "hard_bounce"))
            new, intents, line = _end(
                rec, State.UNDELIVERABLE, ev.at, f"hard bounce {what}".strip()
            )
            dead = WriteReminder(
                step=0, kind="dead_address", at=ctx.calendar.next_working_instant(ev.at)
            )
            return new, (*intents, dead), line
        case "rejected" | "mailbox" as kind:
            new = dataclasses.replace(
                rec,
                soft_bounces=rec.soft_bounces + 1,
                call_instead=ev.reason,
                call_since=rec.call_since or ev.at,
            )
            if kind == "mailbox":
                return new, (), f"bounce {what}: mailbox cannot take mail, the next step is a call"
            why = f"mail rejected by their server ({what}): thread stays open"
            return new, (), f"{why}, next steps by call or message"
    new = dataclasses.replace(rec, soft_bounces=rec.soft_bounces + 1)
    return new, (), f"soft bounce {what}: noted, schedule continues"


def bounce_family(ev: Bounced) -> str:
    """gone | rejected | mailbox | temporary; bounces stored without a reason go by `hard`.

    A 4.x.x status is temporary whatever the reason: the server may still take the mail.
    """
    if not ev.reason:
        return "gone" if ev.hard else "temporary"
    if ev.status.startswith("4"):
        return "temporary"
    return family(ev.reason, ev.status)


def _add_flag(flags: tuple[str, ...], flag: str) -> tuple[str, ...]:
    return flags if flag in flags else (*flags, flag)


def next_action(rec: Record, ctx: Context) -> NextAction:
    """The next thing the playbook will do for this record, and when."""
    if not rec.state.open:
        return NextAction("none", None, None)
    if rec.call_instead and rec.call_since is not None:
        # Email to them is refused: one call/message reminder, and the thread waits for them.
        at = ctx.calendar.next_working_instant(rec.call_since)
        step = min(rec.steps_done + 1, ctx.step_count)
        return NextAction("call", step, at, (f"bounce {rec.call_instead}: call or message",))
    if rec.pending_step is not None:
        return NextAction("wait_for_draft", rec.pending_step, None)
    if rec.steps_passed >= ctx.step_count:
        due = ctx.calendar.add(rec.last_touch_at, ctx.playbook.close_after)
        trace = (f"all {ctx.step_count} steps done; close_after {ctx.playbook.close_after}",)
        return NextAction("close", None, due.at, trace + due.trace)
    index = rec.steps_passed
    due = step_due(ctx.playbook, ctx.calendar, rec.started_at, index, rec.last_touch_at)
    at, trace = due.at, due.trace
    if rec.deferred_until is not None and rec.deferred_until > at:
        at = rec.deferred_until
        trace = (*trace, f"out of office: moved to {at.isoformat()}")
    if ctx.away:
        at, why = shift_for_away(at, ctx.away, ctx.calendar, since=rec.started_at)
        if why:
            trace = (*trace, why)
    return NextAction("draft", index + 1, at, trace)


def _playbook_end(rec: Record, ctx: Context) -> datetime:
    """When the whole playbook would have ended had nothing been done since the start."""
    last = step_due(ctx.playbook, ctx.calendar, rec.started_at, ctx.step_count - 1, None).at
    return ctx.calendar.add(last, ctx.playbook.close_after).at


def advance(rec: Record, now: datetime, ctx: Context) -> Step:
    """Time passes: close ghosted sequences, emit the draft that is due."""
    if not rec.state.open:
        return rec, (), ""
    nxt = next_action(rec, ctx)
    if nxt.action == "close" and nxt.due is not None and nxt.due <= now:
        new, intents, line = _end(
            rec, State.GHOSTED, nxt.due, f"no answer {ctx.playbook.close_after} after the last step"
        )
        return new, intents, line
    if (
        nxt.action == "draft"
        and rec.drafts_written == 0
        and rec.pending_step is None
        and _playbook_end(rec, ctx) <= min(rec.first_seen, now)
    ):
        # Only once the replay has reached the playbook's end: history older than
        # that (a reply, a meeting, a bounce) is applied first and decides instead.
        new = dataclasses.replace(rec, backfilled=True)
        return _end(
            new,
            State.GHOSTED,
            _playbook_end(rec, ctx),
            "whole playbook already in the past when first seen",
        )
    rec, missed = _skip_missed(rec, now, ctx)
    if missed:
        nxt = next_action(rec, ctx)
    line = missed
    if nxt.action == "call" and nxt.due is not None and nxt.due <= now and nxt.step is not None:
        kind = "mailbox" if family(rec.call_instead) == "mailbox" else "rejected"
        call = WriteReminder(step=nxt.step, kind=kind, at=nxt.due)
        return rec, (call,), line or f"call or message instead of mail since {nxt.due.isoformat()}"
    if nxt.action == "draft" and nxt.due is not None and nxt.due <= now and nxt.step is not None:
        intents: list[Intent] = [WriteDraft(step=nxt.step, due=nxt.due, trace=nxt.trace)]
        kind = REMINDER_KIND.get(nxt.step) if nxt.step > 1 else None
        if nxt.step == ctx.step_count and ctx.step_count >= 2:
            kind = "final"
        if kind:
            intents.append(WriteReminder(step=nxt.step, kind=kind, at=nxt.due))
        line = line or f"step {nxt.step} due since {nxt.due.isoformat()}"
        return rec, tuple(intents), line
    return rec, (), line


def _skip_missed(rec: Record, now: datetime, ctx: Context) -> tuple[Record, str]:
    """Steps whose time had passed before ghostwatch first saw the thread are not drafted.

    When a later step too was already due at first sight, the earlier ones are
    skipped: the thread gets the step its schedule has reached, never a row of
    back-dated ones.
    """
    horizon = min(rec.first_seen, now)
    skipped: list[int] = []
    while True:
        nxt = next_action(rec, ctx)
        if nxt.action != "draft" or nxt.step is None or nxt.step >= ctx.step_count:
            break
        trial = dataclasses.replace(rec, skipped=(*rec.skipped, nxt.step))
        after = next_action(trial, ctx)
        if after.due is None or after.due > horizon:
            break
        rec = trial
        skipped.append(nxt.step)
    if not skipped:
        return rec, ""
    steps = ", ".join(str(n) for n in skipped)
    return rec, f"step(s) {steps} fell due before ghostwatch first saw the thread: not drafted"


def risk(rec: Record, now: datetime, ctx: Context) -> Risk:
    if rec.state in (State.REPLIED, State.MET):
        return Risk.GREEN
    if rec.state in (State.GHOSTED, State.UNDELIVERABLE):
        return Risk.RED
    if rec.state is State.STOPPED:
        return Risk.YELLOW
    if rec.red_flags or rec.steps_passed >= max(ctx.step_count - 1, 1):
        return Risk.RED
    nxt = next_action(rec, ctx)
    overdue = nxt.due is not None and nxt.due <= now
    if rec.steps_passed >= 1 or overdue or rec.soft_bounces:
        return Risk.YELLOW
    return Risk.GREEN


def replay(
    events: Iterable[Event],
    now: datetime,
    ctx: Context,
    name: Callable[[Outbound], str] = lambda start: start.ref,
) -> list[Run]:
    """Fold a thread's events into its sequences, oldest first, as of `now`.

    Events after `now` are ignored, so `--now` in the past shows the past.
    """
    runs: list[Run] = []
    ordered: Sequence[Event] = sorted((e for e in events if e.at <= now), key=event_sort_key)
    for ev in ordered:
        current = runs[-1] if runs else None
        if current is not None:
            _tick(current, ev.at, ctx, final=False)
        if isinstance(ev, Outbound) and (current is None or _starts_new(current.record)):
            rec = start(ev)
            if current is not None:
                rec = _carry_history(current.record, rec)
            trail = [TrailLine(ev.at, "outreach: silence begins")]
            runs.append(Run(start=ev, record=rec, id=name(ev), trail=trail))
            continue
        if current is None:
            continue  # inbound before any outreach: nothing to follow up
        if isinstance(ev, DraftWritten | DraftGone) and ev.sequence_id not in ("", current.id):
            continue  # a draft of an earlier sequence of this thread
        _record(current, apply(current.record, ev, ctx), ev.at)
    if runs:
        _tick(runs[-1], now, ctx, final=True)
    return runs


def _starts_new(rec: Record) -> bool:
    return not rec.state.open and rec.state is not State.STOPPED


def _carry_history(previous: Record, new: Record) -> Record:
    """Reply latencies span sequences of a thread: slower answers are a warning sign."""
    latencies = previous.reply_latencies_hours
    flags = new.red_flags
    if len(latencies) >= 2 and latencies[-1] > 2 * latencies[-2] > 0:
        flags = _add_flag(flags, "slower_replies")
    return dataclasses.replace(new, reply_latencies_hours=latencies, red_flags=flags)


def _record(run: Run, step: Step, at: datetime) -> None:
    rec, intents, line = step
    was_open = run.record.state.open
    run.record = rec
    if line:
        run.trail.append(TrailLine(rec.ended_at or at, line))
    if was_open and not rec.state.open:
        run.end_intents = list(intents)


def _tick(run: Run, now: datetime, ctx: Context, *, final: bool) -> None:
    rec, intents, line = advance(run.record, now, ctx)
    if rec is not run.record:
        _record(run, (rec, intents, line), now)
    if final and rec.state.open:
        run.due = list(intents)
