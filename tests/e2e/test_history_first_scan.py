"""Issue 8 items 1-2 on a real Dovecot mailbox: the first scan of five weeks of history.

ghostwatch is installed on a mailbox whose outreach is up to five weeks old. The
first `ghostwatch once` (a separate process, once with `--now` and once on the
real clock, every message dated relative to it) must give each old thread the
outcome its history shows: answered the same day or in a new thread, bounced,
met (a meeting in the vdir calendar), or truly silent (ghosted, no draft). A
thread still inside its playbook gets only the step its schedule has reached,
dated from first sight. `report` right after shows those outcomes, and a late
reply from the ghosted contact revives the thread as a return.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.policy import parse_duration
from tests.e2e.imap_desk import LI, ImapDesk, mail, running_dovecot
from tests.e2e.test_dovecot_cli import dsn
from tests.servers.dovecot import Dovecot

SH = ZoneInfo("Asia/Shanghai")
# A Monday in the past: the server stamps what the test appends with the wall clock
# (Dovecot clamps a future INTERNALDATE to now), and a Date more than a few minutes
# after that receipt time is not believed (issue 9.1).
FIXED_NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SH)

SAME_DAY = ("周明", "zhou.ming@cand.example")
NEW_THREAD = ("Anna Berg", "anna@mail.example")
BOUNCED = ("刘洋", "gone@old.example")
MET = ("陈静", "chen.jing@client.example")
SILENT = ("吴昊", "wu.hao@cand.example")
RUNNING = ("林峰", "lin.feng@cand.example")  # inside its playbook at first scan
AGAIN = ("郑爽", "zheng@cand.example")  # silent, then reached again in a new thread

MEETING = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:meeting-chen
DTSTAMP:{stamp}
DTSTART:{start}
DTEND:{end}
SUMMARY:Coffee with 陈静
ATTENDEE;CN=陈静;PARTSTAT=ACCEPTED:mailto:chen.jing@client.example
ATTENDEE;CN=李雷:mailto:li.lei@hunter.example
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def ics_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def running_start(now: datetime) -> datetime:
    """An outreach whose step 2 (3 bd) fell due within the last hour: step 3 (6 bd) is days away."""
    cal = BusinessCalendar("Asia/Shanghai", "CN", (time(9), time(18)))
    step2 = parse_duration("3bd")
    start = now - timedelta(hours=1)
    while cal.add(start, step2).at > now - timedelta(minutes=10):
        start -= timedelta(hours=1)
    return start


@dataclass
class History:
    """Five weeks of a consultant's mail, dated relative to `now`."""

    desk: ImapDesk
    now: datetime
    calendar: Path

    def day(self, days_ago: int, hour: int) -> datetime:
        local = (self.now - timedelta(days=days_ago)).astimezone(SH)
        return local.replace(hour=hour, minute=0, second=0, microsecond=0)

    @property
    def silent_at(self) -> datetime:
        return self.day(35, 11)

    def seed(self) -> None:
        d = self.desk
        d.outreach(SAME_DAY, "Go 团队负责人机会", iso(self.day(35, 10)), "h1@h")
        d.append(
            "INBOX",
            mail(
                SAME_DAY,
                LI,
                "Re: Go 团队负责人机会",
                iso(self.day(35, 15)),
                "r1@c",
                reply_to="h1@h",
            ),
        )
        d.outreach(SILENT, "数据平台职位", iso(self.silent_at), "h5@h")
        d.outreach(NEW_THREAD, "Staff engineer role", iso(self.day(34, 10)), "h2@h")
        d.append(
            "INBOX",
            mail(
                NEW_THREAD,
                LI,
                "About the role you mentioned",
                iso(self.day(33, 9)),
                "r2@m",
                body="Happy to talk on Friday.",
            ),
        )
        d.outreach(BOUNCED, "交流一下", iso(self.day(33, 14)), "h3@h")
        d.append(
            "INBOX",
            dsn(BOUNCED[1], "5.1.1", iso(self.day(33, 14) + timedelta(minutes=1)), "d3@mx", "h3@h"),
        )
        d.outreach(MET, "短名单", iso(self.day(32, 10)), "h4@h")
        start = self.day(30, 15)
        (self.calendar / "meeting-chen.ics").write_text(
            MEETING.format(
                stamp=ics_time(start),
                start=ics_time(start),
                end=ics_time(start + timedelta(hours=1)),
            ),
            encoding="utf-8",
        )
        d.outreach(RUNNING, "架构师职位", iso(running_start(self.now)), "h6@h")
        d.outreach(AGAIN, "产品经理职位", iso(self.day(35, 16)), "h7@h")
        d.outreach(AGAIN, "另一个机会", iso(self.day(3, 10)), "h8@h")
        d.append(
            "INBOX",
            mail(AGAIN, LI, "Re: 另一个机会", iso(self.day(2, 11)), "r8@c", reply_to="h8@h"),
        )


