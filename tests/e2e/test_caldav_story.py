"""The calendar side through the CLI, on real Radicale and Xandikos.

Mail is a Maildir (see test_maildir_story.py for the mail side); the calendar is
a real CalDAV server. "Another client" (the consultant's phone) writes events
with python-caldav's plain PUT.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from daemon.demo import mail as sample
from tests.contract.test_caldav_contract import (  # noqa: F401  (module-scoped server fixtures)
    CaldavHarness,
    radicale,
    radicale_settings,
    xandikos,
)
from tests.e2e.conftest import Desk
from tests.servers import radicale as radicale_server

_names = itertools.count()
WANG = sample.OUTREACH[0]  # Mon 2 Nov 09:30

INTERVIEW = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//phone//EN\r\nBEGIN:VEVENT\r\n"
    "UID:interview-wang\r\nDTSTAMP:20261101T000000Z\r\nSEQUENCE:{seq}\r\n"
    "DTSTART;TZID=Asia/Shanghai:{start}\r\nDTEND;TZID=Asia/Shanghai:{end}\r\n"
    "SUMMARY:面试 王芳\r\nORGANIZER:mailto:li.lei@hunter.example\r\n"
    "ATTENDEE;PARTSTAT=ACCEPTED:mailto:wang.fang@candidate.example\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture(params=["radicale", "xandikos"])
def dav(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[CaldavHarness, str]:
    name = f"story-{next(_names)}"
    if request.param == "radicale":
        server = request.getfixturevalue("radicale")
        settings = radicale_settings(server, tmp_path, calendar=name)
        secret = tmp_path / "dav.secret"
        extra = f'username = "{radicale_server.USER}"\npassword_file = "{secret}"\n'
    else:
        from connectors.caldav import Settings

        server = request.getfixturevalue("xandikos")
        settings = Settings(url=server.url, calendar=name, timeout=10)
        extra = ""
    table = f'\n[accounts.calendar]\ntype = "caldav"\nurl = "{server.url}"\n'
    table += f'calendar = "{name}"\n{extra}'
    return CaldavHarness(settings), table


@pytest.fixture
def story(
    desk_factory: Callable[..., Desk], dav: tuple[CaldavHarness, str]
) -> tuple[Desk, CaldavHarness]:
    harness, table = dav
    desk = desk_factory()
    with desk.config.open("a", encoding="utf-8") as f:
        f.write(table)
    desk.deliver(WANG)
    return desk, harness


def test_call_reminder_once_then_a_meeting_ends_it_and_a_reschedule_is_flagged(
    story: tuple[Desk, CaldavHarness],
) -> None:
    desk, dav = story
    desk.gw("once", now="2026-11-03T10:00+08:00")
    desk.send_draft(sample.WANG[1], at="2026-11-03T10:30+08:00")
    desk.gw("once", now="2026-11-05T10:00+08:00")  # T+3: step 2 and its call
    assert dav.count_items() == 1
    code, _ = desk.gw("once", now="2026-11-05T10:05+08:00")
    assert code == 0 and dav.count_items() == 1  # never a second event
    (ics,) = [dav.read_foreign(n) for n in _names_on(dav)]
    assert ics is not None and b"VALARM" in ics and b"X-GHOSTWATCH-KEY" in ics

    def interview(seq: int, start: str, end: str) -> None:
        data = INTERVIEW.format(seq=seq, start=start, end=end).encode()
        assert dav.write_foreign("interview-wang.ics", data)

    interview(0, "20261110T140000", "20261110T150000")
    desk.gw("once", now="2026-11-05T11:00+08:00")
    interview(1, "20261111T140000", "20261111T150000")
    desk.gw("once", now="2026-11-05T12:00+08:00")
    interview(2, "20261112T140000", "20261112T150000")
    desk.gw("once", now="2026-11-05T13:00+08:00")
    (row,) = [r for r in desk.status("2026-11-05T13:00+08:00") if r["contact"] == sample.WANG[1]]
    assert row["state"] == "met"
    assert "rescheduled" in row["red_flags"]
    assert dav.read_foreign("interview-wang.ics") is not None  # the user's event is untouched


def _names_on(dav: CaldavHarness) -> list[str]:
    import caldav

    cal = caldav.Calendar(client=dav.other, url=dav.calendar_url)
    return [str(e.url).rsplit("/", 1)[-1] for e in cal.get_events()]


LEAVE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//phone//EN\r\nBEGIN:VEVENT\r\n"
    "UID:leave-1\r\nDTSTAMP:20261101T000000Z\r\nDTSTART;VALUE=DATE:20261105\r\n"
    "DTEND;VALUE=DATE:20261106\r\nSUMMARY:年假\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_on_leave_the_backup_gets_the_call_in_their_calendar(
    desk_factory: Callable[..., Desk], dav: tuple[CaldavHarness, str], tmp_path: Path
) -> None:
    owner_cal, owner_table = dav
    # A second calendar on the same server for the colleague, and their own Maildir.
    backup_cal = CaldavHarness(replace(owner_cal.settings, calendar=f"backup-{next(_names)}"))
    backup_table = owner_table.replace(
        f'calendar = "{owner_cal.settings.calendar}"',
        f'calendar = "{backup_cal.settings.calendar}"',
    )
    desk = desk_factory()
    sample.create(tmp_path / "HanMail")
    text = desk.config.read_text(encoding="utf-8")
    text = text.replace('locale = "zh-CN"\n', 'locale = "zh-CN"\nbackup = "han"\n', 1)
    text += owner_table
    text += (
        '\n[[accounts]]\nname = "han"\naddress = "han.meimei@hunter.example"\n'
        f'display_name = "韩梅梅"\n[accounts.mail]\ntype = "maildir"\n'
        f'path = "{tmp_path / "HanMail"}"\n' + backup_table
    )
    desk.config.write_text(text, encoding="utf-8")
    assert owner_cal.write_foreign("leave-1.ics", LEAVE.encode())
    desk.deliver(WANG)
    desk.gw("once", now="2026-11-03T10:00+08:00")
    desk.send_draft(sample.WANG[1], at="2026-11-03T10:30+08:00")
    desk.gw("once", now="2026-11-05T10:00+08:00")  # T+3 while on leave
    assert backup_cal.count_items() == 1  # the call reminder went to the colleague
    assert owner_cal.count_items() == 1  # only the leave itself: nothing of ours
    assert desk.drafts() == []  # the draft waits in the colleague's Drafts
    assert len(list((tmp_path / "HanMail" / ".Drafts" / "cur").iterdir())) == 1
