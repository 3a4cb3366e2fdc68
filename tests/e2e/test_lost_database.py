"""Issue 9 item 10: a lost or emptied database loses nothing.

The mailbox carries what must survive the database: ghostwatch's own drafts
(X-Ghostwatch-Key) pending in Drafts, its follow-ups sent from them, and the
`gw:stop` keyword `ghostwatch stop` sets on the thread. After a week of use the
database is deleted; the next run must write no second draft for any step and
keep the stopped thread stopped. A zero-length or foreign file where the
database should be is refused, never initialised.
"""

from __future__ import annotations

import collections
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.imap_desk import REPO, ImapDesk, running_dovecot
from tests.servers.dovecot import Dovecot

pytestmark = pytest.mark.dovecot

SENT_ONE = ("Emma Clarke", "emma@mail.example")  # sends her step-1 draft
PENDING = ("王芳", "wang.fang@candidate.example")  # leaves it in Drafts
STOPPED = ("赵敏", "zhao.min@cand.example")  # `ghostwatch stop`
SKIPPED = ("孙悟", "sun@corp.example")  # deletes the step-1 draft
CONTACTS = [SENT_ONE, PENDING, STOPPED, SKIPPED]
MONDAY = "2026-11-02"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def cli(desk: ImapDesk, *args: str, now: str) -> subprocess.CompletedProcess[str]:
    """The CLI as its own process, as a consultant runs it."""
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli.main", *desk.argv(*args, now=now)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def week_of_use(desk: ImapDesk) -> None:
    for i, (to, subject) in enumerate(zip(CONTACTS, ["A", "B", "C", "D"], strict=True)):
        when = f"{MONDAY}T09:{10 + i}+08:00"
        desk.outreach(to, f"Role {subject}", when, f"week{i}@hunter.example")
    desk.ok("once", now="2026-11-03T10:00+08:00")  # step 1 for all four
    assert len(desk.keys()) == 4
    desk.send_draft(SENT_ONE[1], "2026-11-03T11:00+08:00")
    desk.user.expunge("Drafts", desk.draft_to(SKIPPED[1]).uid)
    out = desk.ok("stop", STOPPED[1], now="2026-11-03T12:00+08:00")
    assert "gw:stop set on 1 message(s)" in out
    (outreach,) = [m for m in desk.messages("Sent") if STOPPED[1] in m.header("To")]
    assert "gw:stop" in outreach.flags  # what outlives the database
    for day in ("04", "05", "06", "09"):
        desk.ok("once", now=f"2026-11-{day}T10:00+08:00")


