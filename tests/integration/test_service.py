"""`ghostwatch run` as a real process: isolation, logs, signals, the lock, a full disk.

Each daemon runs the real CLI in a subprocess against a Maildir account plus
IMAP accounts that cannot work: one on a closed loopback port, one on a tiny
server that refuses every login (so the marker password is really sent).
GHOSTWATCH_POLL_SECONDS=1 makes it poll every second. Waits poll the stderr
file with generous deadlines; they guard against hangs, they do not measure.
"""

from __future__ import annotations

import contextlib
import mailbox
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import pytest

from daemon.demo import mail as sample
from tests.servers import free_port
from tests.servers.dovecot import Dovecot, dovecot_binary, skip_or_fail

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-03T10:00:00+08:00"  # Tuesday of the sample week: step 1 drafts are due
MARKER = "gw-marker-pw-7f3a9c41"
DEADLINE = 60.0  # seconds any single wait may take before the test fails

WORK = """
[daemon]
database = "sqlite:///{state}/gw.db"
lookback = "30d"
poll_interval = "1m"

[policy]
timezone = "Asia/Shanghai"
internal_domains = ["hunter.example"]
ignore = ["*noreply*"]

[[accounts]]
name = "work"
address = "li.lei@hunter.example"
display_name = "李雷"
locale = "zh-CN"

[accounts.mail]
type = "maildir"
path = "{root}/Mail"
"""

IMAP = """
[[accounts]]
name = "{name}"
address = "{user}"

[accounts.mail]
type = "imap"
host = "127.0.0.1"
port = {port}
security = "plain"
username = "{user}"
timeout = 5
{secret}
"""

# Every address the daemon sees; none may appear unmasked in the log.
ADDRESSES = (
    sample.ME[1],
    sample.WANG[1],
    sample.EMMA[1],
    sample.MICHAEL[1],
    sample.ZHANG[1],
    sample.LIU[1],
    sample.HR[1],
    "wang.wei@example.net",
    "zhao.min@example.net",
)


# --- helpers --------------------------------------------------------------------------


class RefusingImap:
    """Says hello like an IMAP server and refuses every login, keeping what it was sent."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as f:
            f.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] test server ready\r\n")
            f.flush()
            for line in f:
                self.received.append(line)
                tag, _, rest = line.decode("utf-8", "replace").partition(" ")
                command = rest.split(" ", 1)[0].strip().upper()
                if command == "CAPABILITY":
                    f.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")
                    f.write(f"{tag} OK done\r\n".encode())
                elif command in ("LOGIN", "AUTHENTICATE"):
                    f.write(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n".encode())
                elif command == "LOGOUT":
                    f.write(f"* BYE\r\n{tag} OK bye\r\n".encode())
                    f.flush()
                    return
                else:
                    f.write(f"{tag} BAD not here\r\n".encode())
                f.flush()

    def close(self) -> None:
        self._server.close()


class NotifyListener:
    """Stands in for systemd's notification socket."""

    def __init__(self) -> None:
        self.name = f"gw-test-notify-{uuid.uuid4().hex}"
        self.messages: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind("\0" + self.name)
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        while True:
            try:
                self.messages.append(self._sock.recv(4096).decode())
            except OSError:
                return

    def fields(self, key: str) -> list[str]:
        return [
            line.split("=", 1)[1]
            for message in self.messages
            for line in message.splitlines()
            if line.startswith(key + "=")
        ]

    def close(self) -> None:
        self._sock.close()


