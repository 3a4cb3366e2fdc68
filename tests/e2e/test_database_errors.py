"""Issue 9 items 6-8: a full disk, a read-only file, a damaged file: one line, exit 1.

The CLI runs as its own process on a Maildir desk. The full disk is a small
tmpfs (mounting needs root, which CI and the testbed have); the read-only case
runs the CLI as `nobody`, because root ignores file permissions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from daemon.demo import mail as sample
from tests.e2e.conftest import CONFIG
from tests.e2e.imap_desk import REPO, ImapDesk, running_dovecot
from tests.e2e.imap_desk import mail as imap_mail

ME = ("李雷", "li.lei@hunter.example")


# Root without the capabilities that let it ignore file modes.
NO_OVERRIDE = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
]


def cli(config: Path, *args: str, modes: bool = False) -> subprocess.CompletedProcess[str]:
    """The CLI as its own process; `modes`: file permissions apply even to root."""
    return subprocess.run(
        [*(NO_OVERRIDE if modes else []), sys.executable, "-m", "daemon.cli.main",
         "--config", str(config), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip


def desk(root: Path, db_dir: Path, letters: int = 0) -> Path:
    sample.create(root / "Mail")
    start = datetime.fromisoformat("2026-11-02T09:00+08:00")
    for i in range(letters):
        to = (f"候选人{i}", f"cand{i}@mail.example")
        subject = f"职位机会 {i} " + "很长的主题" * 20
        when = start - timedelta(minutes=i)
        sample.deliver(
            root / "Mail",
            sample.Mail("Sent", ME, to, subject, "您好" * 200, when, f"fill{i}@hunter.example"),
        )
    text = CONFIG.format(root=root, on_deleted="skip", max_drafts=25)
    text = text.replace(f"sqlite:///{root}/gw.db", f"sqlite:///{db_dir}/gw.db")
    config = root / "config.toml"
    config.write_text(text, encoding="utf-8")
    return config


def assert_one_line(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if not line[:4].isdigit()]  # log lines
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def small_disk() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where = Path(tempfile.mkdtemp(prefix="gw-full-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)])
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)
        where.rmdir()


def test_a_full_disk_during_sync_and_once_is_one_line_and_loses_nothing(
    tmp_path: Path, small_disk: Path
) -> None:
    config = desk(tmp_path, small_disk, letters=600)
    assert cli(config, "status").returncode == 0  # creates the database on the small disk
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    filler.write_bytes(b"\0" * max(0, free - 64 * 1024))
    for command in ("sync", "once"):
        done = cli(config, "--now", "2026-11-04T10:00+08:00", command)
        assert_one_line(
            done, "the database disk is full", str(small_disk / "gw.db"), "nothing was lost"
        )
    filler.unlink()
    done = cli(config, "--now", "2026-11-04T10:00+08:00", "sync")
    assert done.returncode == 0, done.stderr
    done = cli(config, "--now", "2026-11-04T10:00+08:00", "status", "--all", "--json")
    assert done.returncode == 0, done.stderr


@pytest.mark.dovecot
def test_a_full_disk_during_an_imap_sync_is_one_line_without_socket_noise(
    tmp_path: Path, small_disk: Path
) -> None:
    """Over IMAP the traceback came with "Exception ignored ... readline of closed file"."""
    with running_dovecot() as server:
        desk = ImapDesk.create(server, tmp_path)
        text = desk.config.read_text(encoding="utf-8")
        desk.config.write_text(text.replace(f"{tmp_path}/gw.db", f"{small_disk}/gw.db"))
        with desk.user.client() as client:
            for i in range(400):
                raw = imap_mail(ME, (f"候选人{i}", f"cand{i}@mail.example"),
                                f"职位机会 {i} " + "很长的主题" * 20, "2026-11-02T09:00+08:00",
                                f"full{i}@hunter.example")  # fmt: skip
                client.append("Sent", raw, flags=(b"\\Seen",))
        assert cli(desk.config, "status").returncode == 0
        free = shutil.disk_usage(small_disk).free
        (small_disk / "filler").write_bytes(b"\0" * max(0, free - 64 * 1024))
        for command in ("sync", "once"):
            done = cli(desk.config, "--now", "2026-11-04T10:00+08:00", command)
            assert_one_line(done, "the database disk is full", "nothing was lost")
        (small_disk / "filler").unlink()
        done = cli(desk.config, "--now", "2026-11-04T10:00+08:00", "once")
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("readonly", [["gw.db"], ["gw.db", "gw.db-wal", "gw.db-shm"]])
def test_a_read_only_database_file_is_named_with_the_permission_needed(
    tmp_path: Path, readonly: list[str]
) -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv (file modes are tested by dropping DAC_OVERRIDE)")
    config = desk(tmp_path, tmp_path / "db", letters=3)
    assert cli(config, "status").returncode == 0
    for name in ("gw.db", "gw.db-wal", "gw.db-shm"):
        (tmp_path / "db" / name).touch()  # -wal/-shm as a crashed process leaves them
    for name in readonly:
        (tmp_path / "db" / name).chmod(0o444)
    for command in ("sync", "once"):
        done = cli(config, "--now", "2026-11-04T10:00+08:00", command, modes=True)
        assert_one_line(done, str(tmp_path / "db" / "gw.db"), "read and write permission")


def test_a_damaged_database_file_names_the_file_and_what_to_do(tmp_path: Path) -> None:
    config = desk(tmp_path, tmp_path, letters=3)
    assert cli(config, "--now", "2026-11-04T10:00+08:00", "sync").returncode == 0
    db = tmp_path / "gw.db"
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page
    data[5000:9000] = b"garbage!" * 500
    db.write_bytes(bytes(data))
    for command in ("status", "sync", "once"):
        done = cli(config, "--now", "2026-11-04T10:00+08:00", command)
        assert_one_line(done, str(db), "restore it from a backup", "move it aside")
