# ruff: noqa: E501  (the mailbox fixture reads best one message per line)
"""Issue 'Core', done-when: the CLI against a real Dovecot mailbox.

`ghostwatch --config C --now T once --dry-run` then `status --all --json` lists
exactly the silent threads with their next step and due time, the replied and
undeliverable ones with their state, and no colleagues or newsletters.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from email.header import Header
from email.utils import format_datetime
from pathlib import Path

import pytest

from daemon.cli.main import main
from tests.servers.dovecot import Dovecot, MailUser, dovecot_binary, skip_or_fail

ME = "li.lei@hunter.example"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def mail(
    frm: tuple[str, str],
    to: tuple[str, str],
    subject: str,
    when: str,
    msgid: str,
    *,
    reply_to: str | None = None,
    charset: str = "utf-8",
    extra: tuple[tuple[str, str], ...] = (),
    body: str = "…",
    content_type: str = "text/plain; charset=utf-8",
) -> bytes:
    def addr(pair: tuple[str, str]) -> str:
        name, address = pair
        return f"{Header(name, charset).encode()} <{address}>" if name else address

    lines = [
        f"From: {addr(frm)}",
        f"To: {addr(to)}",
        f"Subject: {Header(subject, charset).encode()}",
        f"Date: {format_datetime(_when(when))}",
        f"Message-ID: <{msgid}>",
        "MIME-Version: 1.0",
        f"Content-Type: {content_type}",
    ]
    if reply_to:
        lines += [f"In-Reply-To: <{reply_to}>", f"References: <{reply_to}>"]
    lines += [f"{k}: {v}" for k, v in extra]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode("utf-8")


def dsn(recipient: str, status: str, when: str, msgid: str, original: str) -> bytes:
    boundary = "dsn-boundary"
    body = (
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nDelivery to {recipient} failed.\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.hunter.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {'failed' if status[0] == '5' else 'delayed'}\r\n"
        f"Status: {status}\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{original}>\r\n"
        f"--{boundary}--"
    )
    return mail(
        ("Mail Delivery System", "MAILER-DAEMON@mx.hunter.example"),
        ("", ME),
        "Undelivered Mail Returned to Sender",
        when,
        msgid,
        extra=(("Auto-Submitted", "auto-replied"),),
        body=body,
        content_type=f'multipart/report; report-type=delivery-status; boundary="{boundary}"',
    )


LI = ("李雷", ME)
SENT = [
    (
        ("王芳", "wang.fang@candidate.example"),
        "高级Go工程师机会",
        "2026-11-02T09:30+08:00",
        "o1@h",
        "gbk",
    ),
    (
        ("Emma Clarke", "emma@mail.example"),
        "Staff engineer role",
        "2026-11-02T10:00+08:00",
        "o2@h",
        "utf-8",
    ),
    (
        ("赵敏", "zhao.min@cand.example"),
        "产品总监机会",
        "2026-11-02T10:30+08:00",
        "o3@h",
        "gb18030",
    ),
    (("孫悟", "sun@corp.example"), "架構師職位", "2026-11-02T11:00+08:00", "o4@h", "big5"),
    (("周杰", "zhou@corp.example"), "Offer 确认", "2026-11-02T13:00+08:00", "o5@h", "utf-8"),
    (("刘洋", "dead@old.example"), "交流一下", "2026-11-02T14:00+08:00", "o6@h", "utf-8"),
    (("陈静", "full@busy.example"), "短名单", "2026-11-02T14:30+08:00", "o7@h", "gb18030"),
    (("王总", "boss@hunter.example"), "周报", "2026-11-02T17:00+08:00", "o8@h", "utf-8"),
]
INBOX = [
    mail(("Emma Clarke", "emma@mail.example"), LI, "Re: Staff engineer role", "2026-11-03T09:00+08:00", "r2@m", reply_to="o2@h"),
    mail(("赵敏", "zhao.min@cand.example"), LI, "关于那个职位", "2026-11-03T12:00+08:00", "r3@c", charset="gbk"),
    mail(("孫悟", "sun.home@mail.example"), LI, "Re: 架構師職位", "2026-11-02T14:00+08:00", "r4a@m", reply_to="o4@h", charset="big5"),
    mail(LI, ("孫悟", "sun@corp.example"), "Re: 架構師職位", "2026-11-02T16:00+08:00", "o4b@h", reply_to="r4a@m"),
    mail(("孫悟", "sun.home@mail.example"), LI, "周五可以聊", "2026-11-03T11:00+08:00", "r4b@m", charset="big5"),
    mail(("周杰", "zhou@corp.example"), LI, "自动回复: Offer 确认", "2026-11-02T13:01+08:00", "a5@c", reply_to="o5@h",
         extra=(("Auto-Submitted", "auto-replied"),), body="您好，我正在休假，将于2026年11月9日回到办公室。"),
    dsn("dead@old.example", "5.1.1", "2026-11-02T14:01+08:00", "d6@mx", "o6@h"),
    dsn("full@busy.example", "4.2.2", "2026-11-02T14:31+08:00", "d7@mx", "o7@h"),
    mail(("Tech Weekly", "news@weekly.example"), LI, "This week in Go", "2026-11-03T08:00+08:00", "n1@w",
         extra=(("List-Id", "<weekly.example>"), ("List-Unsubscribe", "<mailto:u@weekly.example>"))),
    mail(("王总", "boss@hunter.example"), LI, "Re: 周报", "2026-11-02T18:00+08:00", "c8@h", reply_to="o8@h"),
]  # fmt: skip
# Where each address the Sent folder's 孫悟 message went (sun's second sequence is o4b).


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if dovecot_binary() is None:
        skip_or_fail("dovecot is not installed (scripts/test installs dovecot-imapd)")
    # Its own temp dir: pytest resets its base dir to 0700, which locks out the mail user.
    server = Dovecot().start()
    yield server
    server.stop()
    server.cleanup()


@pytest.fixture
def desk(
    dovecot: Dovecot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[MailUser, Path]:
    user = dovecot.add_user("consultant")
    monkeypatch.setenv("GW_TEST_IMAP_PASSWORD", user.password)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[daemon]
database = "sqlite:///{tmp_path}/gw.db"
[policy]
internal_domains = ["hunter.example"]
[[accounts]]
name = "work"
address = "{ME}"
display_name = "李雷"
[accounts.mail]
type = "imap"
host = "127.0.0.1"
port = {dovecot.port}
security = "plain"
username = "{user.name}"
password_env = "GW_TEST_IMAP_PASSWORD"
""",
        encoding="utf-8",
    )
    return user, config


