"""The calendar side of the story on real files: mail through the `ghostwatch` CLI on a
Maildir, reminders and signals through the vdir connector on a directory of .ics files."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

import daemon.decide.replay as decide_module
from connectors.vdir import Settings, VdirCalendar
from daemon.act.reminders import remove_ended, write_reminders
from daemon.config.loader import load_config
from daemon.db.calendar_tables import CalendarEntry, Reminder
from daemon.db.tables import Base
from daemon.decide.calendar_signals import calendar_events_for
from daemon.decide.replay import Decision, evaluate
from daemon.decide.stored import account_id, threads_to_decide
from daemon.demo import mail as sample
from daemon.ingest.calendar import load_entries, sync_calendar
from daemon.runtime.wiring import App, open_app
from daemon.tracker.states import Event
from tests.e2e.conftest import Desk

WANG = sample.OUTREACH[0]  # Mon 2 Nov 09:30, gw:role:tech
ADDR = sample.WANG[1]
PHONE = "+8613800138000"
DRAFT2_AT = "2026-11-05T17:50+08:00"  # step 2 is written late in the day: the call is tomorrow

USER_MEETING = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//khal//EN
BEGIN:VEVENT
UID:team-sync-1
DTSTAMP:20261101T000000Z
DTSTART;TZID=Asia/Shanghai:20261106T090000
DTEND;TZID=Asia/Shanghai:20261106T100000
SUMMARY:Team sync
ATTENDEE:mailto:boss@hunter.example
END:VEVENT
END:VCALENDAR
"""

