"""The cycle's plan (daemon/runtime/plan.py) is pure: from the decisions alone it says
which drafts to write, which sequences to withdraw, and whether the calendar is told."""

from __future__ import annotations

import dataclasses

from daemon.runtime.plan import plan_cycle
from daemon.tracker.states import HumanReply, WriteDraft
from tests.unit.test_reminders import CONTACT, OUT, at, decision


def test_due_drafts_are_written_ended_sequences_withdrawn() -> None:
    due = decision([OUT], at(3, 11), seq="s1", tid=1)
    replied = decision(
        [OUT, HumanReply(at=at(3, 9), ref="r1", sender=CONTACT)], at(3, 11), seq="s2", tid=2
    )
    waiting = decision([OUT], at(2, 12), seq="s3", tid=3)
    assert any(isinstance(i, WriteDraft) for i in due.run.due)
    plan = plan_cycle([due, replied, waiting], preview=False, calendar=True, away=None)
    assert [d.sequence_id for d in plan.write] == ["s1"]
    assert [d.sequence_id for d in plan.withdraw] == ["s2"]
    assert [d.sequence_id for d in plan.decisions] == ["s1", "s2", "s3"]
    assert plan.remind and not plan.preview and plan.away is None


def test_a_decision_that_is_not_current_writes_nothing() -> None:
    stale = dataclasses.replace(decision([OUT], at(3, 11)), current=False)
    plan = plan_cycle([stale], preview=True, calendar=False, away=None)
    assert plan.write == () and plan.withdraw == ()
    assert plan.preview and not plan.remind
