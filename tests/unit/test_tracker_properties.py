"""Properties of the tracker over random histories (Hypothesis)."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.machine import Context, replay
from daemon.tracker.policy import Playbook, parse_duration
from daemon.tracker.states import (
    AutoReply,
    Bounced,
    DraftGone,
    DraftWritten,
    Event,
    HumanReply,
    Outbound,
    Resume,
    State,
    Stop,
    WriteDraft,
)

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 2, 9, 30, tzinfo=SH)
CTX = Context(
    Playbook(
        steps=tuple(parse_duration(s) for s in ("1bd", "3bd", "6bd")),
        close_after=parse_duration("3bd"),
        min_gap=parse_duration("1bd"),
        ooo_default=parse_duration("5bd"),
    ),
    BusinessCalendar("Asia/Shanghai", "CN", (time(9), time(18))),
)

minutes = st.integers(min_value=1, max_value=30 * 24 * 60)


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    events: list[Event] = [Outbound(at=START, ref="o0", seen_at=START)]
    for i in range(draw(st.integers(0, 12))):
        at = START + timedelta(minutes=draw(minutes))
        kind = draw(
            st.sampled_from(["out", "reply", "ooo", "soft", "hard", "stop", "resume", "dw", "dg"])
        )
        step = draw(st.integers(1, 3))
        events.append(
            {
                "out": Outbound(at=at, ref=f"o{i + 1}", seen_at=at),
                "reply": HumanReply(at=at, ref=f"r{i}", sender="x@y.example"),
                "ooo": AutoReply(at=at, ref=f"a{i}", sender="x@y.example"),
                "soft": Bounced(at=at, ref=f"b{i}", hard=False),
                "hard": Bounced(at=at, ref=f"b{i}", hard=True),
                "stop": Stop(at=at, why="test"),
                "resume": Resume(at=at),
                "dw": DraftWritten(at=at, step=step),
                "dg": DraftGone(at=at, step=step),
            }[kind]
        )
    return events


@settings(max_examples=150, deadline=None)
@given(histories(), minutes, st.randoms(use_true_random=False))
def test_replay_invariants(events: list[Event], later: int, rnd: random.Random) -> None:
    now = START + timedelta(minutes=later)
    runs = replay(events, now, CTX)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert [r.record for r in replay(shuffled, now, CTX)] == [r.record for r in runs]
    for run in runs[:-1]:
        assert not run.record.state.open  # only the latest sequence can be open
    for run in runs:
        rec = run.record
        assert list(rec.touches) == sorted(rec.touches)
        assert rec.started_at == rec.touches[0] <= now
        drafts = [i for i in run.due if isinstance(i, WriteDraft)]
        assert len(drafts) <= 1  # never two drafts at once for one thread
        if drafts:
            assert rec.state is State.WAITING and rec.pending_step is None
            assert drafts[0].step == rec.steps_passed + 1 <= len(CTX.playbook.steps)
            assert drafts[0].due <= now
        if rec.state.open:
            assert rec.ended_at is None
        else:
            assert run.due == []


def test_same_instant_events_replay_the_same_in_any_input_order() -> None:
    # Found by CI: an auto-reply and a human reply in the same minute used to
    # keep the order the store returned them in.
    at = START + timedelta(minutes=1)
    events: list[Event] = [
        Outbound(at=START, ref="o0", seen_at=START),
        HumanReply(at=at, ref="r1", sender="x@y.example"),
        AutoReply(at=at, ref="a2", sender="x@y.example"),
        Bounced(at=at, ref="b3", hard=False),
        Outbound(at=at, ref="o4", seen_at=at),
    ]
    now = START + timedelta(days=10)
    forward = [r.record for r in replay(events, now, CTX)]
    backward = [r.record for r in replay(list(reversed(events)), now, CTX)]
    assert forward == backward
    assert forward[-1].state is State.REPLIED
