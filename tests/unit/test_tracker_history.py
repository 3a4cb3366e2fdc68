"""Issue 8 items 1-2: history replayed before first-scan rules, and contacts who return."""

from __future__ import annotations

from datetime import timedelta

from daemon.tracker.machine import next_action, replay, returned_days, risk
from daemon.tracker.states import (
    Bounced,
    HumanReply,
    Meeting,
    Outbound,
    Risk,
    State,
    Stop,
    WriteDraft,
    WriteReminder,
)
from tests.unit.test_tracker import at, ctx

# Installed on Mon 2026-11-30 10:00: the outreach is five weeks older (Mon 2026-10-26).
# The playbook (1, 3, 6 bd + close_after 3 bd) ended on Fri 2026-11-06 10:00.
INSTALL = at(30)
OLD = Outbound(at=at(26, 10, month=10), ref="old", seen_at=INSTALL)
PLAYBOOK_END = at(6)


def test_old_outreach_answered_the_same_day_is_replied() -> None:
    reply = HumanReply(at=at(26, 15, month=10), ref="r", sender="x@y.com")
    (run,) = replay([OLD, reply], INSTALL, ctx())
    assert run.record.state is State.REPLIED
    assert run.record.ended_at == reply.at
    assert not run.record.backfilled
    assert run.due == []
    assert not any("no change" in line.text for line in run.trail)


def test_old_outreach_answered_in_a_new_thread_is_replied() -> None:
    reply = HumanReply(at=at(29, 9, month=10), ref="r", sender="x@y.com", in_thread=False)
    (run,) = replay([OLD, reply], INSTALL, ctx())
    assert run.record.state is State.REPLIED
    assert "in a new thread" in run.record.outcome_reason


def test_old_outreach_that_bounced_is_undeliverable() -> None:
    bounce = Bounced(at=at(26, 10, 1, month=10), ref="b", hard=True, status="5.1.1")
    (run,) = replay([OLD, bounce], INSTALL, ctx())
    assert run.record.state is State.UNDELIVERABLE
    assert run.record.ended_at == bounce.at


def test_old_outreach_followed_by_a_meeting_is_met() -> None:
    meeting = Meeting(at=at(30, 14, month=10), ref="m", summary="coffee")
    (run,) = replay([OLD, meeting], INSTALL, ctx())
    assert run.record.state is State.MET


def test_old_silent_outreach_is_ghosted_when_the_playbook_ended_without_drafts() -> None:
    (run,) = replay([OLD], INSTALL, ctx())
    assert run.record.state is State.GHOSTED
    assert run.record.backfilled
    assert run.record.ended_at == PLAYBOOK_END
    assert run.due == []


def test_a_reply_after_the_playbook_end_is_a_return_from_ghosted() -> None:
    late = HumanReply(at=at(20, 11), ref="r", sender="x@y.com")
    (run,) = replay([OLD, late], INSTALL, ctx())
    assert run.record.state is State.REPLIED
    assert run.record.returned_from is State.GHOSTED
    assert run.record.returned_from_at == PLAYBOOK_END


def test_a_thread_inside_its_playbook_gets_only_the_step_its_schedule_reached() -> None:
    # Outreach Mon 2nd; first seen Fri 6th: steps 1 (3rd) and 2 (5th) fell due before.
    c = ctx()
    seen = Outbound(at=at(2), ref="o", seen_at=at(6, 10))
    (run,) = replay([seen], at(6, 10), c)
    assert run.record.state is State.WAITING
    draft, reminder = run.due
    assert isinstance(draft, WriteDraft) and draft.step == 2
    assert draft.due == at(5)  # its schedule: the outbox writes the oldest due first
    assert reminder == WriteReminder(step=2, kind="call", at=at(5))
    assert run.record.skipped == (1,)
    assert any("before ghostwatch first saw" in line.text for line in run.trail)
    nxt = next_action(run.record, c)
    assert nxt.step == 2


def test_a_thread_seen_before_its_first_step_keeps_every_step() -> None:
    c = ctx()
    seen = Outbound(at=at(2), ref="o", seen_at=at(2, 10, 5))
    (run,) = replay([seen], at(6, 10), c)  # the daemon was off: step 1 is still owed
    (draft,) = run.due
    assert isinstance(draft, WriteDraft) and (draft.step, draft.due) == (1, at(3))
    assert run.record.skipped == ()


# ---- a contact who returns ---------------------------------------------------------------

SENT = [
    Outbound(at=at(2), ref="o"),
    Outbound(at=at(3, 11), ref="f1"),
    Outbound(at=at(5, 11), ref="f2"),
    Outbound(at=at(10, 11), ref="f3"),
]  # ghosted on Fri 13th 11:00


def test_a_reply_after_ghosted_revives_the_thread_as_a_return() -> None:
    c = ctx()
    (ghosted,) = replay(SENT, at(20), c)
    assert ghosted.record.state is State.GHOSTED
    late = HumanReply(at=at(4, 9, month=12), ref="r", sender="x@y.com")
    (run,) = replay([*SENT, late], at(4, 12, month=12), c)
    rec = run.record
    assert rec.state is State.REPLIED
    assert (rec.returned_from, rec.returned_from_at) == (State.GHOSTED, at(13, 11))
    assert rec.ended_at == late.at
    assert rec.returned_after_hours == (late.at - at(10, 11)).total_seconds() / 3600
    assert rec.outcome_reason.startswith("returned after 23 days: human reply from x@y.com")
    assert risk(rec, at(4, 12, month=12), c) is Risk.GREEN
    assert "ghosted since 2026-11-13" in run.trail[-1].text


def test_a_reply_in_a_new_thread_after_a_stop_revives_it() -> None:
    reply = HumanReply(at=at(9), ref="r", sender="x", in_thread=False)
    events = [SENT[0], Stop(at=at(3), why="tag"), reply]
    (run,) = replay(events, at(10), ctx())
    assert run.record.state is State.REPLIED
    assert run.record.returned_from is State.STOPPED
    assert "in a new thread" in run.record.outcome_reason


def test_a_reply_to_a_newer_outreach_elsewhere_does_not_revive_the_old_sequence() -> None:
    other = HumanReply(
        at=at(4, 9, month=12), ref="r", sender="x@y.com", in_thread=False, answers_other=True
    )
    (run,) = replay([*SENT, other], at(4, 12, month=12), ctx())
    assert run.record.state is State.GHOSTED
    assert run.record.returned_from is None


def test_new_outreach_after_ghosted_starts_its_own_sequence() -> None:
    again = Outbound(at=at(1, 10, month=12), ref="o2")
    reply = HumanReply(at=at(1, 15, month=12), ref="r", sender="x@y.com")
    runs = replay([*SENT, again, reply], at(2, month=12), ctx(), name=lambda s: s.ref)
    assert [(r.id, r.record.state) for r in runs] == [("o", State.GHOSTED), ("o2", State.REPLIED)]
    assert runs[0].record.returned_from is None
    assert runs[1].record.started_at == again.at
    assert runs[1].record.reply_latencies_hours == (5.0,)


def test_returned_days_count_whole_days_even_a_second_before_the_next() -> None:
    late = HumanReply(at=at(10, 11, month=12) - timedelta(seconds=1), ref="r", sender="x")
    (run,) = replay([*SENT, late], at(11, month=12), ctx())
    assert returned_days(run.record) == 29  # 29 d 23:59:59 after the last touch (10th 11:00)
