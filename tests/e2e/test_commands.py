"""Commands do what they say (issue 8 item 4), on the demo's Maildir and as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from daemon.demo import mail as sample
from tests.e2e.conftest import Desk

WANG = sample.OUTREACH[0]
T1 = "2026-11-03T10:00+08:00"
ROOT = Path(__file__).resolve().parents[2]


def cli(desk: Desk, *args: str, now: str | None = None) -> subprocess.CompletedProcess[str]:
    """The `ghostwatch` command as a user runs it: a separate process."""
    argv = [sys.executable, "-m", "daemon.cli.main", "--config", str(desk.config)]
    if now:
        argv += ["--now", now]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [*argv, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def row_of(desk: Desk, contact: str, now: str) -> dict[str, object]:
    (row,) = [r for r in desk.status(now) if r["contact"] == contact]
    return row


def test_stop_withdraws_the_pending_draft_in_the_same_run(desk: Desk) -> None:
    desk.deliver(WANG)
    desk.gw("once", now=T1)
    assert len(desk.drafts()) == 1
    code, out = desk.gw("stop", sample.WANG[1], now="2026-11-03T11:00+08:00")
    assert code == 0
    assert "withdrew untouched draft" in out
    assert desk.drafts() == []
    assert row_of(desk, sample.WANG[1], "2026-11-03T11:00+08:00")["state"] == "stopped"


def test_stop_as_a_subprocess_leaves_nothing_in_drafts(desk: Desk) -> None:
    desk.deliver(WANG)
    assert cli(desk, "once", now=T1).returncode == 0
    assert len(desk.drafts()) == 1
    done = cli(desk, "stop", sample.WANG[1], now="2026-11-03T11:00+08:00")
    assert done.returncode == 0, done.stderr
    assert desk.drafts() == []
    # The next cycle writes nothing new for a stopped thread.
    cli(desk, "once", now="2026-11-05T11:00+08:00")
    assert desk.drafts() == []


def test_a_gw_stop_case_keeps_its_real_silence(desk: Desk) -> None:
    stopped = sample.Mail(
        "Sent", sample.ME, sample.WANG, WANG.subject, "……", WANG.when, "o1-stop@hunter.example",
        tags="gw:stop",
    )  # fmt: skip
    desk.deliver(stopped)
    # First seen, and stopped, two days after the outreach.
    desk.gw("once", now="2026-11-04T09:30+08:00")
    code, out = desk.gw("report", "--format", "json", now="2026-11-04T09:30+08:00")
    assert code == 0
    (case,) = json.loads(out)["cases"]
    assert case["outcome"] == "stopped"
    assert case["silence_days"] and case["silence_days"] >= 1.9


def test_unknown_account_is_one_line_naming_the_known_ones(desk: Desk) -> None:
    for command in ("sync", "once"):
        done = cli(desk, command, "--account", "nope")
        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "'nope'" in lines[0] and "work" in lines[0], done.stderr


def test_explain_into_a_closed_pipe_exits_quietly(desk: Desk) -> None:
    desk.deliver(WANG)
    desk.gw("once", now=T1)
    read, write = os.pipe()
    os.close(read)  # what `| head -1` does once it has its line: nobody reads any more
    try:
        done = subprocess.run(
            [sys.executable, "-m", "daemon.cli.main", "--config", str(desk.config), "--now", T1,
             "explain", sample.WANG[1]],
            stdout=write, stderr=subprocess.PIPE, text=True, timeout=120, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    finally:
        os.close(write)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.stderr == ""


INTERVIEW = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Outlook//EN
BEGIN:VEVENT
UID:interview-wang
DTSTAMP:20261101T000000Z
DTSTART;TZID=Asia/Shanghai:{start}
DTEND;TZID=Asia/Shanghai:{end}
SUMMARY:面试：王芳
ORGANIZER:mailto:chen.jing@client.example
ATTENDEE;PARTSTAT=ACCEPTED:mailto:wang.fang@candidate.example
END:VEVENT
END:VCALENDAR
"""


