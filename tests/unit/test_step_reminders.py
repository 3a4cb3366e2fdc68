"""Which follow-up steps bring a calendar reminder beside their draft (the Playbook's
table), for playbooks of every length, as the tracker emits them."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.machine import Context, advance, start
from daemon.tracker.policy import Playbook, parse_duration
from daemon.tracker.states import Outbound, WriteDraft, WriteReminder

SH = ZoneInfo("Asia/Shanghai")
OUTREACH = datetime(2026, 11, 2, 10, tzinfo=SH)  # a Monday; no holidays in November 2026


def _ctx(steps: int) -> Context:
    playbook = Playbook(
        steps=tuple(parse_duration(f"{2 * n + 1}bd") for n in range(steps)),
        close_after=parse_duration("3bd"),
        min_gap=parse_duration("1bd"),
        ooo_default=parse_duration("5bd"),
    )
    return Context(playbook, BusinessCalendar("Asia/Shanghai", "CN", (time(9), time(18))))


def _reminders_by_step(steps: int) -> dict[int, str | None]:
    """Each step's reminder kind, as `advance` emits it when the step falls due."""
    ctx = _ctx(steps)
    rec = start(Outbound(at=OUTREACH, ref="o1", seen_at=OUTREACH))
    kinds: dict[int, str | None] = {}
    for step in range(1, steps + 1):
        # The outreach and the earlier follow-ups, one a day: this step is the next one.
        touches = tuple(OUTREACH.replace(day=2 + n) for n in range(step))
        rec = dataclasses.replace(rec, touches=touches)
        _, intents, _ = advance(rec, datetime(2027, 1, 1, tzinfo=SH), ctx)
        drafts = [i for i in intents if isinstance(i, WriteDraft)]
        assert [d.step for d in drafts] == [step]
        reminders = [i.kind for i in intents if isinstance(i, WriteReminder)]
        assert len(reminders) <= 1
        kinds[step] = reminders[0] if reminders else None
    return kinds


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (1, {1: None}),
        (2, {1: None, 2: "final"}),
        (3, {1: None, 2: "call", 3: "final"}),
        (4, {1: None, 2: "call", 3: "final", 4: "final"}),
        (5, {1: None, 2: "call", 3: "final", 4: None, 5: "final"}),
    ],
)
def test_reminder_kinds_follow_the_playbook_table(
    steps: int, expected: dict[int, str | None]
) -> None:
    assert _reminders_by_step(steps) == expected
    playbook = _ctx(steps).playbook
    assert {n: playbook.reminder_kind(n) for n in range(1, steps + 1)} == expected
