"""The reminder outbox against the in-memory calendar: written once, in working hours,
removed when the sequence ends early, and never anything of the consultant's own."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.errors import Transient
from connectors.memory_calendar import MemoryCalendar
from connectors.model import Address, CalendarEvent
from daemon.act.reminders import (
    ReminderReport,
    preview_reminders,
    reminder_slot,
    reminder_uid,
    remove_ended,
    write_reminders,
)
from daemon.db.calendar_tables import Reminder
from daemon.db.engine import Store
from daemon.db.tables import Account, Base, Draft, Thread
from daemon.decide.outreach import ThreadFacts
from daemon.decide.replay import Decision
from daemon.decide.views import MsgView
from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.machine import Context, next_action, replay, risk
from daemon.tracker.policy import Playbook, parse_duration
from daemon.tracker.states import (
    Bounced,
    DraftWritten,
    Event,
    HumanReply,
    Outbound,
    State,
    Stop,
)

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar("Asia/Shanghai", "CN", (time(9), time(18)))
CONTACT = "wang.fang@example.com"
PHONE = "+8613800138000"


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


# Mon 2 outreach, step 1 sent Tue 3; step 2 (call) due Thu 5 10:00, step 3 (final) Tue 10.
OUT = Outbound(at=at(2), ref="o1")
STEP1 = Outbound(at=at(3, 11), ref="f1", gw_key="s1.1")
STEP2 = Outbound(at=at(5, 11), ref="f2", gw_key="s1.2")


def playbook() -> Playbook:
    return Playbook(
        steps=tuple(parse_duration(s) for s in ("1bd", "3bd", "6bd")),
        close_after=parse_duration("3bd"),
        min_gap=parse_duration("1bd"),
        ooo_default=parse_duration("5bd"),
        tags=(("role", "tech"), ("kind", "candidate")),
    )


def decision(events: Sequence[Event], now: datetime, seq: str = "s1", tid: int = 1) -> Decision:
    ctx = Context(playbook(), CAL)
    run = replay(events, now, ctx, name=lambda _: seq)[-1]
    first = MsgView(
        ref="o1",
        folder_role="sent",
        message_id=f"{seq}@hunter.example",
        at=at(2),
        direction="out",
        kind="own",
        reason="",
        sender="li.lei@hunter.example",
        sender_name="李雷",
        to=((CONTACT, "王芳"),),
        cc=(),
        subject="高级产品经理机会",
    )
    facts = ThreadFacts(
        contact=CONTACT,
        contact_name="王芳",
        aliases=frozenset(),
        subject="高级产品经理机会",
        tags={},
        tracked_by_tag=False,
        first_outbound=first,
    )
    return Decision(
        sequence_id=seq,
        account="work",
        thread_id=tid,
        facts=facts,
        run=run,
        playbook=ctx.playbook,
        next=next_action(run.record, ctx),
        risk=risk(run.record, now, ctx),
        current=True,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'gw.db'}", upgrade=False)
    Base.metadata.create_all(s.engine)
    with s.transaction() as tx:
        tx.add(Account(id=1, name="work", address="li.lei@hunter.example"))
        tx.add_all([Thread(id=1, account_id=1), Thread(id=2, account_id=1)])
    yield s
    s.close()


def drafted(store: Store, key: str, when: datetime, tid: int = 1) -> None:
    """What the drafts outbox records once it wrote the step's draft."""
    seq, _, step = key.rpartition(".")
    with store.transaction() as s:
        s.add(
            Draft(
                key=key,
                account_id=1,
                sequence_id=seq,
                thread_id=tid,
                step=int(step),
                state="written",
                message_id=f"ghostwatch.{key}@hunter.example",
                created_at=when,
                written_at=when,
            )
        )


def write(
    store: Store, sink: object, decisions: Sequence[Decision], now: datetime, **kw: object
) -> ReminderReport:
    return write_reminders(
        store,
        1,
        sink,  # type: ignore[arg-type]
        decisions,
        now,
        locale="zh-CN",
        templates_dir=None,
        calendar=CAL,
        phone_lookup=lambda d: PHONE,
        **kw,  # type: ignore[arg-type]
    )


def ours(cal: MemoryCalendar) -> list[CalendarEvent]:
    return [e for e, _ in cal.events.values() if e.ghostwatch_key]


