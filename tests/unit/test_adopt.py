"""Which steps a rebuilt database counts as skipped (daemon/ingest/adopt.py, pure part)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from daemon.ingest.adopt import Found, _skipped, _split_key

T = datetime(2026, 11, 5, 10, tzinfo=UTC)


def test_a_pending_step_2_with_no_trace_of_step_1_means_step_1_was_deleted() -> None:
    (skip,) = _skipped({2: Found(2, "written", T)}, own=[])
    assert (skip.step, skip.state) == (1, "deleted")
    assert skip.at < T  # before the step found, so the replay sees it pending, then gone


def test_a_follow_up_sent_by_hand_or_without_the_key_stands_for_the_missing_step() -> None:
    assert _skipped({2: Found(2, "written", T)}, own=[T - timedelta(days=2)]) == []
    # ... but not one sent after the step that was found
    assert [f.step for f in _skipped({2: Found(2, "written", T)}, own=[T + timedelta(1)])] == [1]


def test_steps_already_found_are_not_skipped_twice() -> None:
    steps = {1: Found(1, "sent", T - timedelta(days=3)), 3: Found(3, "written", T)}
    assert [f.step for f in _skipped(steps, own=[])] == [2]


def test_keys_that_are_not_ours_are_ignored() -> None:
    assert _split_key("s2f301079b68f616.2") == ("s2f301079b68f616", 2)
    assert _split_key("s2f301079b68f616.0")[1] is None
    assert _split_key("garbage")[1] is None
    assert _split_key(None)[1] is None


def test_a_tagged_skip_after_a_follow_up_by_hand_does_not_invent_a_second_skip() -> None:
    from daemon.decide.views import MsgView
    from daemon.ingest.adopt import _tagged_skips

    start = MsgView(
        ref="1:1:Sent", folder_role="sent", message_id="o@h", at=T - timedelta(5),
        direction="out", kind="human", reason="", sender="me@h", sender_name="",
        to=(("c@x", ""),), cc=(), subject="s", tags=frozenset({"gw:skip:2"}),
    )  # fmt: skip
    by_hand = [T - timedelta(days=3)]  # step 1, by hand; then step 2's draft was deleted
    by_seq: dict[str, dict[int, Found]] = {}
    _tagged_skips(by_seq, "seq", start, by_hand)
    assert [(f.step, f.state) for f in by_seq["seq"].values()] == [(2, "deleted")]
    assert by_seq["seq"][2].at > by_hand[0]
    assert _skipped(by_seq["seq"], by_hand) == []  # step 1 is the follow-up by hand
