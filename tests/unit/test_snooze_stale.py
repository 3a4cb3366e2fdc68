"""Snooze and stale drafts: the pure rules (daemon/decide/snooze.py, daemon/decide/stale.py)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from daemon.decide.snooze import control_action, hold, parse_day, snoozed_until
from daemon.decide.stale import stale_risk, waiting_since, worst
from daemon.decide.views import ControlView, DraftView, MsgView
from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.policy import Duration, Unit
from daemon.tracker.states import NextAction, Record, Risk, State, Withdraw, WriteDraft

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar("Asia/Shanghai", "CN", (time(9), time(18)))


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=SH)


def msg(tags: str, when: datetime) -> MsgView:
    return MsgView(
        ref=f"r{when.day}", folder_role="sent", message_id=None, at=when, direction="out",
        kind="own", reason="", sender="me@x.example", sender_name="", to=(), cc=(),
        subject="s", tags=frozenset(tags.split()),
    )  # fmt: skip


def test_the_snooze_set_last_wins() -> None:
    tagged = [msg("gw:snooze:2026-11-20", at(2))]
    assert snoozed_until(tagged, [], CAL) == at(20, 9)
    later = [ControlView(control_action(date(2026, 11, 10)), at(3))]
    assert snoozed_until(tagged, later, CAL) == at(10, 9)  # a later, shorter snooze undoes it
    assert len(control_action(date(2026, 12, 10))) <= 16  # fits controls.action
    assert snoozed_until([msg("gw:snooze:soon", at(2))], [], CAL) is None
    assert parse_day("20261210") == parse_day("2026-12-10") == date(2026, 12, 10)


def test_a_snooze_on_a_holiday_ends_on_the_next_working_morning() -> None:
    # Sat 7 Nov 2026: the first working instant after it is Monday 09:00.
    assert snoozed_until([msg("gw:snooze:2026-11-07", at(2))], [], CAL) == at(9, 9)


def test_hold_keeps_the_draft_back_but_not_the_end() -> None:
    nxt = NextAction("draft", 2, at(5, 9), ("schedule",))
    due = [WriteDraft(step=2, due=at(5, 9)), Withdraw(reason="x")]
    held, left = hold(nxt, due, at(10, 9), now=at(6))
    assert held.due == at(10, 9) and held.trace[-1].startswith("snoozed")
    assert left == [Withdraw(reason="x")]
    assert hold(nxt, due, at(10, 9), now=at(10, 9))[1] == due  # the day has come
    assert hold(nxt, due, at(4, 9), now=at(6)) == (nxt, due)  # a snooze already over


def test_stale_after_the_configured_business_days() -> None:
    two = Duration(2, Unit.BUSINESS_DAYS)
    written = at(5, 10)  # Thursday
    assert stale_risk(written, at(6, 10), CAL, two) is Risk.GREEN
    assert stale_risk(written, at(9, 10), CAL, two) is Risk.YELLOW  # Thu -> Mon: 2 bd
    assert stale_risk(written, at(11, 10), CAL, two) is Risk.RED  # 4 bd
    assert stale_risk(None, at(30), CAL, two) is Risk.GREEN
    assert worst(Risk.GREEN, Risk.RED, Risk.YELLOW) is Risk.RED


def test_waiting_since_is_the_pending_drafts_own_time() -> None:
    rec = Record(State.DRAFT_PENDING, at(2), at(2), (at(2),), pending_step=1)
    drafts = [
        DraftView("s1.1", "s1", 1, "written", at(3), None),
        DraftView("s0.1", "s0", 1, "written", at(2, 11), None),  # another sequence
    ]
    assert waiting_since(rec, "s1", drafts) == at(3)
    sent = [DraftView("s1.1", "s1", 1, "sent", at(3), at(4))]
    assert waiting_since(rec, "s1", sent) is None
