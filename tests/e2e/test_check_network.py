"""Issue 9 item 9 and issue 8 item 7: `check` names the real cause of a failed connection.

A name that does not resolve, a port nobody listens on, a server that never
answers, one that closes or resets the connection, and a password command that
is not installed each get their own message; only the time-out says "did not
answer in time". `host = "[::1]"` is loopback and resolves. The CLI runs as a
subprocess against real sockets on loopback.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.imap_desk import REPO

CONFIG = """
[daemon]
database = "sqlite:///{root}/gw.db"

[[accounts]]
name = "work"
address = "li.lei@hunter.example"

[accounts.mail]
type = "imap"
host = "{host}"
port = {port}
security = "{security}"
username = "li.lei"
{password}
timeout = 1
"""


def check(
    root: Path, host: str, port: int, *, security: str = "plain", password: str = ""
) -> tuple[int, str]:
    secret = root / "secret"
    secret.write_text("hunter2\n", encoding="utf-8")
    config = root / "config.toml"
    config.write_text(
        CONFIG.format(
            root=root, host=host, port=port, security=security,
            password=password or f'password_file = "{secret}"',
        ),
        encoding="utf-8",
    )  # fmt: skip
    empty = root / "bin"
    empty.mkdir(exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "daemon.cli.main", "--config", str(config), "check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": str(empty)},  # no `pass` on it, whatever the machine has
    )
    assert "Traceback" not in done.stderr
    problems = [line for line in done.stderr.splitlines() if line.startswith("problem:")]
    return done.returncode, "\n".join(problems)


def free_port(family: int = socket.AF_INET, host: str = "127.0.0.1") -> int:
    with socket.socket(family) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(behaviour: str) -> Iterator[int]:
    """A TCP listener on loopback: 'silent' never answers, 'close' hangs up, 'reset' RSTs."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if behaviour == "silent":
                held.append(conn)
            elif behaviour == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)
        for conn in held:
            conn.close()


def test_a_name_that_does_not_resolve(tmp_path: Path) -> None:
    code, problems = check(tmp_path, "no-such-host.invalid", 993, security="tls")
    assert code == 1
    assert "no-such-host.invalid does not resolve" in problems
    assert "did not answer in time" not in problems


def test_a_port_nobody_listens_on(tmp_path: Path) -> None:
    code, problems = check(tmp_path, "127.0.0.1", free_port())
    assert code == 1
    assert "nothing listens on that port" in problems
    assert "did not answer in time" not in problems


def test_only_a_server_that_never_answers_did_not_answer_in_time(tmp_path: Path) -> None:
    with server("silent") as port:
        code, problems = check(tmp_path, "127.0.0.1", port)
    assert code == 1
    assert "did not answer in time" in problems


@pytest.mark.parametrize(("behaviour", "said"), [("close", "closed the connection"),
                                                 ("reset", "reset")])  # fmt: skip
def test_a_connection_closed_or_reset_says_so(tmp_path: Path, behaviour: str, said: str) -> None:
    with server(behaviour) as port:
        code, problems = check(tmp_path, "127.0.0.1", port)
    assert code == 1
    assert said in problems
    assert "did not answer in time" not in problems


def test_bracketed_ipv6_loopback_is_accepted_and_resolves(tmp_path: Path) -> None:
    try:
        port = free_port(socket.AF_INET6, "::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    code, problems = check(tmp_path, "[::1]", port)
    assert code == 1
    assert "nothing listens on that port" in problems  # reached ::1, nobody there
    assert "does not resolve" not in problems and "plain" not in problems


def test_a_password_command_that_is_not_installed(tmp_path: Path) -> None:
    with server("silent") as port:
        code, problems = check(
            tmp_path, "127.0.0.1", port, password='password_command = "pass show mail/work"'
        )
    assert code == 1
    assert "password_command: `pass` not found" in problems


CALENDAR = """
[daemon]
database = "sqlite:///{root}/gw.db"

[[accounts]]
name = "work"
address = "li.lei@hunter.example"

[accounts.mail]
type = "maildir"
path = "{root}/Mail"

[accounts.calendar]
type = "caldav"
url = "{url}"
calendar = "ghostwatch"
timeout = 1
"""


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://no-such-host.invalid/dav/", "no-such-host.invalid does not resolve"),
        ("http://127.0.0.1:{free}/dav/", "nothing listens on that port"),
    ],
)
def test_calendar_connection_failures_name_their_cause(tmp_path: Path, url: str, said: str) -> None:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Mail" / sub).mkdir(parents=True, exist_ok=True)
    config = tmp_path / "config.toml"
    config.write_text(
        CALENDAR.format(root=tmp_path, url=url.format(free=free_port())), encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-m", "daemon.cli.main", "--config", str(config), "check"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "Traceback" not in done.stderr
    assert done.returncode == 1
    assert said in done.stderr
    assert "did not answer in time" not in done.stderr