def test_a_flag_raised_after_the_meeting_reaches_the_case_library(desk: Desk) -> None:
    calendar = desk.root / "cal"
    calendar.mkdir()
    with desk.config.open("a", encoding="utf-8") as f:
        f.write(f'\n[accounts.calendar]\ntype = "vdir"\npath = "{calendar}"\n')
    desk.deliver(WANG)
    interview = calendar / "interview-wang.ics"
    times = [
        ("2026-11-05T18:10+08:00", "20261110T140000", "20261110T150000"),
        ("2026-11-06T10:00+08:00", "20261111T140000", "20261111T150000"),
        ("2026-11-06T11:00+08:00", "20261112T100000", "20261112T110000"),
    ]
    for now, start, end in times:
        interview.write_text(INTERVIEW.format(start=start, end=end), encoding="utf-8")
        assert desk.gw("once", now=now)[0] == 0
    # The sequence ended `met` at the first sync; the two moves came after it ended.
    row = row_of(desk, sample.WANG[1], "2026-11-06T11:00+08:00")
    assert (row["state"], row["red_flags"]) == ("met", ["rescheduled"])
    code, out = desk.gw("report", "--format", "json", now="2026-11-06T11:00+08:00")
    assert code == 0
    (case,) = json.loads(out)["cases"]
    assert case["red_flags"] == ["rescheduled"]


JOB_RULE = """
[[policy.rules]]
when = { subject = '(?P<company>[^|｜]+)[|｜]\\s*(?P<title>[^|｜]+?)\\s*(职位|机会|role)' }
"""


def test_explain_numbers_rules_one_way(desk_factory: Callable[..., Desk]) -> None:
    desk = desk_factory(rules=JOB_RULE)
    desk.deliver(WANG)
    desk.gw("once", now=T1)
    code, out = desk.gw("explain", sample.WANG[1], now=T1)
    assert code == 0
    assert "rules matched: rule 1" in out
    assert "rule 1 (subject ~" in out and "title '高级Go工程师'" in out
    assert "#1" not in out and "rule 0" not in out


def test_status_never_cuts_an_address(desk: Desk) -> None:
    desk.deliver(sample.OUTREACH[1])
    desk.deliver(sample.EMMA_REPLY)
    desk.gw("once", now="2026-11-03T16:00+08:00")
    code, out = desk.gw("status", "--all", now="2026-11-03T16:00+08:00")
    assert code == 0
    (line,) = [x for x in out.splitlines() if sample.EMMA[1] in x]
    assert line.rstrip().endswith(("in the thread", "…"))
    assert f"human reply from {sample.EMMA[1]}" in line


def test_dry_run_shows_one_time_per_reminder(desk: Desk) -> None:
    desk.deliver(WANG)
    desk.gw("once", now=T1)
    desk.send_draft(sample.WANG[1], at="2026-11-03T10:40+08:00")
    desk.gw("once", now="2026-11-03T11:00+08:00")
    code, out = desk.gw("once", "--dry-run", now="2026-11-05T16:00+08:00")
    assert code == 0 and "would write draft step 2" in out
    lines = [x for x in out.splitlines() if "calendar" in x or "reminder" in x]
    assert lines and all("11-05 16:00" in x for x in lines), lines


def test_report_to_a_terminal_writes_a_file_and_says_where(desk: Desk) -> None:
    import pty

    desk.deliver(WANG)
    desk.gw("once", now=T1)
    here = desk.root / "reports"
    here.mkdir()
    master, slave = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "daemon.cli.main", "--config", str(desk.config), "--now", T1,
             "report"],
            stdout=slave, stderr=subprocess.PIPE, text=True, timeout=120, check=False, cwd=here,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed: everything has been read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
    assert done.returncode == 0, done.stderr
    (written,) = here.iterdir()
    assert written.name == "ghostwatch-report-2026-11-03.html"
    assert "<html" in written.read_text(encoding="utf-8").lower()
    text = shown.decode()
    assert str(written) in text and "<html" not in text.lower()


def test_stop_removes_the_future_call_reminder_too(desk: Desk) -> None:
    calendar = desk.root / "cal"
    calendar.mkdir()
    with desk.config.open("a", encoding="utf-8") as f:
        f.write(f'\n[accounts.calendar]\ntype = "vdir"\npath = "{calendar}"\n')
    desk.deliver(WANG)
    desk.gw("once", now=T1)
    desk.send_draft(sample.WANG[1], at="2026-11-03T10:40+08:00")
    desk.gw("once", now="2026-11-05T09:40+08:00")  # step 2 and its call reminder at 09:45
    assert len(desk.drafts()) == 1
    assert len(list(calendar.glob("*.call@ghostwatch.ics"))) == 1
    done = cli(desk, "stop", sample.WANG[1], now="2026-11-05T09:41+08:00")
    assert done.returncode == 0, done.stderr
    assert desk.drafts() == []
    assert list(calendar.glob("*.call@ghostwatch.ics")) == []
    assert "removed" in done.stdout
