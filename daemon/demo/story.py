"""The demo's story: a week of outreach replayed with simulated time.

Every cycle runs the real code path (`run_cycle`) against a real Maildir and
the real database, with `now` set to the story's clock.
"""

from __future__ import annotations

import logging
import mailbox
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from functools import partial
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from daemon.act.reminders import reminder_slot
from daemon.cli.present import print_draft, print_status
from daemon.config.loader import load_config
from daemon.db.calendar_tables import Reminder
from daemon.demo import mail as sample
from daemon.runtime.cycle import CycleReport, run_cycle
from daemon.runtime.wiring import open_app

_CAL_HINT = "calendar/work/*.ics, e.g. with khal"
CONFIG = """\
# Written by `ghostwatch demo`: a Maildir account, nothing leaves this folder.
[daemon]
database = "sqlite:///{root}/ghostwatch.db"
lookback = "30d"

[policy]
timezone = "Asia/Shanghai"
holidays = "CN"
working_hours = "09:00-18:00"
internal_domains = ["hunter.example"]
ignore = ["*noreply*", "news@*"]

[[policy.rules]]
when = {{ role = "exec" }}
steps = ["3bd", "10bd", "20bd"]

[[policy.rules]]
when = {{ subject = "(?i)offer|录用" }}
set = {{ stage = "offer" }}

# "Company｜Title 机会" subjects name the job in drafts and reminders.
[[policy.rules]]
when = {{ subject = '(?P<company>[^|｜]+)[|｜]\\s*(?P<title>[^|｜]+?)\\s*(职位|机会|role)' }}

[[policy.rules]]
when = {{ kind = "client", subject = "数据平台负责人" }}
set = {{ title = "数据平台负责人" }}

[[accounts]]
name = "demo"
address = "li.lei@hunter.example"
display_name = "李雷"
locale = "zh-CN"

[accounts.mail]
type = "maildir"
path = "{root}/Mail"

[accounts.calendar]
type = "vdir"
path = "{root}/calendar"
calendar = "work"
"""


@dataclass(frozen=True)
class Scene:
    now: datetime
    title: str
    before: Callable[[Path, datetime], str | None] | None = None


def approve(contact: str) -> Callable[[Path, datetime], str | None]:
    """What sending from the mail client does: the draft, dated now, moves to Sent."""

    def act(root: Path, when: datetime) -> str | None:
        box = mailbox.Maildir(root / "Mail", create=False)
        drafts, sent = box.get_folder("Drafts"), box.get_folder("Sent")
        for key, msg in drafts.items():
            if msg.get("X-Ghostwatch-Key") and contact in (msg.get("To") or ""):
                sent_msg = mailbox.MaildirMessage(msg)
                del sent_msg["Date"]
                sent_msg["Date"] = format_datetime(when)
                sent_msg.set_flags("S")
                sent_msg.set_subdir("cur")
                sent.add(sent_msg)
                drafts.remove(key)
                return f"You open Drafts, read the follow-up to {contact} and press send."
        return None

    return act


def meeting(
    contact: tuple[str, str], start: datetime, note: str
) -> Callable[[Path, datetime], str | None]:
    """Another client (your phone, Outlook) puts a meeting with the contact into the calendar."""

    def act(root: Path, when: datetime) -> str | None:
        # Written as another client would, with attendees (ghostwatch never writes any).
        stamp = "%Y%m%dT%H%M%SZ"
        utc = ZoneInfo("UTC")
        ics = "\r\n".join(
            [
                "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//demo//phone//EN", "BEGIN:VEVENT",
                f"UID:interview-{contact[1]}", f"DTSTAMP:{when.astimezone(utc).strftime(stamp)}",
                f"DTSTART:{start.astimezone(utc).strftime(stamp)}",
                f"DTEND:{(start + timedelta(hours=1)).astimezone(utc).strftime(stamp)}",
                f"SUMMARY:面试 {contact[0]}", f"ORGANIZER:mailto:{sample.ME[1]}",
                f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{contact[1]}",
                "END:VEVENT", "END:VCALENDAR", "",
            ]
        )  # fmt: skip
        (root / "calendar" / "work" / f"interview-{contact[1]}.ics").write_text(ics, "utf-8")
        return note

    return act


def arrive(letter: sample.Mail, note: str) -> Callable[[Path, datetime], str | None]:
    def act(root: Path, when: datetime) -> str | None:
        sample.deliver(root / "Mail", letter)
        return note

    return act


