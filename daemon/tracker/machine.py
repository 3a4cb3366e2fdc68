"""The tracker: a pure state machine over one thread's events.

`apply(record, event, ctx)` and `advance(record, now, ctx)` return a new
record, the intents to carry out, and one line for the decision trail.
`replay` folds a thread's whole history through them, so the state stored in
the database is always a cache of what the messages say; recomputing it after a
crash or with another `--now` gives the same answer. States and transitions are
drawn in states.py; when the next step falls due is schedule.py's (Context and
next_action are imported from here too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from daemon.classify.bounce_reason import family
from daemon.tracker.schedule import Context, next_action, playbook_end, skip_missed
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

RETURNABLE = (State.GHOSTED, State.STOPPED)  # a reply after these revives the sequence


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
    return new, (), f"sequence ends {State.REPLIED.value}: {why} (was {was or rec.state.value})"


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
        return _after_end(rec, ev)
    match ev:
        case Outbound():
            return _touched(rec, ev)
        case HumanReply():
            return _replied(rec, ev)
        case AutoReply():
            return _out_of_office(rec, ev, ctx)
        case Bounced():
            return _bounced(rec, ev, ctx)
        case Meeting():
            return _end(rec, State.MET, ev.at, f"meeting with the contact: {ev.summary}")
        case Stop():
            return _end(rec, State.STOPPED, ev.at, ev.why)
        case Resume():
            return _resumed(rec)
        case DraftWritten():
            return _draft_written(rec, ev)
        case DraftGone():
            return _draft_gone(rec, ev, ctx)
        case RedFlag():
            new = dataclasses.replace(rec, red_flags=_add_flag(rec.red_flags, ev.flag))
            return new, (), f"red flag: {ev.flag}"
    raise TypeError(f"unknown event {ev!r}")  # pragma: no cover


def _after_end(rec: Record, ev: Event) -> Step:
    if isinstance(ev, Outbound) and rec.state is State.STOPPED:
        return rec, (), "outbound message while stopped: thread stays stopped"
    if isinstance(ev, HumanReply) and rec.state in RETURNABLE and not ev.answers_other:
        return _returned(rec, ev)
    return rec, (), f"{type(ev).__name__} after the sequence ended: no change"


def _touched(rec: Record, ev: Outbound) -> Step:
    touches = (*rec.touches, ev.at)
    new = dataclasses.replace(rec, touches=touches, state=State.WAITING, pending_step=None)
    what = "ghostwatch draft sent" if ev.gw_key else "consultant's own follow-up"
    return new, (), f"touch {len(touches) - 1}: {what}"


def _replied(rec: Record, ev: HumanReply) -> Step:
    hours = _hours(ev.at - rec.last_touch_at)
    rec = dataclasses.replace(rec, reply_latencies_hours=(*rec.reply_latencies_hours, hours))
    where = "in the thread" if ev.in_thread else "in a new thread"
    return _end(rec, State.REPLIED, ev.at, f"human reply from {ev.sender} {where}")


def _out_of_office(rec: Record, ev: AutoReply, ctx: Context) -> Step:
    if ev.return_date is not None:
        local = datetime.combine(ev.return_date, time(0), tzinfo=ZoneInfo(ctx.calendar.timezone))
        until = ctx.calendar.next_working_instant(local)
        why = f"out of office until {ev.return_date.isoformat()}"
    else:
        until = ctx.calendar.add(ev.at, ctx.playbook.ooo_default).at
        why = f"out of office, no return date: ooo_default {ctx.playbook.ooo_default}"
    latest = max(until, rec.deferred_until) if rec.deferred_until else until
    new = dataclasses.replace(rec, deferred_until=latest)
    return new, (), f"{why}; next step not before {latest.isoformat()}"


def _resumed(rec: Record) -> Step:
    if rec.state is not State.STOPPED:
        return rec, (), "resume: the sequence was not stopped"
    new = dataclasses.replace(rec, state=State.WAITING, ended_at=None, outcome_reason="")
    return new, (), "resumed"


def _draft_written(rec: Record, ev: DraftWritten) -> Step:
    new = dataclasses.replace(
        rec, state=State.DRAFT_PENDING, pending_step=ev.step, drafts_written=rec.drafts_written + 1
    )
    return new, (), f"draft for step {ev.step} written"


def _draft_gone(rec: Record, ev: DraftGone, ctx: Context) -> Step:
    if rec.pending_step != ev.step:
        return rec, (), f"draft for step {ev.step} left Drafts after it was sent"
    if ctx.on_draft_deleted == "stop":
        return _end(rec, State.STOPPED, ev.at, f"draft for step {ev.step} deleted unsent")
    new = dataclasses.replace(
        rec, state=State.WAITING, pending_step=None, skipped=(*rec.skipped, ev.step)
    )
    return new, (), f"draft for step {ev.step} deleted unsent: step skipped"


def _bounced(rec: Record, ev: Bounced, ctx: Context) -> Step:
    what = " ".join(p for p in (ev.reason, ev.status) if p)
    match bounce_family(ev):
        case "gone":
            return _address_gone(rec, ev, ctx, what)
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


def _address_gone(rec: Record, ev: Bounced, ctx: Context, what: str) -> Step:
    """A hard bounce ends the sequence; a reminder says the address is dead."""
    rec = dataclasses.replace(rec, red_flags=_add_flag(rec.red_flags, "hard_bounce"))
    new, intents, line = _end(rec, State.UNDELIVERABLE, ev.at, f"hard bounce {what}".strip())
    at = ctx.calendar.next_working_instant(ev.at)
    return new, (*intents, WriteReminder(step=0, kind="dead_address", at=at)), line


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


def advance(rec: Record, now: datetime, ctx: Context) -> Step:
    """Time passes: close ghosted sequences, emit the draft that is due."""
    if not rec.state.open:
        return rec, (), ""
    nxt = next_action(rec, ctx)
    if nxt.action == "close" and nxt.due is not None and nxt.due <= now:
        why = f"no answer {ctx.playbook.close_after} after the last step"
        return _end(rec, State.GHOSTED, nxt.due, why)
    if nxt.action == "draft":
        backfilled = _backfilled(rec, now, ctx)
        if backfilled is not None:
            return backfilled
    rec, missed = skip_missed(rec, now, ctx)
    if missed:
        nxt = next_action(rec, ctx)
    return _due_now(rec, nxt, now, ctx, missed)


def _backfilled(rec: Record, now: datetime, ctx: Context) -> Step | None:
    """A thread first seen after its whole playbook had run out ends ghosted, no draft written.

    Only once the replay has reached the playbook's end: history older than
    that (a reply, a meeting, a bounce) is applied first and decides instead.
    """
    if rec.drafts_written != 0 or rec.pending_step is not None:
        return None
    end = playbook_end(rec, ctx)
    if end > min(rec.first_seen, now):
        return None
    new = dataclasses.replace(rec, backfilled=True)
    return _end(new, State.GHOSTED, end, "whole playbook already in the past when first seen")


def _due_now(rec: Record, nxt: NextAction, now: datetime, ctx: Context, line: str) -> Step:
    """The call reminder, or the draft with its reminder, once the next action is due."""
    if nxt.due is None or nxt.due > now or nxt.step is None:
        return rec, (), line
    if nxt.action == "call":
        kind = "mailbox" if family(rec.call_instead) == "mailbox" else "rejected"
        call = WriteReminder(step=nxt.step, kind=kind, at=nxt.due)
        return rec, (call,), line or f"call or message instead of mail since {nxt.due.isoformat()}"
    if nxt.action != "draft":
        return rec, (), line
    intents: list[Intent] = [WriteDraft(step=nxt.step, due=nxt.due, trace=nxt.trace)]
    kind = ctx.playbook.reminder_kind(nxt.step)
    if kind:
        intents.append(WriteReminder(step=nxt.step, kind=kind, at=nxt.due))
    return rec, tuple(intents), line or f"step {nxt.step} due since {nxt.due.isoformat()}"


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