def test_a_due_call_step_gets_one_reminder_with_alarm_inside_working_hours(store: Store) -> None:
    cal = MemoryCalendar()
    d = decision([OUT, STEP1], at(5, 10, 7))
    drafted(store, "s1.2", at(5, 10, 7))
    report = write(store, cal, [d], at(5, 10, 7))
    assert report.written == ["s1.2.call"]
    (event,) = ours(cal)
    assert event.uid == reminder_uid("s1.2.call") == "ghostwatch-s1.2.call@ghostwatch"
    assert event.ghostwatch_key == "s1.2.call"
    assert (event.start, event.end) == (at(5, 10, 15), at(5, 10, 30))  # the next quarter hour
    assert event.alarm_minutes == 10
    assert event.summary.startswith("给王芳打电话")
    for fact in (CONTACT, PHONE, "高级产品经理机会", "角色标签：tech", "s1.2.call"):
        assert fact in event.description
    with store.reader() as s:
        row = s.get(Reminder, "s1.2.call")
        assert row is not None and (row.state, row.href) == ("written", event.href)


def test_no_reminder_before_its_draft_is_in_drafts(store: Store) -> None:
    cal = MemoryCalendar()
    d = decision([OUT, STEP1], at(5, 10))
    assert write(store, cal, [d], at(5, 10)) == ReminderReport()  # held back by the draft cap
    drafted(store, "s1.2", at(5, 10, 5))
    assert write(store, cal, [d], at(5, 10, 5)).written == ["s1.2.call"]


def test_final_step_gets_a_final_reminder(store: Store) -> None:
    cal = MemoryCalendar()
    d = decision([OUT, STEP1, STEP2], at(10, 10))
    drafted(store, "s1.3", at(10, 10))
    write(store, cal, [d], at(10, 10))
    (event,) = ours(cal)
    assert (event.ghostwatch_key, event.summary) == ("s1.3.final", "最后一次跟进：王芳")


def test_writing_twice_never_duplicates(store: Store) -> None:
    cal = MemoryCalendar()
    d = decision([OUT, STEP1], at(5, 10))
    drafted(store, "s1.2", at(5, 10))
    write(store, cal, [d], at(5, 10))
    again = write(store, cal, [d], at(5, 10, 2))
    assert again == ReminderReport()
    assert len(ours(cal)) == 1


class TimesOutAfterWriting(MemoryCalendar):
    """The server stores the event, then the answer is lost."""

    fail_puts = 1

    def put_event(self, event: CalendarEvent) -> CalendarEvent:
        stored = MemoryCalendar.put_event(self, event)
        if self.fail_puts:
            self.fail_puts -= 1
            raise Transient("read timed out")
        return stored


def test_a_retry_after_a_timeout_finds_the_event_instead_of_writing_another(
    store: Store,
) -> None:
    cal = TimesOutAfterWriting()
    d = decision([OUT, STEP1], at(5, 10))
    drafted(store, "s1.2", at(5, 10))
    assert write(store, cal, [d], at(5, 10)).failed == ["s1.2.call"]
    assert write(store, cal, [d], at(5, 10, 1)) == ReminderReport()  # backoff not over
    # Next cycle: the draft is pending now, the tracker no longer lists the reminder,
    # the committed intent is retried from the table.
    pending = decision([OUT, STEP1, DraftWritten(at(5, 10), 2, "s1")], at(5, 11))
    report = write(store, cal, [pending], at(5, 11))
    assert report.found == ["s1.2.call"] and not report.written
    assert len(ours(cal)) == 1 and cal.clock == 1  # put exactly once


def test_a_cycle_that_stopped_after_the_draft_still_gets_its_reminder(store: Store) -> None:
    cal = MemoryCalendar()
    drafted(store, "s1.2", at(5, 10))
    pending = decision([OUT, STEP1, DraftWritten(at(5, 10), 2, "s1")], at(5, 10, 30))
    assert pending.run.record.state is State.DRAFT_PENDING and not pending.run.due
    assert write(store, cal, [pending], at(5, 10, 30)).written == ["s1.2.call"]
    # A draft pending for days is old news: no catch-up reminder for it.
    drafted(store, "s2.2", at(5, 10), tid=2)
    old = decision([OUT, STEP1, DraftWritten(at(5, 10), 2, "s2")], at(9, 10), seq="s2", tid=2)
    assert write(store, cal, [old], at(9, 10)) == ReminderReport()


