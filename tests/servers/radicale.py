"""A private Radicale CalDAV server on a loopback port, for contract and integration tests.

Radicale runs as a child process (`python -m radicale`) from its own config
file in a temp dir: htpasswd users in plain text (so a wrong password really
answers 401), filesystem storage in the same dir, nothing shared with a system
install. `start_radicale()` skips the test when the package is missing, unless
GHOSTWATCH_REQUIRE_SERVERS=1 makes that a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import free_port, servers_required

USER = "li.lei"
PASSWORD = "secret-for-tests"

_CONFIG = """\
[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {base}/users
htpasswd_encryption = plain
# No pause after a refused login: every new client is refused once before it sends credentials.
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = {base}/collections

[logging]
level = warning
mask_passwords = True
"""


def skip_or_fail(reason: str) -> None:
    """Skip on a machine without the server; fail where CI demands real servers."""
    if servers_required():
        pytest.fail(f"{reason} (GHOSTWATCH_REQUIRE_SERVERS is set)")
    pytest.skip(reason)


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    """Block until the server accepts connections; fail with its log if it died."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{what} did not open port {port} in 20 s:\n{_tail(log)}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-3000:]
    except OSError:
        return "(no log)"


@dataclass
class Radicale:
    base: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """The server root; caldav's principal() discovery starts here."""
        return f"http://127.0.0.1:{self.port}/"

    def add_user(self, name: str, password: str = PASSWORD) -> None:
        # Radicale re-reads the htpasswd file when it changes: no restart needed.
        with (self.base / "users").open("a", encoding="utf-8") as fh:
            fh.write(f"{name}:{password}\n")


@contextlib.contextmanager
def start_radicale(base: Path) -> Iterator[Radicale]:
    if importlib.util.find_spec("radicale") is None:
        skip_or_fail("radicale is not installed (pip install radicale)")
    base.mkdir(parents=True, exist_ok=True)
    (base / "users").write_text(f"{USER}:{PASSWORD}\n", encoding="utf-8")
    port = free_port()
    config = base / "radicale.conf"
    config.write_text(_CONFIG.format(port=port, base=base), encoding="utf-8")
    log = base / "radicale.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc, log, "radicale")
        yield Radicale(base, port, proc)
    finally:
        stop(proc)