@pytest.fixture(params=["--now", "real clock"])
def history(request: pytest.FixtureRequest, dovecot: Dovecot, tmp_path: Path) -> History:
    desk = ImapDesk.create(dovecot, tmp_path, timeout=30.0)  # 2 shared cores: be patient
    calendar = tmp_path / "calendar"
    calendar.mkdir()
    text = desk.config.read_text(encoding="utf-8").replace('lookback = "30d"', 'lookback = "90d"')
    text += f'\n[accounts.calendar]\ntype = "vdir"\npath = "{calendar}"\n'
    desk.config.write_text(text, encoding="utf-8")
    fixed = request.param == "--now"
    now = FIXED_NOW if fixed else datetime.now(SH)
    story = History(desk, now, calendar)
    story.seed()
    story.fixed = fixed  # type: ignore[attr-defined]
    return story


def once_process(h: History, at: datetime) -> None:
    """The first run as the user starts it: its own process, on the real clock or `--now`."""
    now = iso(at) if h.fixed else None  # type: ignore[attr-defined]
    proc = h.desk.gw_process("once", now=now)
    try:
        code = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    log = (h.desk.root / "process.log").read_text(encoding="utf-8", errors="replace")
    assert code == 0, log


def when(h: History, at: datetime) -> str | None:
    return iso(at) if h.fixed else None  # type: ignore[attr-defined]


