"""Issue 8, what a bounce means, through the `ghostwatch` CLI run as a subprocess on a
Maildir with a vdir calendar: a spam-filter rejection keeps the thread open and asks
for a call, a user-unknown bounce ends it with the dead-address reminder."""

from __future__ import annotations

import json
import mailbox
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from icalendar import Calendar

from daemon.demo import mail as sample
from tests.e2e.conftest import Desk

REPO = Path(__file__).resolve().parents[2]
WANG = sample.OUTREACH[0]  # Mon 2 Nov 09:30
EMMA = sample.OUTREACH[1]  # Mon 2 Nov 10:15
SPAM = "554 5.7.1 This message has been identified as spam"
UNKNOWN = "550 5.1.1 <wang.fang@candidate.example>: Recipient address rejected: User unknown"


def dsn(recipient: str, status: str, diagnostic: str, when: str, msgid: str) -> bytes:
    report = (
        "Reporting-MTA: dns; mx.hunter.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
    )
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.hunter.example>\r\n"
        "To: li.lei@hunter.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {when}\r\nMessage-ID: <{msgid}>\r\nAuto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\n"
        "This is the mail system at host mx.hunter.example.\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"--B\r\nContent-Type: message/delivery-status\r\n\r\n{report}\r\n--B--\r\n"
    ).encode()


def put(desk: Desk, raw: bytes, name: str) -> Path:
    """Deliver to INBOX; also keep a copy as a file for `ghostwatch classify`."""
    message = mailbox.MaildirMessage(raw)
    message.set_subdir("cur")
    mailbox.Maildir(desk.root / "Mail", create=False).add(message)
    path = desk.root / name
    path.write_bytes(raw)
    return path


def cli(desk: Desk, *args: str, now: str | None = None) -> str:
    argv = ["--config", str(desk.config), *(["--now", now] if now else []), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "daemon.cli.main", *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_spam_rejection_asks_for_a_call_and_user_unknown_ends_the_thread(
    desk_factory: Callable[..., Desk],
) -> None:
    desk = desk_factory()
    calendar = desk.root / "calendar"
    calendar.mkdir()
    with desk.config.open("a", encoding="utf-8") as f:
        f.write(f'\n[accounts.calendar]\ntype = "vdir"\npath = "{calendar}"\n')
    desk.deliver(WANG)
    desk.deliver(EMMA)
    spam = put(
        desk, dsn(sample.EMMA[1], "5.7.1", SPAM, "Mon, 2 Nov 2026 10:16 +0800", "d1@mx"), "spam.eml"
    )
    gone = put(
        desk,
        dsn(sample.WANG[1], "5.1.1", UNKNOWN, "Mon, 2 Nov 2026 09:31 +0800", "d2@mx"),
        "gone.eml",
    )

    lines = [json.loads(x) for x in cli(desk, "classify", str(spam), str(gone)).splitlines()]
    assert [(x["bounce"]["reason"], x["bounce"]["hard"]) for x in lines] == [
        ("spamdetected", False),
        ("userunknown", True),
    ]
    assert [x["bounce"]["status"] for x in lines] == ["5.7.1", "5.1.1"]  # the status is kept

    now = "2026-11-03T12:00+08:00"  # both step-1 drafts would be due by now
    cli(desk, "once", now=now)
    rows = {r["contact"]: r for r in json.loads(cli(desk, "status", "--all", "--json", now=now))}
    assert rows[sample.WANG[1]]["state"] == "undeliverable"
    emma = rows[sample.EMMA[1]]
    assert (emma["state"], emma["risk"]) == ("waiting", "yellow")  # the thread stays open
    assert desk.drafts() == []  # no email step for either: one address is dead, one refuses us

    events = [Calendar.from_ical(p.read_bytes()) for p in calendar.glob("*.ics")]
    text = "\n".join(
        f"{e.get('summary')}\n{e.get('description')}" for c in events for e in c.walk("VEVENT")
    )
    assert "邮件被拒收（垃圾邮件过滤）" in text  # the account's locale is zh-CN
    assert "请改为打电话或发消息" in text
    assert "邮箱已失效" in text  # the dead-address reminder for Wang
    assert len(events) == 2

    explain = cli(desk, "explain", sample.EMMA[1], now=now)
    assert "spamdetected" in explain
    cli(desk, "once", now=now)
    assert len(list(calendar.glob("*.ics"))) == 2 and desk.drafts() == []  # idempotent