@dataclass
class Daemon:
    config: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")
        }
        env.update(GHOSTWATCH_POLL_SECONDS="1", GW_TEST_IMAP_PASSWORD=MARKER, PYTHONPATH=str(REPO))
        env.update(self.env)
        argv = ["--config", str(self.config), "--now", NOW, "run"]
        with self.log_path.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "daemon.cli.main", *argv],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, *, count: int = 1, after: int = 0) -> int:
        """Wait until `pattern` matched `count` times past offset `after`; the end offset."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            text = self.log
            found = list(regex.finditer(text, after))
            if len(found) >= count:
                return found[count - 1].end()
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"daemon exited ({self.proc.returncode}) before {pattern!r}:\n{text}")
            time.sleep(0.1)
        pytest.fail(f"no {pattern!r} within {DEADLINE}s:\n{self.log}")

    def send(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> tuple[int | None, float]:
        """SIGTERM; the exit code (None if still running after 10 s) and the seconds taken."""
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        return code, time.monotonic() - began

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def make_desk(root: Path, extra: str = "", *, state: Path | None = None) -> Path:
    """A consultant's Maildir with the sample week's outreach, and a config for it."""
    sample.create(root / "Mail")
    for letter in [*sample.OUTREACH, *sample.INBOUND_DAY0]:
        sample.deliver(root / "Mail", letter)
    config = root / "config.toml"
    config.write_text(WORK.format(root=root, state=state or root) + extra, encoding="utf-8")
    return config


def imap_account(name: str, user: str, port: int, secret: str) -> str:
    return IMAP.format(name=name, user=user, port=port, secret=secret)


def bodies(root: Path) -> list[str]:
    """Lines of every message body in the Maildir (drafts included), long enough to matter."""
    lines: list[str] = []
    box = mailbox.Maildir(root / "Mail", create=False)
    folders = [box, *(box.get_folder(n) for n in box.list_folders())]
    for folder in folders:
        for msg in folder.values():
            lines += [line.strip() for line in _text(msg).splitlines() if len(line.strip()) >= 6]
    return lines


def _text(msg: Message) -> str:
    part = next((p for p in msg.walk() if p.get_content_type() == "text/plain"), None)
    payload = part.get_payload(decode=True) if part is not None else None
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def accounts_table(db: Path) -> dict[str, tuple[str, str | None, str | None]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT name, health, last_error, cursor FROM accounts").fetchall()
    return {name: (health, error, cursor) for name, health, error, cursor in rows}


# --- one daemon, three accounts: isolation and what the log may say --------------------


@dataclass
class Story:
    log: str
    code: int | None
    took: float
    accounts: dict[str, tuple[str, str | None, str | None]]
    imap_received: bytes
    bodies: list[str]
    drafts: int
    notified: NotifyListener


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    root = tmp_path_factory.mktemp("desk")
    server = RefusingImap()
    secret = 'password_env = "GW_TEST_IMAP_PASSWORD"'
    config = make_desk(
        root,
        imap_account("down", "wang.wei@example.net", free_port(), secret)
        + imap_account("badpass", "zhao.min@example.net", server.port, secret),
    )
    notified = NotifyListener()
    env = {"NOTIFY_SOCKET": "@" + notified.name, "WATCHDOG_USEC": "2000000"}
    daemon = Daemon(config, root / "stderr.log", env).start()
    try:
        daemon.wait_for(r"\[down\] degraded")
        end = daemon.wait_for(r"\[badpass\] degraded")
        daemon.wait_for(r"\[work\] cycle \(poll\)", count=3, after=end)
        accounts = accounts_table(root / "gw.db")
        code, took = daemon.stop()
    finally:
        daemon.kill()
        server.close()
    drafts = len(mailbox.Maildir(root / "Mail", create=False).get_folder("Drafts"))
    yield Story(
        daemon.log,
        code,
        took,
        accounts,
        b"".join(server.received),
        bodies(root),
        drafts,
        notified,
    )
    notified.close()


def test_broken_accounts_do_not_stop_the_maildir_account(story: Story) -> None:
    assert story.accounts["work"][0] == "ok"
    assert story.drafts >= 1  # it did its job while the others failed
    assert re.search(r"\[work\] cycle \(start\): \d+ due, [1-9]\d* draft\(s\) written", story.log)


def test_broken_accounts_are_degraded_with_their_error_in_the_database(story: Story) -> None:
    down_health, down_error, _ = story.accounts["down"]
    bad_health, bad_error, _ = story.accounts["badpass"]
    assert down_health == bad_health == "degraded"
    assert down_error is not None and "cannot reach 127.0.0.1" in down_error
    assert bad_error is not None and "refused the login" in bad_error


def test_retries_back_off_instead_of_following_the_poll(story: Story) -> None:
    # The Maildir account cycled every second; the failing ones waited for backoff.
    assert len(re.findall(r"\[work\] cycle", story.log)) >= 4
    assert len(re.findall(r"\[down\] degraded", story.log)) == 1
    assert re.search(r"\[badpass\] degraded: .*; next try in \d+ min", story.log)


def test_the_password_is_used_but_never_logged(story: Story) -> None:
    assert MARKER.encode() in story.imap_received  # LOGIN carried it to the server
    assert MARKER not in story.log


def test_no_message_body_reaches_the_log(story: Story) -> None:
    assert story.bodies, "the Maildir has bodies to look for"
    leaked = [line for line in story.bodies if line in story.log]
    assert leaked == []


def test_addresses_are_masked(story: Story) -> None:
    leaked = [a for a in ADDRESSES if a in story.log]
    assert leaked == []
    assert "w***@candidate.example" in story.log  # the draft line names the contact, masked
    assert "z***@example.net" in story.log  # the login error names the user, masked


def test_sigterm_exits_0_within_10_seconds(story: Story) -> None:
    assert story.code == 0
    assert story.took < 10
    assert "ghostwatch stopped" in story.log
    assert "Traceback" not in story.log


def test_systemd_hears_ready_status_watchdog_and_stopping(story: Story) -> None:
    assert story.notified.fields("READY") == ["1"]
    statuses = story.notified.fields("STATUS")
    assert any(
        re.fullmatch(r"1 account\(s\) ok, 2 degraded \(down, badpass\); .*", s) for s in statuses
    )
    assert any(re.search(r"[1-9]\d* draft\(s\) written", s) for s in statuses)
    assert story.notified.fields("WATCHDOG")  # every second: half of WATCHDOG_USEC
    assert story.notified.fields("STOPPING") == ["1"]


# --- signals and the lock ---------------------------------------------------------------


def test_sighup_with_a_broken_config_keeps_running_on_the_old_one(tmp_path: Path) -> None:
    config = make_desk(tmp_path)
    good = config.read_text(encoding="utf-8")
    daemon = Daemon(config, tmp_path / "stderr.log").start()
    try:
        daemon.wait_for(r"\[work\] cycle \(start\)")

        config.write_text(good + "\n[daemon\n", encoding="utf-8")  # not TOML
        daemon.send(signal.SIGHUP)
        end = daemon.wait_for(r"config reload: .*invalid TOML at line \d+")
        assert "keeping the running config" in daemon.log
        end = daemon.wait_for(r"\[work\] cycle \(poll\)", after=end)

        config.write_text(good.replace('"1m"', '"soon"'), encoding="utf-8")  # not a duration
        daemon.send(signal.SIGHUP)
        end = daemon.wait_for(r"config reload: daemon\.poll_interval: ", after=end)
        end = daemon.wait_for(r"\[work\] cycle \(poll\)", after=end)

        config.write_text(good.replace('lookback = "30d"', 'lookback = "20d"'), encoding="utf-8")
        daemon.send(signal.SIGHUP)
        end = daemon.wait_for(r"config reloaded: 1 account\(s\)", after=end)
        daemon.wait_for(r"\[work\] cycle \(reload\)", after=end)
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0


def test_a_second_run_on_the_same_database_exits_1(tmp_path: Path) -> None:
    config = make_desk(tmp_path)
    first = Daemon(config, tmp_path / "first.log").start()
    try:
        first.wait_for(r"\[work\] cycle \(start\)")
        second = Daemon(config, tmp_path / "second.log").start()
        assert second.proc is not None and first.proc is not None
        assert second.proc.wait(timeout=DEADLINE) == 1
        assert f"another `ghostwatch run` (pid {first.proc.pid} on " in second.log
        assert "stop it first" in second.log
        end = len(first.log)
        first.wait_for(r"\[work\] cycle \(poll\)", after=end)  # the first one carries on
        code, _ = first.stop()
    finally:
        first.kill()
    assert code == 0


def test_sigterm_abandons_a_stuck_cycle_and_still_exits_0_within_10_seconds(
    tmp_path: Path,
) -> None:
    started = tmp_path / "password-command-started"
    # A password helper that hangs (a gpg-agent waiting for a PIN nobody types).
    stuck = f"password_command = \"sh -c 'touch {started}; exec sleep 60'\""
    config = make_desk(tmp_path, imap_account("stuck", "wang.wei@example.net", free_port(), stuck))
    daemon = Daemon(config, tmp_path / "stderr.log").start()
    try:
        daemon.wait_for(r"\[work\] cycle \(start\)")
        deadline = time.monotonic() + DEADLINE
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert started.exists()
        code, took = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0
    assert took < 10
    assert "abandoned the cycle of [stuck] after 7s" in daemon.log


# --- disk full ------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs for the database (needs root; skipped otherwise)."""
    mount = tmp_path / "state"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    """Take every free block (unbuffered: a buffered close would fail on ENOSPC)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)


def test_disk_full_is_reported_and_nothing_is_lost(tmp_path: Path, tiny_disk: Path) -> None:
    config = make_desk(tmp_path, state=tiny_disk)
    daemon = Daemon(config, tmp_path / "stderr.log").start()
    try:
        end = daemon.wait_for(r"\[work\] cycle \(start\)")
        before = accounts_table(tiny_disk / "gw.db")["work"][2]

        _fill(tiny_disk / "filler")
        many = [
            sample.Mail("Sent", sample.ME, (f"Candidate {i}", f"c{i}@talent.example"),
                        f"Role {i}", f"Body {i}", sample.at(1, 9), f"bulk{i}@hunter.example")
            for i in range(400)
        ]  # fmt: skip
        for letter in many:
            sample.deliver(tmp_path / "Mail", letter)
        end = daemon.wait_for(r"\[work\] degraded: the database disk is full: ", after=end)
        assert "nothing was lost" in daemon.log
        time.sleep(3)  # three poll intervals: a crash loop would show here
        assert daemon.proc is not None and daemon.proc.poll() is None
        assert len(re.findall(r"the database disk is full", daemon.log)) == 1  # backing off
        assert accounts_table(tiny_disk / "gw.db")["work"][2] == before  # cursor kept

        (tiny_disk / "filler").unlink()
        daemon.send(signal.SIGHUP)  # "I fixed it": retry now instead of after the backoff
        daemon.wait_for(r"\[work\] recovered", after=end)
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0
    with contextlib.closing(sqlite3.connect(tiny_disk / "gw.db")) as conn:
        (stored,) = conn.execute(
            "SELECT count(*) FROM messages WHERE message_id LIKE '%bulk%'"
        ).fetchone()
    assert stored == len(many)  # every message that arrived while the disk was full
    assert "Traceback" not in daemon.log


# --- push over real IMAP IDLE -----------------------------------------------------------


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    if dovecot_binary() is None:
        skip_or_fail("dovecot is not installed (apt-get install -y dovecot-imapd)")
    server = Dovecot()
    try:
        yield server.start()
    finally:
        server.cleanup()


@pytest.mark.dovecot
def test_new_mail_is_pushed_by_idle_not_polled(tmp_path: Path, dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    secret = f'password_file = "{dovecot.password_file}"'
    config = tmp_path / "config.toml"
    config.write_text(
        WORK.split("[[accounts]]")[0].format(state=tmp_path)
        + imap_account("mail", "li.lei@hunter.example", dovecot.port, secret).replace(
            'username = "li.lei@hunter.example"', f'username = "{user.name}"'
        ),
        encoding="utf-8",
    )
    # A poll an hour away: only a push can explain a second cycle within the test.
    daemon = Daemon(config, tmp_path / "stderr.log", {"GHOSTWATCH_POLL_SECONDS": "3600"})
    daemon.start()
    try:
        daemon.wait_for(r"\[mail\] push: watching for new mail")
        end = daemon.wait_for(r"\[mail\] cycle \(start\)")
        time.sleep(1)  # let IDLE start; a change before it would arrive as "missed" anyway
        reply = (
            b"From: Wang Fang <wang.fang@candidate.example>\r\n"
            b"To: li.lei@hunter.example\r\nSubject: Re: role\r\n"
            b"Message-ID: <push1@candidate.example>\r\n"
            b"Date: Tue, 03 Nov 2026 10:00:00 +0800\r\n\r\nThanks, interested.\r\n"
        )
        user.append("INBOX", reply)
        daemon.wait_for(r"\[mail\] cycle \(push\)", after=end)
        code, took = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0
    assert took < 10  # the IDLE connection did not hold up the exit
    assert "synced: 1 new" in daemon.log