INTERVIEW = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Outlook//EN
BEGIN:VEVENT
UID:interview-wang
DTSTAMP:20261101T000000Z
DTSTART;TZID=Asia/Shanghai:{start}
DTEND;TZID=Asia/Shanghai:{end}
SUMMARY:面试：王芳 / 数据平台
ORGANIZER;CN=陈静:mailto:chen.jing@client.example
ATTENDEE;CN=王芳;PARTSTAT=ACCEPTED:mailto:wang.fang@candidate.example
ATTENDEE;CN=李雷:mailto:li.lei@hunter.example
END:VEVENT
END:VCALENDAR
"""


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Story:
    """The consultant's desk plus the calendar directory and ghostwatch's own store."""

    def __init__(self, desk: Desk, root: Path) -> None:
        self.desk = desk
        self.dir = root / "calendar"
        self.dir.mkdir()
        (self.dir / "team-sync-1.ics").write_text(USER_MEETING, encoding="utf-8")
        self.calendar = VdirCalendar(Settings(path=str(self.dir), timezone="Asia/Shanghai"))
        self.app: App = open_app(load_config(desk.config))
        Base.metadata.create_all(self.app.store.engine)  # the calendar tables (no migration yet)
        self.account = self.app.config.accounts[0]
        self.policy = self.app.policy(self.account)
        with self.app.store.reader() as s:
            acct = account_id(s, "work")
        assert acct is not None
        self.acct = acct

    def decisions(self, now: datetime) -> list[Decision]:
        with self.app.store.reader() as s:
            tids = threads_to_decide(s, self.acct, everything=True)
            return evaluate(s, "work", self.policy, now, tids)

    def wang(self, decisions: Sequence[Decision]) -> Decision:
        (d,) = [d for d in decisions if d.facts.contact == ADDR and d.current]
        return d

    def write(self, now: datetime) -> Any:
        return write_reminders(
            self.app.store, self.acct, self.calendar, self.decisions(now), now,
            locale=self.account.locale, templates_dir=None, calendar=self.policy.calendar,
            phone_lookup=lambda d: PHONE if d.facts.contact == ADDR else None,
        )  # fmt: skip

    def sync(self, now: datetime) -> None:
        sync_calendar(
            self.app.store, self.acct, self.calendar, now, lookback=self.app.config.daemon.lookback
        )

    def files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in self.dir.glob("*.ics")}

    def ours(self) -> list[Any]:
        found = []
        for data in self.files().values():
            for ev in Calendar.from_ical(data).walk("VEVENT"):
                if ev.get("X-GHOSTWATCH-KEY"):
                    found.append(ev)
        return found


@pytest.fixture
def story(desk: Desk, tmp_path: Path) -> Iterator[Story]:
    desk.deliver(WANG)
    desk.gw("once", now="2026-11-03T10:00+08:00")
    desk.send_draft(ADDR, at="2026-11-03T10:40+08:00")
    desk.gw("once", now="2026-11-03T11:00+08:00")
    code, _ = desk.gw("once", now=DRAFT2_AT)  # step 2's draft goes to Drafts
    assert code == 0
    (draft,) = desk.drafts()
    assert draft["X-Ghostwatch-Key"].endswith(".2")
    built = Story(desk, tmp_path)
    yield built
    built.app.store.close()


def test_call_reminder_is_written_once_and_removed_when_the_contact_replies(
    story: Story,
) -> None:
    user_files = story.files()
    report = story.write(t(DRAFT2_AT))
    assert len(report.written) == 1 and report.written[0].endswith(".2.call")
    (event,) = story.ours()
    assert str(event["SUMMARY"]) == "给王芳打电话"
    assert event.decoded("DTSTART") == t("2026-11-06T09:00+08:00")
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    (alarm,) = event.walk("VALARM")
    assert alarm.decoded("TRIGGER").total_seconds() == -600
    description = str(event["DESCRIPTION"])
    for fact in (ADDR, PHONE, WANG.subject, "角色标签：tech"):
        assert fact in description

    # Again, and after a crash that lost the answer: still exactly one event.
    assert story.write(t("2026-11-05T17:55+08:00")).written == []
    with story.app.store.transaction() as s:
        row = s.get(Reminder, report.written[0])
        assert row is not None
        row.state, row.href, row.etag = "intent", None, None
    assert story.write(t("2026-11-05T17:56+08:00")).found == report.written
    assert len(story.ours()) == 1

    story.sync(t("2026-11-05T18:00+08:00"))
    with story.app.store.reader() as s:
        rows = {r.uid: r.is_ghostwatch for r in s.query(CalendarEntry)}
    assert rows == {"team-sync-1": False, f"ghostwatch-{report.written[0]}@ghostwatch": True}

    story.desk.deliver(
        sample.Mail(
            "", sample.WANG, sample.ME, f"Re: {WANG.subject}",
            f"李老师好，刚看到，明天上午方便通话。\n\n王芳\n手机 {PHONE[3:]}\n",
            t("2026-11-05T18:30+08:00"), "wang-reply@candidate.example",
            in_reply_to=WANG.msgid,
        )
    )  # fmt: skip
    story.desk.gw("once", now="2026-11-05T18:40+08:00")
    decisions = story.decisions(t("2026-11-05T18:40+08:00"))
    assert story.wang(decisions).state == "replied"
    removed = remove_ended(
        story.app.store, story.acct, story.calendar, decisions, t("2026-11-05T18:40+08:00")
    )
    assert removed.removed == report.written
    assert story.ours() == []
    assert story.files() == user_files  # the consultant's own events, byte for byte


JOB_RULE = """
[[policy.rules]]
when = { subject = '(?P<company>[^|｜]+)[|｜]\\s*(?P<title>[^|｜]+?)\\s*(职位|机会|role)' }
"""


def test_the_draft_and_the_call_reminder_name_the_job(
    desk_factory: Callable[..., Desk], tmp_path: Path
) -> None:
    desk = desk_factory(rules=JOB_RULE)
    desk.deliver(dataclasses.replace(WANG, subject="示例科技｜高级产品经理 机会"))
    desk.gw("once", now="2026-11-03T10:00+08:00")
    (draft,) = desk.drafts()
    body = draft.get_payload(decode=True).decode()
    assert "想跟进一下示例科技“高级产品经理”这个机会" in body
    desk.send_draft(ADDR, at="2026-11-03T10:40+08:00")
    desk.gw("once", now="2026-11-03T11:00+08:00")
    desk.gw("once", now=DRAFT2_AT)
    (draft,) = desk.drafts()
    assert "示例科技“高级产品经理”" in draft.get_payload(decode=True).decode()

    story = Story(desk, tmp_path)
    try:
        story.write(t(DRAFT2_AT))
        (event,) = story.ours()
    finally:
        story.app.store.close()
    assert str(event["SUMMARY"]) == "给王芳打电话：高级产品经理 @ 示例科技"
    description = str(event["DESCRIPTION"])
    assert "职位：高级产品经理（示例科技）" in description
    assert "角色标签：tech" in description  # the role tag is still a category line of its own


def test_a_meeting_with_the_contact_ends_the_sequence_met_and_flags_rescheduling(
    story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    story.write(t(DRAFT2_AT))
    assert len(story.ours()) == 1
    interview = story.dir / "interview-wang.ics"
    # The client's HR books the interview, then moves it twice (Outlook rewrites the file).
    times = [
        ("2026-11-05T18:10", "20261110T140000", "20261110T150000"),
        ("2026-11-05T18:20", "20261111T140000", "20261111T150000"),
        ("2026-11-05T18:30", "20261112T100000", "20261112T110000"),
    ]
    for seen, start, end in times:
        interview.write_text(INTERVIEW.format(start=start, end=end), encoding="utf-8")
        story.sync(t(f"{seen}+08:00"))
    with story.app.store.reader() as s:
        entries = load_entries(s, story.acct, since=WANG.when)
    events = calendar_events_for(entries, {ADDR}, WANG.when)
    assert [type(e).__name__ for e in events] == ["RedFlag", "Meeting"]
    assert events[1].at == t("2026-11-05T18:10+08:00")  # when ghostwatch first saw it

    # The wiring decide will get: calendar events join the thread's events.
    original = decide_module.events_for

    def with_calendar(*args: Any, **kw: Any) -> list[Event]:
        tf = args[4]
        extra = calendar_events_for(entries, {tf.contact, *tf.aliases}, tf.first_outbound.at)
        return [*original(*args, **kw), *extra]

    monkeypatch.setattr(decide_module, "events_for", with_calendar)
    now = t("2026-11-05T18:40+08:00")
    decisions = story.decisions(now)
    wang = story.wang(decisions)
    assert (wang.state, wang.run.record.red_flags) == ("met", ("rescheduled",))
    removed = remove_ended(story.app.store, story.acct, story.calendar, decisions, now)
    assert len(removed.removed) == 1 and story.ours() == []
    assert interview.exists()