def gw(config: Path, capsys: pytest.CaptureFixture[str], *args: str, now: str) -> str:
    capsys.readouterr()
    assert main(["--config", str(config), "--now", now, *args]) == 0
    return capsys.readouterr().out


def test_once_dry_run_then_status_lists_exactly_the_right_threads(
    desk: tuple[MailUser, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    user, config = desk
    for to, subject, when, msgid, charset in SENT:
        user.append("Sent", mail(LI, to, subject, when, msgid, charset=charset), flags=["\\Seen"])
    for raw in INBOX:
        user.append("INBOX", raw)
    now = "2026-11-04T10:00+08:00"
    out = gw(config, capsys, "once", "--dry-run", now=now)
    assert "would write draft step 1" in out
    assert "王芳" in out and "dry run: nothing written" in out
    assert user.uids("Drafts") == []

    rows = json.loads(gw(config, capsys, "status", "--all", "--json", now=now))
    got = sorted((r["contact"], r["state"], r["next_step"], r["next_due"]) for r in rows)
    assert got == sorted(
        [
            ("wang.fang@candidate.example", "waiting", 1, "2026-11-03T09:30:00+08:00"),
            ("emma@mail.example", "replied", None, None),
            ("zhao.min@cand.example", "replied", None, None),  # answered in a new thread
            ("sun@corp.example", "replied", None, None),  # first sequence: alias in the thread
            ("sun@corp.example", "replied", None, None),  # second: the alias in a new thread
            ("zhou@corp.example", "waiting", 1, "2026-11-09T09:00:00+08:00"),  # back on the 9th
            ("dead@old.example", "undeliverable", None, None),
            ("full@busy.example", "waiting", 1, "2026-11-03T14:30:00+08:00"),  # soft bounce
        ]
    )
    names = {r["contact"]: (r["contact_name"], r["subject"]) for r in rows}
    assert names["wang.fang@candidate.example"] == ("王芳", "高级Go工程师机会")  # GBK
    assert names["sun@corp.example"][1] == "架構師職位"  # Big5
    assert names["full@busy.example"] == ("陈静", "短名单")  # GB18030

    open_rows = json.loads(gw(config, capsys, "status", "--json", now=now))
    assert {r["contact"] for r in open_rows} == {
        "wang.fang@candidate.example",
        "zhou@corp.example",
        "full@busy.example",
    }
    for row in open_rows:
        assert set(row) >= {"id", "account", "contact", "subject", "state", "steps_done",
                            "silent_since", "next_step", "next_due", "risk"}  # fmt: skip
        assert row["risk"] in ("green", "yellow", "red")

    explain = gw(config, capsys, "explain", "zhou@corp.example", now=now)
    assert "auto_reply" in explain and "2026-11-09" in explain
    assert "out of office" in explain


def test_uidvalidity_change_rescans_without_duplicates(
    desk: tuple[MailUser, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    user, config = desk
    for to, subject, when, msgid, charset in SENT[:3]:
        user.append("Sent", mail(LI, to, subject, when, msgid, charset=charset), flags=["\\Seen"])
    user.append("INBOX", INBOX[0])
    now = "2026-11-04T10:00+08:00"
    gw(config, capsys, "sync", now=now)
    db = config.parent / "gw.db"

    def live_rows() -> int:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM messages WHERE NOT gone").fetchone()[0])

    before = live_rows()
    user.reset_uidvalidity("Sent")
    user.reset_uidvalidity("INBOX")
    gw(config, capsys, "sync", now=now)
    assert live_rows() == before
    rows = json.loads(gw(config, capsys, "status", "--all", "--json", now=now))
    assert len(rows) == 3


def test_holiday_week_uses_make_up_working_days(
    desk: tuple[MailUser, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    user, config = desk
    to = ("王芳", "wang.fang@candidate.example")
    user.append(
        "Sent", mail(LI, to, "国庆后聊聊", "2026-09-30T16:10+08:00", "h1@h"), flags=["\\Seen"]
    )
    rows = json.loads(gw(config, capsys, "status", "--all", "--json", now="2026-10-02T12:00+08:00"))
    assert rows == []  # status reads the last sync; nothing synced yet
    gw(config, capsys, "sync", now="2026-10-02T12:00+08:00")
    (row,) = json.loads(gw(config, capsys, "status", "--json", now="2026-10-02T12:00+08:00"))
    assert row["next_due"] == "2026-10-08T16:10:00+08:00"  # Oct 1-7 off
    explain = gw(
        config, capsys, "explain", "wang.fang@candidate.example", now="2026-10-09T12:00+08:00"
    )
    assert "National Day" in explain


def test_password_never_reaches_the_output(
    desk: tuple[MailUser, Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    user, config = desk
    user.append("Sent", mail(LI, SENT[0][0], "x", "2026-11-02T09:30+08:00", "p1@h"))
    gw(config, capsys, "once", now="2026-11-04T10:00+08:00")
    everything = capsys.readouterr().out + capsys.readouterr().err + caplog.text
    assert os.environ["GW_TEST_IMAP_PASSWORD"] not in everything
