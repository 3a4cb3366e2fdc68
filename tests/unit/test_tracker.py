"""The tracker state machine, replayed over hand-built event lists (no I/O)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.machine import Context, next_action, replay, risk
from daemon.tracker.policy import Playbook, parse_duration
from daemon.tracker.states import (
    AutoReply,
    Bounced,
    DraftGone,
    DraftWritten,
    HumanReply,
    Outbound,
    Resume,
    Risk,
    State,
    Stop,
    Withdraw,
    WriteDraft,
    WriteReminder,
)

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def ctx(on_deleted: str = "skip", steps: tuple[str, ...] = ("1bd", "3bd", "6bd")) -> Context:
    playbook = Playbook(
        steps=tuple(parse_duration(s) for s in steps),
        close_after=parse_duration("3bd"),
        min_gap=parse_duration("1bd"),
        ooo_default=parse_duration("5bd"),
    )
    return Context(
        playbook, BusinessCalendar("Asia/Shanghai", "CN", (time(9), time(18))), on_deleted
    )


# Mon 2026-11-02 10:00 outreach; no holidays in November 2026.
OUT = Outbound(at=at(2), ref="o1")


def test_silent_thread_steps_come_due_in_business_days() -> None:
    c = ctx()
    (run,) = replay([OUT], at(2, 12), c)
    assert run.record.state is State.WAITING
    nxt = next_action(run.record, c)
    assert (nxt.action, nxt.step, nxt.due) == ("draft", 1, at(3))
    (run,) = replay([OUT], at(3, 10), c)
    assert run.due == [WriteDraft(step=1, due=at(3), trace=run.due[0].trace)]


def test_step_two_brings_a_call_reminder_and_step_three_a_final_one() -> None:
    c = ctx()
    events = [OUT, Outbound(at=at(3, 11), ref="f1")]
    (run,) = replay(events, at(5, 10), c)  # Thu: T+3bd
    assert run.record.steps_done == 1
    kinds = [type(i).__name__ for i in run.due]
    assert kinds == ["WriteDraft", "WriteReminder"]
    assert run.due[1] == WriteReminder(step=2, kind="call", at=at(5))
    events.append(Outbound(at=at(5, 11), ref="f2"))
    (run,) = replay(events, at(10, 10), c)  # Tue: T+6bd
    assert [getattr(i, "kind", None) for i in run.due] == [None, "final"]


def test_weekend_is_skipped() -> None:
    c = ctx()
    friday = Outbound(at=at(6, 16), ref="o")
    (run,) = replay([friday], at(6, 17), c)
    assert next_action(run.record, c).due == at(9, 16)  # Monday


def test_ghosted_after_last_step_and_close_after() -> None:
    c = ctx()
    events = [
        OUT,
        Outbound(at=at(3, 11), ref="a"),
        Outbound(at=at(5, 11), ref="b"),
        Outbound(at=at(10, 11), ref="c"),
    ]
    (run,) = replay(events, at(13, 10), c)
    assert run.record.state is State.WAITING
    assert next_action(run.record, c).due == at(13, 11)
    (run,) = replay(events, at(13, 11), c)
    assert run.record.state is State.GHOSTED
    assert run.end_intents and isinstance(run.end_intents[0], Withdraw)
    assert risk(run.record, at(13, 12), c) is Risk.RED


def test_reply_in_thread_ends_replied() -> None:
    c = ctx()
    events = [OUT, HumanReply(at=at(3, 9, 30), ref="r", sender="x@y.com")]
    (run,) = replay(events, at(20), c)
    assert run.record.state is State.REPLIED
    assert run.record.reply_latencies_hours == (23.5,)
    assert risk(run.record, at(20), c) is Risk.GREEN


def test_reply_before_the_outreach_is_ignored() -> None:
    c = ctx()
    earlier = HumanReply(at=at(1), ref="r0", sender="x@y.com")
    (run,) = replay([earlier, OUT], at(2, 12), c)
    assert run.record.state is State.WAITING


def test_out_of_office_moves_the_next_step_to_the_return_date() -> None:
    c = ctx()
    ooo = AutoReply(at=at(2, 10, 5), ref="a", sender="x@y.com", return_date=date(2026, 11, 16))
    (run,) = replay([OUT, ooo], at(3, 12), c)
    assert run.due == []
    nxt = next_action(run.record, c)
    assert nxt.due == at(16, 9)
    assert "out of office" in nxt.trace[-1]


def test_out_of_office_without_a_date_uses_ooo_default() -> None:
    c = ctx()
    ooo = AutoReply(at=at(2, 10, 5), ref="a", sender="x@y.com")
    (run,) = replay([OUT, ooo], at(3, 12), c)
    assert next_action(run.record, c).due == at(9, 10, 5)  # +5bd


def test_hard_bounce_ends_undeliverable_with_a_dead_address_reminder() -> None:
    c = ctx()
    (run,) = replay([OUT, Bounced(at=at(2, 10, 1), ref="b", hard=True, status="5.1.1")], at(4), c)
    assert run.record.state is State.UNDELIVERABLE
    assert any(isinstance(i, WriteReminder) and i.kind == "dead_address" for i in run.end_intents)


def test_soft_bounce_is_noted_and_the_schedule_continues() -> None:
    c = ctx()
    (run,) = replay(
        [OUT, Bounced(at=at(2, 10, 1), ref="b", hard=False, status="4.2.2")], at(3, 10), c
    )
    assert run.record.state is State.WAITING
    assert run.record.soft_bounces == 1
    assert run.due and isinstance(run.due[0], WriteDraft)


def test_stop_and_resume() -> None:
    c = ctx()
    (run,) = replay([OUT, Stop(at=at(2, 11), why="tag"), Outbound(at=at(3), ref="x")], at(4), c)
    assert run.record.state is State.STOPPED  # an outbound message does not restart it
    (run,) = replay([OUT, Stop(at=at(2, 11), why="tag"), Resume(at=at(4))], at(4, 12), c)
    assert run.record.state is State.WAITING


def test_new_outreach_after_a_reply_starts_a_new_sequence() -> None:
    c = ctx()
    events = [OUT, HumanReply(at=at(3), ref="r", sender="x@y.com"), Outbound(at=at(4), ref="o2")]
    runs = replay(events, at(4, 12), c)
    assert [r.record.state for r in runs] == [State.REPLIED, State.WAITING]
    assert runs[1].record.started_at == at(4)


def test_whole_playbook_in_the_past_is_recorded_ghosted_without_drafts() -> None:
    c = ctx()
    old = Outbound(at=at(1, 10, month=9), ref="old", seen_at=at(2))
    (run,) = replay([old], at(2), c)
    assert run.record.state is State.GHOSTED
    assert run.record.backfilled
    assert run.due == []


def test_a_thread_seen_in_time_is_not_backfilled_when_its_drafts_wait() -> None:
    c = ctx()
    seen = Outbound(at=at(2), ref="o", seen_at=at(2, 10, 5))
    (run,) = replay([seen, DraftWritten(at=at(3), step=1)], at(30), c)
    assert run.record.state is State.DRAFT_PENDING
    (run,) = replay([seen], at(30), c)
    assert run.record.state is State.WAITING  # step 1 still due: the outbox writes it
    assert [type(i) for i in run.due] == [WriteDraft]


def test_pending_draft_blocks_the_next_step_and_deletion_skips_it() -> None:
    c = ctx()
    events = [OUT, DraftWritten(at=at(3, 9), step=1)]
    (run,) = replay(events, at(6), c)
    assert run.record.state is State.DRAFT_PENDING
    assert run.due == []
    events.append(DraftGone(at=at(6, 9), step=1))
    (run,) = replay(events, at(6, 10), c)
    assert run.record.state is State.WAITING
    assert (run.record.steps_done, run.record.steps_passed) == (0, 1)  # skipped, not sent
    assert next_action(run.record, c).step == 2


def test_deleted_draft_stops_when_configured() -> None:
    c = ctx(on_deleted="stop")
    (run,) = replay(
        [OUT, DraftWritten(at=at(3, 9), step=1), DraftGone(at=at(3, 12), step=1)], at(4), c
    )
    assert run.record.state is State.STOPPED


def test_min_gap_after_a_late_manual_follow_up() -> None:
    c = ctx()
    # A follow-up on Thu 5th 17:00 counts as step 1; step 2 (T+3 = Thu 5th) must wait min_gap.
    (run,) = replay([OUT, Outbound(at=at(5, 17), ref="late")], at(5, 17, 30), c)
    nxt = next_action(run.record, c)
    assert (nxt.step, nxt.due) == (2, at(6, 17))


def test_events_after_now_are_not_seen() -> None:
    c = ctx()
    (run,) = replay([OUT, HumanReply(at=at(9), ref="r", sender="x@y.com")], at(4), c)
    assert run.record.state is State.WAITING


@pytest.mark.parametrize("hours", [0, 5, 30, 200])
def test_replay_is_deterministic(hours: int) -> None:
    c = ctx()
    events = [
        OUT,
        Outbound(at=at(3, 11), ref="a"),
        AutoReply(at=at(3, 12), ref="b", sender="x", return_date=None),
    ]
    now = at(2) + timedelta(hours=hours)
    assert replay(events, now, c)[0].record == replay(list(reversed(events)), now, c)[0].record
