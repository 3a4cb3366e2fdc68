"""When the playbook acts next for one sequence: the next step and its due time
(pushed later by an out-of-office reply and by the consultant's away periods), the
call that replaces mail to a refusing server, the close after the last step, and
the steps that fell due before ghostwatch first saw the thread.

Pure, like the machine that asks it (machine.py re-exports Context and next_action).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from daemon.tracker.away import Away, shift_for_away
from daemon.tracker.business_calendar import BusinessCalendar, step_due
from daemon.tracker.policy import Playbook
from daemon.tracker.states import NextAction, Record


@dataclass(frozen=True, slots=True)
class Context:
    playbook: Playbook
    calendar: BusinessCalendar
    on_draft_deleted: str = "skip"  # skip | stop
    away: tuple[Away, ...] = ()  # the consultant's absences: the schedule pauses

    @property
    def step_count(self) -> int:
        return len(self.playbook.steps)


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
    return _next_draft(rec, ctx)


def _next_draft(rec: Record, ctx: Context) -> NextAction:
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


def playbook_end(rec: Record, ctx: Context) -> datetime:
    """When the whole playbook would have ended had nothing been done since the start."""
    last = step_due(ctx.playbook, ctx.calendar, rec.started_at, ctx.step_count - 1, None).at
    return ctx.calendar.add(last, ctx.playbook.close_after).at


def skip_missed(rec: Record, now: datetime, ctx: Context) -> tuple[Record, str]:
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