SCENES = [
    Scene(
        sample.at(0, 18), "Monday 18:00 - seven mails went out today; ghostwatch reads the mailbox"
    ),
    Scene(sample.at(1, 11), "Tuesday 11:00 - one business day of silence (T+1)"),
    Scene(
        sample.at(1, 16),
        "Tuesday 16:00 - Emma answers",
        arrive(sample.EMMA_REPLY, "Emma Clarke replies: happy to talk on Thursday."),
    ),
    Scene(sample.at(2, 9, 30), "Wednesday 09:30 - you approve a draft", approve(sample.WANG[1])),
    Scene(sample.at(3, 10), "Thursday 10:00 - T+3: restate the opportunity, and call"),
    Scene(
        sample.at(3, 11),
        "Thursday 11:00 - you send it; the CTO search runs on the exec cadence (3bd, 10bd, 20bd)",
        approve(sample.WANG[1]),
    ),
    Scene(
        sample.at(7, 17),
        "Next Monday 17:00 - Zhang Wei, back from leave, books an interview",
        meeting(sample.ZHANG, sample.at(9, 14), "An interview with 张伟 appears in your calendar."),
    ),
    Scene(sample.at(8, 10), "Next Tuesday 10:00 - T+6: the closing note", approve(sample.HR[1])),
    Scene(sample.at(8, 11), "Tuesday 11:00 - you send the closing note", approve(sample.WANG[1])),
    Scene(sample.at(11, 12), "Friday 12:00 - three business days after the last step"),
]


def run_demo(directory: Path | None, out: TextIO = sys.stdout) -> int:
    root = (
        Path(directory).resolve()
        if directory
        else Path(tempfile.mkdtemp(prefix="ghostwatch-demo-"))
    )
    for old in ("Mail", "calendar"):
        if (root / old).exists():
            shutil.rmtree(root / old)
    (root / "ghostwatch.db").unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    sample.create(root / "Mail")
    (root / "calendar" / "work").mkdir(parents=True)
    for letter in [*sample.OUTREACH, *sample.INBOUND_DAY0, sample.bounce_for_liu()]:
        sample.deliver(root / "Mail", letter)
    (root / "config.toml").write_text(CONFIG.format(root=root), encoding="utf-8")
    # The story is the output; the daemon's own log lines would drown it.
    logging.getLogger().setLevel(logging.WARNING)
    app = open_app(load_config(root / "config.toml"))
    account = app.config.accounts[0]
    tz = ZoneInfo(app.config.policy.timezone)
    cal = app.policy(account).calendar
    print(f"ghostwatch demo: a sample mailbox in {root / 'Mail'}\n", file=out)
    for scene in SCENES:
        print(f"== {scene.title}", file=out)
        if scene.before:
            note = scene.before(root, scene.now)
            if note:
                print(f"   {note}", file=out)
        report = run_cycle(app, account, scene.now, show_progress=False)
        with app.store.reader() as s:
            rows = (s.get(Reminder, key) for key in report.reminders.written)
            summaries = {row.key: row.summary for row in rows if row is not None}
        _tell(report, tz, out, summaries, partial(reminder_slot, now=scene.now, calendar=cal))
        print(file=out)
    print("== Where every thread stands", file=out)
    from daemon.cli.commands import all_decisions

    decisions = [d for d in all_decisions(app, sample.at(11, 12)) if d.current]
    print_status(decisions, tz, out)
    print(
        f"\nEverything is in {root}: Mail/ (open it with mutt -f), config.toml, ghostwatch.db",
        file=out,
    )
    print(f"Try: ghostwatch --config {root / 'config.toml'} --now 2026-11-13T12:00+08:00 "
          f"explain {sample.WANG[1]}", file=out)  # fmt: skip
    app.store.close()
    return 0


def _tell(
    report: CycleReport,
    tz: ZoneInfo,
    out: TextIO,
    summaries: dict[str, str],
    slot: Callable[[datetime], datetime],
) -> None:
    sync = report.sync
    if sync and sync.new:
        print(f"   read {sync.new} new message(s)", file=out)
    for d in report.ended:
        rec = d.run.record
        print(f"   {d.facts.contact}: {rec.state.value} ({rec.outcome_reason})", file=out)
    for key in report.outbox.withdrawn:
        print(f"   withdrew the untouched draft {key}: nobody needs it now", file=out)
    for d, step, body in report.outbox.written:
        print_draft(d, step, body, tz, out, prefix="   wrote to Drafts: ", slot=slot)
    for key in report.reminders.written:
        what = f": {summaries[key]}" if key in summaries else ""
        print(f"   calendar: reminder {key} written{what} (open {_CAL_HINT})", file=out)
    for key in report.reminders.removed:
        print(f"   calendar: reminder {key} removed, the sequence ended", file=out)
    if report.outbox.deferred:
        print(f"   {report.outbox.deferred} more held back by max_drafts_per_cycle", file=out)
