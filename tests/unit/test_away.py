"""The consultant's absences from their own calendar, and what they do to the schedule."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from daemon.tracker.away import Away, Handoff, away_periods, handoff, is_absence, shift_for_away
from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.calendar_entry import EntryView

SH = ZoneInfo("Asia/Shanghai")
ME = "li.lei@hunter.example"
CAL = BusinessCalendar("Asia/Shanghai", "CN", (time(9), time(18)))


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def all_day(first: int, last: int, summary: str = "年假", **kw: object) -> EntryView:
    """An all-day entry over Nov `first`..`last` (inclusive), read with floating UTC."""
    start = datetime(2026, 11, first, tzinfo=UTC)
    end = datetime(2026, 11, last + 1, tzinfo=UTC)
    values: dict[str, object] = {
        "uid": f"{summary}-{first}",
        "summary": summary,
        "start": start,
        "end": end,
        "first_seen": at(1),
        "last_seen": at(1),
        "all_day": True,
        "start_day": start.date(),
        "end_day": end.date(),
    }
    values.update(kw)
    return EntryView(**values)  # type: ignore[arg-type]


def timed(start: datetime, hours: float, summary: str, **kw: object) -> EntryView:
    values: dict[str, object] = {
        "uid": summary,
        "summary": summary,
        "start": start,
        "end": start + timedelta(hours=hours),
        "first_seen": at(1),
        "last_seen": at(1),
    }
    values.update(kw)
    return EntryView(**values)  # type: ignore[arg-type]


ABSENCE_CASES = [
    ("all-day 年假", all_day(4, 6), True),
    ("all-day 请假", all_day(4, 4, "请假半天变一天"), True),
    ("all-day vacation by category", all_day(4, 6, "Lake trip", categories=("Vacation",)), True),
    ("all-day Out of Office", all_day(4, 6, "Out of office"), True),
    ("all-day, busy status OOF", all_day(4, 6, "Offsite", busy_status="OOF"), True),
    ("all-day 出差: working elsewhere", all_day(4, 6, "出差 上海"), False),
    ("all-day business trip marked OOF", all_day(4, 6, "出差 上海", busy_status="OOF"), True),
    ("all-day team event", all_day(4, 4, "Team building"), False),
    ("holiday party is not a holiday", all_day(4, 4, "Holiday party"), False),
    ("public holiday", all_day(4, 4, "Public holiday"), True),
    ("a colleague's leave shared in", all_day(4, 6, "张三年假", organizer="zhang.san@x.cn"), False),
    ("my own leave I organized", all_day(4, 6, "年假", organizer=ME), True),
    (
        "an invitation I answered OOF",
        all_day(4, 6, "Offsite", organizer="boss@x.cn", busy_status="OOF"),
        True,
    ),
    ("two-hour OOF appointment", timed(at(4, 14), 2, "Doctor", busy_status="OOF"), False),
    ("a working day booked OOF", timed(at(4, 9), 9, "Doctor", busy_status="OOF"), True),
    ("half a day of 请假", timed(at(4, 13), 5, "请假"), False),
    ("multi-day timed vacation", timed(at(4, 9), 57, "Vacation"), True),
    ("cancelled leave", all_day(4, 6, status="CANCELLED"), False),
    ("deleted leave", all_day(4, 6, deleted=True), False),
    ("ghostwatch's own", all_day(4, 6, is_ghostwatch=True), False),
]


@pytest.mark.parametrize(("case", "view", "away"), ABSENCE_CASES, ids=[c[0] for c in ABSENCE_CASES])
def test_what_counts_as_away(case: str, view: EntryView, away: bool) -> None:
    assert (is_absence(view, ME) is not None) is away


def test_all_day_absences_are_whole_local_days_whatever_zone_they_were_read_in() -> None:
    (p,) = away_periods([all_day(4, 6)], "Asia/Shanghai", owner=ME)
    assert (p.start, p.end) == (datetime(2026, 11, 4, tzinfo=SH), datetime(2026, 11, 7, tzinfo=SH))


def test_touching_and_overlapping_absences_merge() -> None:
    entries = [all_day(9, 10, "年假"), all_day(4, 6, "休假"), all_day(7, 8, "Vacation")]
    periods = away_periods(entries, SH)
    assert [(p.start.date(), p.end.date()) for p in periods] == [
        (date(2026, 11, 4), date(2026, 11, 11))
    ]
    assert "休假" in periods[0].why and "年假" in periods[0].why


VACATION = [Away(datetime(2026, 11, 4, tzinfo=SH), datetime(2026, 11, 7, tzinfo=SH), "年假")]


def test_a_step_due_while_away_moves_to_the_first_working_instant_after_return() -> None:
    due, why = shift_for_away(at(5, 10), VACATION, CAL)  # Thu, inside Wed..Fri
    assert due == at(9, 9)  # Sat and Sun are weekend: Monday 09:00
    assert "resumes on return 2026-11-09 09:00" in why


def test_a_step_outside_any_absence_is_unchanged() -> None:
    assert shift_for_away(at(3, 10), VACATION, CAL) == (at(3, 10), "")
    assert shift_for_away(at(7, 0), VACATION, CAL) == (at(7, 0), "")  # the end is exclusive


def test_with_since_an_absence_before_the_due_pauses_the_schedule() -> None:
    # The sequence began Mon 2; step 3 was due Tue 10; the 3 working days away are added.
    due, why = shift_for_away(at(10, 10), VACATION, CAL, since=at(2))
    assert due == at(13, 10)
    assert "paused 3 working day(s)" in why
    # An absence that began before the sequence did not pause it.
    assert shift_for_away(at(10, 10), VACATION, CAL, since=at(5)) == (at(10, 10), "")


def test_spacing_between_steps_is_never_compressed() -> None:
    step2, _ = shift_for_away(at(5, 10), VACATION, CAL, since=at(2))
    step3, _ = shift_for_away(at(10, 10), VACATION, CAL, since=at(2))
    assert CAL.business_days_between(step2, step3) >= CAL.business_days_between(at(5), at(10))


def test_back_to_back_absences_are_skipped_together() -> None:
    second = Away(at(9, 9), datetime(2026, 11, 10, tzinfo=SH), "training OOF")
    due, why = shift_for_away(at(5, 10), [*VACATION, second], CAL)
    assert due == at(10, 9)
    assert why.count("resumes on return") == 2


def test_handoff_goes_to_the_backup_only_while_away() -> None:
    assert handoff(at(5), VACATION, "colleague") == Handoff(
        "colleague", VACATION[0].end, "away until 2026-11-07 00:00 (年假): colleague acts"
    )
    owner_keeps = handoff(at(5), VACATION, None)
    assert (owner_keeps.to, owner_keeps.until) == (None, VACATION[0].end)
    assert handoff(at(9), VACATION, "colleague") == Handoff(None)
