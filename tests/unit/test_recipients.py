"""Outreach to several people: To/Cc share a sequence, Bcc recipients get their own,
and a mass mailing is not followed."""

from __future__ import annotations

from daemon.decide.outreach import outreach
from daemon.decide.timeline import events_for
from daemon.decide.views import sequence_id
from daemon.tracker.states import HumanReply, Outbound
from tests.unit.test_timeline import ME, msg

HM1, HM2 = "hm1@client.example", "hm2@client.example"


def test_to_and_cc_are_one_sequence_and_an_answer_from_either_counts() -> None:
    out = msg("o", 2, "out", ME_ADDR, HM1, cc=((HM2, "Tom"),))
    (tf,) = outreach([out], ME).sequences
    assert tf.contact == HM1
    assert tf.recipients == ((HM1, "Wang Fang", "to"), (HM2, "Tom", "cc"))
    reply = msg("r", 3, "in", HM2, ME_ADDR)
    events = events_for([out, reply], [], [], ME, tf)
    assert any(isinstance(e, HumanReply) and e.sender == HM2 for e in events)
    # A reply from the Cc'd manager in a new thread counts as well.
    elsewhere = msg("n", 4, "in", HM2, ME_ADDR)
    assert any(isinstance(e, HumanReply) for e in events_for([out], [elsewhere], [], ME, tf))


def test_an_external_cc_alone_is_an_outreach() -> None:
    out = msg("o", 2, "out", ME_ADDR, "boss@hunter.example", cc=((HM2, ""),))
    (tf,) = outreach([out], ME).sequences
    assert tf.contact == HM2


def test_bcc_recipients_get_a_sequence_each() -> None:
    out = msg("o", 2, "out", ME_ADDR, ME_ADDR, bcc=((HM1, "A"), (HM2, "B")))
    found = outreach([out], ME).sequences
    assert [(f.contact, f.separate) for f in found] == [(HM1, True), (HM2, True)]
    a, b = found
    assert sequence_id("work", out, a.contact) != sequence_id("work", out, b.contact)
    reply_a = msg("r", 3, "in", HM1, ME_ADDR)
    assert any(isinstance(e, HumanReply) for e in events_for([out, reply_a], [], [], ME, a))
    # A's answer in the shared thread says nothing about B.
    assert not any(isinstance(e, HumanReply) for e in events_for([out, reply_a], [], [], ME, b))
    # A follow-up to A is a touch of A's sequence only.
    follow_a = msg("f", 4, "out", ME_ADDR, HM1)
    assert sum(isinstance(e, Outbound) for e in events_for([out, follow_a], [], [], ME, a)) == 2
    assert sum(isinstance(e, Outbound) for e in events_for([out, follow_a], [], [], ME, b)) == 1


def test_to_plus_bcc_keeps_the_bcc_conversation_apart() -> None:
    out = msg("o", 2, "out", ME_ADDR, HM1, bcc=((HM2, "B"),))
    group, hidden = outreach([out], ME).sequences
    assert (group.contact, group.separate, group.has_separate_siblings) == (HM1, False, True)
    assert (hidden.contact, hidden.separate) == (HM2, True)
    follow_b = msg("f", 4, "out", ME_ADDR, HM2)
    assert sum(isinstance(e, Outbound) for e in events_for([out, follow_b], [], [], ME, group)) == 1


def test_more_than_max_recipients_is_a_mass_mailing() -> None:
    people = tuple((f"p{i}@firm{i}.example", "") for i in range(11))
    out = msg("o", 2, "out", ME_ADDR, ME_ADDR, bcc=people)
    found = outreach([out], ME, max_recipients=10)
    assert found.sequences == ()
    assert "mass mailing" in found.untracked and "11 external people" in found.untracked
    assert len(outreach([out], ME, max_recipients=11).sequences) == 11
    # Colleagues do not count towards the limit.
    colleagues = tuple((f"c{i}@hunter.example", "") for i in range(20))
    few = msg("o", 2, "out", ME_ADDR, HM1, cc=colleagues)
    assert len(outreach([few], ME, max_recipients=10).sequences) == 1


ME_ADDR = "li.lei@hunter.example"


def test_a_draft_to_several_people_greets_them_all() -> None:
    from daemon.act.wording import salutation

    assert salutation("Carl Diaz", "en", ("Dana Wu",)) == "Hi Carl and Dana,"
    assert salutation("Carl Diaz", "en", ("Dana Wu", "Dr. Eve Ng")) == "Hi Carl, Dana and Dr. Ng,"
    assert salutation("王芳", "zh-CN", ("李明",)) == "王芳、李明，您好"
    assert salutation("王芳", "zh-CN", ("",)) == "各位好"
    assert salutation("Carl Diaz", "en", ("dana@x.example",)) == "Hello all,"
    assert salutation("Carl Diaz", "en") == "Hi Carl,"


def test_stop_naming_one_bcc_recipient_stops_only_theirs() -> None:
    from daemon.decide.views import ControlView
    from daemon.tracker.states import Stop

    out = msg("o", 2, "out", ME_ADDR, HM1, bcc=((HM2, "B"), ("c@z.example", "C")))
    group, b, c = outreach([out], ME).sequences
    stop_b = ControlView("stop", out.at, HM2)
    stopped = [
        any(isinstance(e, Stop) for e in events_for([out], [], [stop_b], ME, tf))
        for tf in (group, b, c)
    ]
    assert stopped == [False, True, False]
    everyone = ControlView("stop", out.at)  # by thread: every sequence
    assert all(
        any(isinstance(e, Stop) for e in events_for([out], [], [everyone], ME, tf))
        for tf in (group, b, c)
    )
    # Without Bcc sequences the named address is only a way to find the thread.
    plain = msg("p", 2, "out", ME_ADDR, HM1)
    (tf,) = outreach([plain], ME).sequences
    assert any(
        isinstance(e, Stop)
        for e in events_for(
            [plain], [], [ControlView("stop", plain.at, "old@alias.example")], ME, tf
        )
    )


def test_a_hard_bounce_for_one_of_several_leaves_only_them_out() -> None:
    from daemon.decide.timeline import without_dead
    from daemon.tracker.states import Bounced

    out = msg("o", 2, "out", ME_ADDR, HM1, cc=((HM2, "Tom"),))
    (tf,) = outreach([out], ME).sequences
    first = Bounced(at=out.at, ref="b1", hard=True, status="5.1.1", recipients=(HM1,))
    events, alive = without_dead([first], tf)
    assert events == [] and alive.recipients == ((HM2, "Tom", "cc"),) and alive.bounced == (HM1,)
    soft = Bounced(at=out.at, ref="b0", hard=False, status="4.2.2", recipients=(HM2,))
    assert without_dead([soft, first], tf)[0] == [soft]
    # Once every recipient bounced, the last bounce ends the sequence as before.
    second = Bounced(at=msg("x", 3, "in", HM2).at, ref="b2", hard=True, recipients=(HM2,))
    events, ended = without_dead([first, second], tf)
    assert events == [second] and ended.recipients == tf.recipients and ended.bounced == ()
    # One recipient: nothing changes.
    (single,) = outreach([msg("p", 2, "out", ME_ADDR, HM1)], ME).sequences
    assert without_dead([first], single) == ([first], single)