def test_hard_bounce_gets_a_dead_address_reminder_only_when_recent(store: Store) -> None:
    cal = MemoryCalendar()
    bounce = Bounced(at=at(3, 9, 30), ref="b", hard=True, status="5.1.1")
    d = decision([OUT, bounce], at(3, 9, 40))
    write(store, cal, [d], at(3, 9, 40))
    (event,) = ours(cal)
    assert event.ghostwatch_key == "s1.0.dead_address"
    assert event.summary == "邮箱已失效：王芳"
    # The first scan finding a bounce from last month writes nothing.
    old = decision([OUT, bounce], at(3, 9, 40) + timedelta(days=30), seq="s2", tid=2)
    assert write(store, cal, [old], at(3, 9, 40) + timedelta(days=30)) == ReminderReport()


@pytest.mark.parametrize(
    ("due", "now", "start"),
    [
        (at(5, 10), at(5, 10), at(5, 10)),  # on time
        (at(5, 10), at(5, 12, 1), at(5, 12, 15)),  # late: next quarter hour
        (at(5, 10), at(5, 17, 50), at(6, 9)),  # 15 minutes no longer fit today
        (at(5, 10), at(5, 17, 45), at(5, 17, 45)),  # they just fit
        (at(5, 10), at(6, 19), at(9, 9)),  # Friday evening: Monday morning
        (at(9, 14), at(5, 12), at(9, 14)),  # still ahead: its own time
    ],
)
def test_reminder_slot(due: datetime, now: datetime, start: datetime) -> None:
    assert reminder_slot(due, now, CAL) == start


def remove(
    store: Store, cal: MemoryCalendar, decisions: list[Decision], now: datetime
) -> ReminderReport:
    return remove_ended(store, 1, cal, decisions, now)


def test_a_reply_removes_the_future_reminder_and_leaves_the_users_events(store: Store) -> None:
    cal = MemoryCalendar()
    mine = cal.add_event(
        CalendarEvent(
            uid="user-1",
            summary="Call 王芳 myself",
            start=at(6, 11),
            end=at(6, 12),
            attendees=(Address(CONTACT),),
        )
    )
    d = decision([OUT, STEP1], at(5, 17, 50))
    drafted(store, "s1.2", at(5, 17, 50))
    write(store, cal, [d], at(5, 17, 50))
    assert ours(cal)[0].start == at(6, 9)  # tomorrow morning
    reply = HumanReply(at=at(5, 18, 30), ref="r1", sender=CONTACT)
    replied = decision([OUT, STEP1, DraftWritten(at(5, 17, 50), 2, "s1"), reply], at(5, 18, 31))
    report = remove(store, cal, [replied], at(5, 18, 31))
    assert report.removed == ["s1.2.call"]
    assert ours(cal) == []
    assert cal.find_event("user-1") == mine
    assert remove(store, cal, [replied], at(5, 18, 32)) == ReminderReport()


def test_only_future_reminders_are_removed(store: Store) -> None:
    cal = MemoryCalendar()
    d = decision([OUT, STEP1], at(5, 10))
    drafted(store, "s1.2", at(5, 10))
    write(store, cal, [d], at(5, 10))  # 10:00 today
    reply = HumanReply(at=at(5, 15), ref="r1", sender=CONTACT)
    replied = decision([OUT, STEP1, DraftWritten(at(5, 10), 2, "s1"), reply], at(5, 15, 1))
    report = remove(store, cal, [replied], at(5, 15, 1))
    assert report.kept == ["s1.2.call"] and len(ours(cal)) == 1


def test_a_ghosted_sequence_keeps_its_reminders(store: Store) -> None:
    cal = MemoryCalendar()
    d = decision([OUT, STEP1, STEP2], at(10, 17, 55))
    drafted(store, "s1.3", at(10, 17, 55))
    write(store, cal, [d], at(10, 17, 55))  # tomorrow 09:00
    sent = Outbound(at=at(10, 18), ref="f3", gw_key="s1.3")
    ghosted = decision([OUT, STEP1, STEP2, sent], at(10, 18) + timedelta(days=6))
    assert ghosted.run.record.state is State.GHOSTED
    assert remove(store, cal, [ghosted], at(11, 8)) == ReminderReport()
    assert len(ours(cal)) == 1


class DeleteFailsOnce(MemoryCalendar):
    fail = True

    def delete_event(self, uid: str) -> bool:
        if self.fail:
            self.fail = False
            raise Transient("connection reset")
        return MemoryCalendar.delete_event(self, uid)


