"""Messages -> contact and events: who counts as the contact, what counts as a reply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from daemon.config.identity import Identity
from daemon.decide.outreach import facts
from daemon.decide.timeline import events_for
from daemon.decide.views import RECEIPT_USED, MsgView, dedupe, message_time, sequence_id
from daemon.tracker.states import AutoReply, Bounced, HumanReply, Outbound, Stop

SH = ZoneInfo("Asia/Shanghai")
ME = Identity(
    own=frozenset({"li.lei@hunter.example", "lei@alias.example"}),
    internal_domains=("hunter.example",),
    ignore=("*noreply*",),
)


def msg(
    ref: str, day: int, direction: str, sender: str, to: str = "", kind: str = "human", **kw: object
) -> MsgView:
    fields: dict[str, object] = {
        "ref": ref,
        "folder_role": "sent" if direction == "out" else "inbox",
        "message_id": f"{ref}@x",
        "at": datetime(2026, 11, day, 10, tzinfo=SH),
        "direction": direction,
        "kind": "own" if direction == "out" else kind,
        "reason": "",
        "sender": sender,
        "sender_name": "",
        "to": ((to, "Wang Fang"),) if to else (),
        "cc": (),
        "subject": "Senior Go engineer role",
    }
    fields.update(kw)
    return MsgView(**fields)  # type: ignore[arg-type]


OUT = msg("o", 2, "out", "li.lei@hunter.example", "wang@cand.example")


def test_contact_is_the_first_external_recipient() -> None:
    tf = facts([OUT], ME)
    assert tf is not None
    assert (tf.contact, tf.contact_name) == ("wang@cand.example", "Wang Fang")


def test_colleagues_and_ignored_addresses_are_no_outreach() -> None:
    colleague = msg("c", 2, "out", "li.lei@hunter.example", "boss@hunter.example")
    sub = msg("s", 2, "out", "li.lei@hunter.example", "team@eu.hunter.example")
    robot = msg("r", 2, "out", "li.lei@hunter.example", "noreply@jobs.example")
    assert facts([colleague], ME) is None
    assert facts([sub], ME) is None
    assert facts([robot], ME) is None


def test_gw_track_follows_a_colleague_thread() -> None:
    colleague = msg(
        "c", 2, "out", "li.lei@hunter.example", "boss@hunter.example", tags=frozenset({"gw:track"})
    )
    tf = facts([colleague], ME)
    assert tf is not None and tf.contact == "boss@hunter.example"


def test_own_sent_copy_never_counts_as_a_reply() -> None:
    copy = msg("o2", 3, "out", "lei@alias.example", "wang@cand.example")
    tf = facts([OUT, copy], ME)
    assert tf is not None
    events = events_for([OUT, copy], [], [], ME, tf)
    assert all(isinstance(e, Outbound) for e in events)


def test_reply_in_a_new_thread_and_from_an_alias() -> None:
    alias_reply = msg("a", 3, "in", "fang.w@private.example")
    tf = facts([OUT, alias_reply], ME)
    assert tf is not None and tf.aliases == {"fang.w@private.example"}
    later = msg("n", 5, "in", "fang.w@private.example")
    events = events_for([OUT], [later], [], ME, tf)
    assert [type(e) for e in events] == [Outbound, HumanReply]
    assert events[1].in_thread is False  # type: ignore[union-attr]


def test_a_stranger_in_another_thread_is_not_a_reply() -> None:
    tf = facts([OUT], ME)
    assert tf is not None
    stranger = msg("z", 3, "in", "someone@else.example")
    assert events_for([OUT], [stranger], [], ME, tf) == [Outbound(at=OUT.at, ref="o")]


def test_bulk_from_the_contact_is_not_a_reply_but_auto_reply_and_bounce_are_events() -> None:
    tf = facts([OUT], ME)
    assert tf is not None
    bulk = msg("b", 3, "in", "wang@cand.example", kind="bulk")
    ooo = msg("ooo", 3, "in", "wang@cand.example", kind="auto_reply")
    dsn = msg(
        "d", 3, "in", "mailer-daemon@mx.example", kind="bounce",
        bounce_recipients=("wang@cand.example",), bounce_hard=True, bounce_status="5.1.1",
    )  # fmt: skip
    other_dsn = msg(
        "d2", 3, "in", "mailer-daemon@mx.example", kind="bounce", bounce_recipients=("x@y.example",)
    )
    events = events_for([OUT], [bulk, ooo, dsn, other_dsn], [], ME, tf)
    assert [type(e) for e in events] == [Outbound, AutoReply, Bounced]


def test_colleague_reply_in_the_thread_is_not_the_contact() -> None:
    colleague = msg("c", 3, "in", "boss@hunter.example")
    tf = facts([OUT, colleague], ME)
    assert tf is not None
    assert [type(e) for e in events_for([OUT, colleague], [], [], ME, tf)] == [Outbound]


def test_stop_tag_anywhere_in_the_thread() -> None:
    tagged = msg(
        "o", 2, "out", "li.lei@hunter.example", "wang@cand.example", tags=frozenset({"gw:stop"})
    )
    tf = facts([tagged], ME)
    assert tf is not None
    events = events_for([tagged], [], [], ME, tf)
    assert any(isinstance(e, Stop) for e in events)


def test_tags_are_read_into_thread_facts() -> None:
    tags = frozenset({"gw:role:exec", "gw:source:linkedin", "gw:kind:client"})
    tagged = msg("o", 2, "out", "li.lei@hunter.example", "wang@cand.example", tags=tags)
    tf = facts([tagged], ME)
    assert tf is not None
    assert tf.tags == {"role": "exec", "source": "linkedin", "kind": "client"}


def test_title_and_company_tags_keep_the_value_as_delivered() -> None:
    first = msg(
        "o", 2, "out", "li.lei@hunter.example", "wang@cand.example",
        tags=frozenset({"gw:title:Staff Engineer", "gw:company:ACME: Labs"}),
    )  # fmt: skip
    later = msg("r", 3, "in", "wang@cand.example", tags=frozenset({"gw:title:Principal PM"}))
    tf = facts([first, later], ME)
    assert tf is not None
    # The latest message's tag wins; a colon inside the value is part of it.
    assert tf.tags == {"title": "Principal PM", "company": "ACME: Labs"}


def test_dedupe_keeps_one_copy_and_skips_drafts() -> None:
    inbox_copy = msg(
        "o-inbox",
        2,
        "out",
        "li.lei@hunter.example",
        "wang@cand.example",
        folder_role="inbox",
        message_id="o@x",
    )
    draft = msg("d", 2, "out", "li.lei@hunter.example", "wang@cand.example", folder_role="drafts")
    kept = dedupe([inbox_copy, OUT, draft])
    assert [m.ref for m in kept] == ["o"]


def test_sequence_id_is_stable() -> None:
    assert sequence_id("work", OUT) == sequence_id("work", OUT)
    assert sequence_id("work", OUT) != sequence_id("home", OUT)


def test_a_reply_dated_slightly_in_the_future_counts_when_it_is_read() -> None:
    from datetime import timedelta

    from daemon.db.tables import Message
    from daemon.decide.stored import _event_time

    seen = datetime(2026, 11, 3, 10, tzinfo=SH)
    fast = Message(sent_at=seen + timedelta(seconds=5), seen_at=seen)
    assert _event_time(fast) == seen
    far = Message(sent_at=seen + timedelta(days=3), seen_at=seen)  # not a clock skew
    assert _event_time(far) == seen + timedelta(days=3)
    normal = Message(sent_at=seen - timedelta(hours=2), seen_at=seen)
    assert _event_time(normal) == seen - timedelta(hours=2)


# --- message_time: the Date header is not believed past the receipt time (issue 9.1) ---

_NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
_RECEIVED = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("date", "received", "want", "noted"),
    [
        (_RECEIVED - timedelta(hours=1), _RECEIVED, _RECEIVED - timedelta(hours=1), False),
        (_RECEIVED + timedelta(minutes=10), _RECEIVED, _RECEIVED + timedelta(minutes=10), False),
        (_RECEIVED + timedelta(minutes=20), _RECEIVED, _RECEIVED, True),
        (datetime(2031, 11, 3, tzinfo=UTC), _RECEIVED, _RECEIVED, True),
        (None, _RECEIVED, _RECEIVED, True),
        (None, None, _NOW, True),
        (datetime(2031, 11, 3, tzinfo=UTC), None, _NOW, True),
        # A receipt time ahead of our clock (a server or file clock off): now instead.
        (datetime(2031, 11, 3, tzinfo=UTC), _NOW + timedelta(days=9), _NOW, True),
        (_NOW - timedelta(days=1), _NOW + timedelta(days=9), _NOW - timedelta(days=1), False),
    ],
)
def test_message_time(
    date: datetime | None, received: datetime | None, want: datetime, noted: bool
) -> None:
    when, note = message_time(date, received, _NOW)
    assert when == want
    assert (note is not None and RECEIPT_USED in note) is noted


def test_a_reply_in_a_thread_the_consultant_started_later_answers_that_outreach() -> None:
    tf = facts([OUT], ME)
    assert tf is not None
    mine = msg("n", 20, "in", "wang@cand.example", thread_id=7)  # a thread we began on the 18th
    theirs = msg("t", 21, "in", "wang@cand.example", thread_id=8)  # a thread they began
    started = {7: datetime(2026, 11, 18, 10, tzinfo=SH)}
    events = events_for([OUT], [mine, theirs], [], ME, tf, outreach_elsewhere=started)
    replies = {e.ref: e.answers_other for e in events if isinstance(e, HumanReply)}
    assert replies == {"n": True, "t": False}