def test_first_scan_gives_history_its_true_outcomes_and_a_late_reply_revives(
    history: History,
) -> None:
    h, desk = history, history.desk
    once_process(h, h.now)

    listed = json.loads(desk.ok("status", "--all", "--json", now=when(h, h.now)))
    assert sorted((r["contact"], r["state"]) for r in listed) == sorted(
        [
            (SAME_DAY[1], "replied"),
            (NEW_THREAD[1], "replied"),
            (BOUNCED[1], "undeliverable"),
            (MET[1], "met"),
            (SILENT[1], "ghosted"),
            (RUNNING[1], "draft_pending"),
            # The answer to the new outreach is that sequence's; the old one stays ghosted.
            (AGAIN[1], "ghosted"),
            (AGAIN[1], "replied"),
        ]
    )
    again = [r for r in listed if r["contact"] == AGAIN[1]]
    assert [r["returned_from"] for r in again] == [None, None]
    assert {r["subject"]: r["state"] for r in again} == {
        "产品经理职位": "ghosted",
        "另一个机会": "replied",
    }
    rows = {r["contact"]: r for r in listed if r["contact"] != AGAIN[1]}
    assert rows[NEW_THREAD[1]]["outcome"].endswith("in a new thread")
    assert rows[SAME_DAY[1]]["ended_at"] == iso(h.day(35, 15).astimezone(SH))
    silent = rows[SILENT[1]]
    assert silent["outcome"] == "whole playbook already in the past when first seen"
    assert datetime.fromisoformat(silent["ended_at"]) < h.now - timedelta(days=14)

    # No draft for any old thread; the running one gets step 2 only (step 1 fell due unseen).
    keys = desk.keys()
    assert len(keys) == 1 and keys[0].endswith(".2"), keys
    assert RUNNING[1] in desk.draft_to(RUNNING[1]).header("To")
    assert rows[RUNNING[1]]["steps_done"] == 0  # step 1 was skipped, not sent
    explain = desk.ok("explain", RUNNING[1], now=when(h, h.now))
    assert "fell due before ghostwatch first saw the thread: not drafted" in explain
    # Its call reminder is not back-dated to when step 2 fell due, before ghostwatch ran.
    reminders = [p for p in h.calendar.glob("*.ics") if p.name.startswith("ghostwatch")]
    assert len(reminders) == 1, reminders  # the call for step 2; nothing for the history
    for path in reminders:
        (event,) = Calendar.from_ical(path.read_bytes()).walk("VEVENT")
        assert event.decoded("DTSTART") >= h.now - timedelta(minutes=1)

    # The explain of an old answered thread lists the reply as what ended it.
    trail = desk.ok("explain", SAME_DAY[1], now=when(h, h.now))
    assert "after the sequence ended" not in trail
    assert "sequence ends replied" in trail

    # The case library starts from the history.
    report = json.loads(desk.ok("report", "--format", "json", now=when(h, h.now)))
    outcomes = sorted((c["contact"], c["outcome"]) for c in report["cases"])
    assert outcomes == sorted(
        [
            (SAME_DAY[1], "replied"),
            (NEW_THREAD[1], "replied"),
            (BOUNCED[1], "undeliverable"),
            (MET[1], "met"),
            (SILENT[1], "ghosted"),
            (AGAIN[1], "ghosted"),
            (AGAIN[1], "replied"),
        ]
    )

    # Weeks later the silent contact writes back in the thread: a return.
    reply_at = (
        h.now + timedelta(hours=1)
        if h.fixed
        else datetime.now(SH).replace(microsecond=0) - timedelta(seconds=5)
    )  # type: ignore[attr-defined]
    desk.append(
        "INBOX", mail(SILENT, LI, "Re: 数据平台职位", iso(reply_at), "r5@c", reply_to="h5@h")
    )
    later = reply_at + timedelta(hours=1)
    once_process(h, later)
    days = int((reply_at - h.silent_at).total_seconds() // 86400)
    row = desk.row(when(h, later), SILENT[1])
    assert row["state"] == "replied"
    assert (row["returned_from"], row["returned_after_days"]) == ("ghosted", days)
    assert row["outcome"].startswith(f"returned after {days} days")
    status = desk.ok("status", now=when(h, later))
    assert f"returned after {days} days" in status
    explain = desk.ok("explain", SILENT[1], now=when(h, later))
    assert f"returned after {days} days; was ghosted" in explain
    report = json.loads(desk.ok("report", "--format", "json", now=when(h, later)))
    (case,) = [c for c in report["cases"] if c["contact"] == SILENT[1]]
    assert case["outcome_history"] == ["ghosted", "returned"]
    assert desk.keys() == keys  # still no draft for the old threads


def test_a_ghosted_contact_writing_a_new_thread_is_recorded_as_a_return(
    history: History,
) -> None:
    """The daemon's stored case, not only a replay: the old thread is decided again when
    its contact writes anywhere (issue 8.2, "in the thread or a new one")."""
    h, desk = history, history.desk
    once_process(h, h.now)
    reply_at = (
        h.now + timedelta(hours=1)
        if h.fixed
        else datetime.now(SH).replace(microsecond=0) - timedelta(seconds=5)
    )  # type: ignore[attr-defined]
    desk.append("INBOX", mail(SILENT, LI, "Still looking?", iso(reply_at), "r9@c"))
    later = reply_at + timedelta(hours=1)
    once_process(h, later)
    report = json.loads(desk.ok("report", "--format", "json", now=when(h, later)))
    (case,) = [c for c in report["cases"] if c["contact"] == SILENT[1]]
    assert case["outcome_history"] == ["ghosted", "returned"]