def test_a_failed_removal_is_retried_without_the_decision(store: Store) -> None:
    cal = DeleteFailsOnce()
    d = decision([OUT, STEP1], at(5, 17, 50))
    drafted(store, "s1.2", at(5, 17, 50))
    write(store, cal, [d], at(5, 17, 50))
    stop = Stop(at=at(5, 18), why="ghostwatch stop")
    stopped = decision([OUT, STEP1, DraftWritten(at(5, 17, 50), 2, "s1"), stop], at(5, 18, 1))
    assert remove(store, cal, [stopped], at(5, 18, 1)) == ReminderReport()
    # Next cycle the thread is neither dirty nor open: decide no longer returns it.
    assert remove(store, cal, [], at(5, 18, 5)).removed == ["s1.2.call"]
    assert ours(cal) == []


def test_a_reminder_the_user_deleted_is_recorded_gone(store: Store) -> None:
    cal = MemoryCalendar()
    d = decision([OUT, STEP1], at(5, 17, 50))
    drafted(store, "s1.2", at(5, 17, 50))
    write(store, cal, [d], at(5, 17, 50))
    cal.remove_event(reminder_uid("s1.2.call"))
    reply = HumanReply(at=at(5, 18, 30), ref="r1", sender=CONTACT)
    replied = decision([OUT, STEP1, DraftWritten(at(5, 17, 50), 2, "s1"), reply], at(5, 18, 31))
    assert remove(store, cal, [replied], at(5, 18, 31)).gone == ["s1.2.call"]


def test_an_unwritten_reminder_of_an_ended_sequence_is_cancelled(store: Store) -> None:
    cal = MemoryCalendar()
    d = decision([OUT, STEP1], at(5, 10))
    drafted(store, "s1.2", at(5, 10))
    broken = type("Down", (MemoryCalendar,), {"find_event": _down})()
    assert write(store, broken, [d], at(5, 10)).failed == ["s1.2.call"]
    reply = HumanReply(at=at(5, 10, 30), ref="r1", sender=CONTACT)
    replied = decision([OUT, STEP1, reply], at(5, 11))
    assert remove(store, cal, [replied], at(5, 11)).cancelled == ["s1.2.call"]
    assert write(store, cal, [replied], at(5, 13)) == ReminderReport()
    assert ours(cal) == []


def _down(self: MemoryCalendar, uid: str) -> CalendarEvent | None:
    raise Transient("calendar unreachable")


def test_in_the_backups_calendar_the_owner_is_named(store: Store) -> None:
    cal = MemoryCalendar()
    d = decision([OUT, STEP1], at(5, 10))
    drafted(store, "s1.2", at(5, 10))
    write(store, cal, [d], at(5, 10), on_behalf_of="李雷", calendar_account="colleague")
    (event,) = ours(cal)
    assert event.summary.startswith("【代李雷】给王芳打电话")
    assert "李雷 不在办公室" in event.description
    with store.reader() as s:
        assert s.get(Reminder, "s1.2.call").calendar_account == "colleague"  # type: ignore[union-attr]


def test_a_failing_phone_lookup_still_writes_the_reminder(store: Store) -> None:
    cal = MemoryCalendar()
    d = decision([OUT, STEP1], at(5, 10))
    drafted(store, "s1.2", at(5, 10))

    def lookup(_: Decision) -> str | None:
        raise OSError("mailbox unreachable")

    report = write_reminders(
        store, 1, cal, [d], at(5, 10),
        locale="en", templates_dir=None, calendar=CAL, phone_lookup=lookup,
    )  # fmt: skip
    assert report.written == ["s1.2.call"]
    (event,) = ours(cal)
    assert event.summary == "Call 王芳" and "Phone" not in event.description


def test_dry_run_preview_writes_nothing(store: Store) -> None:
    d = decision([OUT, STEP1], at(5, 10))
    events = preview_reminders(
        store, [d], at(5, 10), locale="zh-CN", templates_dir=None, calendar=CAL,
        phone_lookup=lambda _: None,
    )  # fmt: skip
    assert [e.ghostwatch_key for e in events] == ["s1.2.call"]
    with store.reader() as s:
        assert s.query(Reminder).count() == 0


def test_a_reminder_retried_after_its_time_moves_to_the_next_slot(store: Store) -> None:
    d = decision([OUT, STEP1], at(5, 10))
    drafted(store, "s1.2", at(5, 10))
    broken = type("Down", (MemoryCalendar,), {"find_event": _down})()
    assert write(store, broken, [d], at(5, 10)).failed == ["s1.2.call"]
    cal = MemoryCalendar()
    pending = decision([OUT, STEP1, DraftWritten(at(5, 10), 2, "s1")], at(6, 14, 20))
    assert write(store, cal, [pending], at(6, 14, 20)).written == ["s1.2.call"]
    (event,) = ours(cal)
    assert (event.start, event.end) == (at(6, 14, 30), at(6, 14, 45))