def test_a_deleted_database_after_a_week_writes_no_second_draft_and_keeps_stops(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    desk = ImapDesk.create(dovecot, tmp_path)
    week_of_use(desk)
    before = desk.keys()
    assert not [k for k, n in collections.Counter(before).items() if n > 1]
    assert not [d for d in desk.drafts() if STOPPED[1] in d.header("To")]
    status_before = {r["contact"]: r["state"] for r in desk.status("2026-11-09T10:00+08:00")}
    assert status_before[STOPPED[1]] == "stopped"

    for suffix in ("", "-wal", "-shm"):
        Path(f"{desk.root / 'gw.db'}{suffix}").unlink(missing_ok=True)
    for day in ("09T10:30", "10T10:00", "12T10:00"):
        done = cli(desk, "once", now=f"2026-11-{day}+08:00")
        assert done.returncode == 0, done.stderr

    after = desk.keys()
    twice = [k for k, n in collections.Counter(after).items() if n > 1]
    assert twice == [], f"second drafts after the database was rebuilt: {twice}"
    steps = collections.defaultdict(list)
    for d in desk.drafts():
        steps[d.header("To")].append(d.key)
    for to, keys in steps.items():
        seqs = {k.rsplit(".", 1)[0] for k in keys}
        assert len(keys) == len(seqs), f"{to} has drafts for two steps at once: {keys}"
    assert not [d for d in desk.drafts() if STOPPED[1] in d.header("To")]
    states = {r["contact"]: r["state"] for r in desk.status("2026-11-12T10:00+08:00")}
    assert states[STOPPED[1]] == "stopped"
    # a step whose draft exists is not written again; the skipped step 1 stays skipped
    skipped = [d.key for d in desk.drafts() if SKIPPED[1] in d.header("To")]
    assert all(not k.endswith(".1") for k in skipped), skipped


@pytest.mark.parametrize("content", [b"", b"just some notes, not a database\n" * 10])
def test_an_existing_file_that_is_no_ghostwatch_database_is_refused(
    dovecot: Dovecot, tmp_path: Path, content: bytes
) -> None:
    desk = ImapDesk.create(dovecot, tmp_path)
    db = desk.root / "gw.db"
    db.write_bytes(content)
    for command in ("once", "status", "sync"):
        done = cli(desk, command, now="2026-11-03T10:00+08:00")
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert str(db) in lines[0], lines
        assert "backup" in done.stderr and "move it aside" in done.stderr
    assert db.read_bytes() == content  # never initialised


def test_backup_while_in_use_then_restore_after_the_database_is_lost(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    desk = ImapDesk.create(dovecot, tmp_path)
    week_of_use(desk)
    now = "2026-11-09T10:00+08:00"
    before = desk.status(now)
    done = cli(desk, "backup", str(tmp_path / "saved.db"), now=now)
    assert done.returncode == 0, done.stderr
    assert "backup written to" in done.stdout
    again = cli(desk, "backup", str(tmp_path / "saved.db"), now=now)
    assert again.returncode == 1 and "already exists" in again.stderr  # never overwritten

    db = tmp_path / "gw.db"
    db.write_bytes(b"")  # emptied by accident: refused, not started over
    assert cli(desk, "once", now=now).returncode == 1
    # README "Restore": stop the daemon, copy the backup over, remove -wal/-shm.
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes((tmp_path / "saved.db").read_bytes())
    drafts = desk.keys()
    done = cli(desk, "once", now=now)
    assert done.returncode == 0, done.stderr
    assert desk.keys() == drafts
    assert desk.status(now) == before


def test_backup_of_a_postgresql_database_points_to_pg_dump(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[daemon]\ndatabase = "postgresql+psycopg://gw:secret@db.example/gw"\n'
        '[[accounts]]\nname = "work"\naddress = "me@x.example"\n'
        f'[accounts.mail]\ntype = "maildir"\npath = "{tmp_path}/Mail"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "daemon.cli.main", "--config", str(config), "backup", "x.dump"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "pg_dump" in done.stderr and "secret" not in done.stderr


def test_resume_clears_the_stop_tag_so_a_rebuilt_database_follows_up_again(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    desk = ImapDesk.create(dovecot, tmp_path)
    desk.outreach(STOPPED, "Role C", f"{MONDAY}T09:00+08:00", "resume0@hunter.example")
    desk.ok("once", now=f"{MONDAY}T10:00+08:00")  # nothing due yet
    desk.ok("stop", STOPPED[1], now=f"{MONDAY}T11:00+08:00")
    assert "gw:resume" not in desk.ok("resume", STOPPED[1], now=f"{MONDAY}T12:00+08:00")
    (outreach,) = desk.messages("Sent")
    assert "gw:stop" not in outreach.flags
    (tmp_path / "gw.db").unlink()
    done = cli(desk, "once", now="2026-11-03T10:00+08:00")
    assert done.returncode == 0, done.stderr
    assert len(desk.keys()) == 1  # followed up as if never stopped


def test_a_step_skipped_right_before_the_database_is_lost_stays_skipped(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    """The deleted draft leaves no trace of its own: ghostwatch tags gw:skip:1 for it."""
    desk = ImapDesk.create(dovecot, tmp_path)
    desk.outreach(SKIPPED, "Role D", f"{MONDAY}T09:00+08:00", "skip0@hunter.example")
    desk.ok("once", now="2026-11-03T10:00+08:00")  # step 1
    desk.user.expunge("Drafts", desk.draft_to(SKIPPED[1]).uid)
    desk.ok("once", now="2026-11-03T11:00+08:00")  # sees it deleted: step 1 skipped
    (outreach,) = desk.messages("Sent")
    flags = outreach.flags
    (tmp_path / "gw.db").unlink()
    done = cli(desk, "once", now="2026-11-03T12:00+08:00")  # step 2 is not due yet
    assert done.returncode == 0, done.stderr
    assert desk.keys() == []  # step 1 not drafted again
    (row,) = desk.status("2026-11-03T12:00+08:00")
    assert row["contact"] == SKIPPED[1]
    done = cli(desk, "once", now="2026-11-05T10:00+08:00")  # step 2 (3bd) is
    assert done.returncode == 0, done.stderr
    drafted = desk.keys()
    assert [k.rsplit(".", 1)[1] for k in drafted] == ["2"]
    assert "gw:skip:1" in flags  # the only trace the deleted draft left
