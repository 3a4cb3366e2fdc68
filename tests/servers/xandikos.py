"""A private Xandikos CalDAV server on a loopback port: the stricter second server.

Xandikos runs as a child process (`xandikos serve --defaults`), storing its
collections as git repositories in a temp dir. It has no authentication on
plain HTTP, so it serves every test as the principal `/user/`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port
from tests.servers.radicale import skip_or_fail, stop, wait_for_port


@dataclass
class Xandikos:
    base: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """The server root; current-user-principal points at /user/."""
        return f"http://127.0.0.1:{self.port}/"


def _command() -> list[str]:
    script = Path(sys.executable).with_name("xandikos")
    if script.exists():
        return [str(script)]
    found = shutil.which("xandikos")
    return [found] if found else [sys.executable, "-m", "xandikos"]


@contextlib.contextmanager
def start_xandikos(base: Path) -> Iterator[Xandikos]:
    if importlib.util.find_spec("xandikos") is None:
        skip_or_fail("xandikos is not installed (pip install xandikos)")
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = base / "xandikos.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *_command(), "serve", "--defaults", "-d", str(base / "dav"),
                "--state-dir", str(base / "state"),
                "-l", "127.0.0.1", "-p", str(port), "--no-detect-systemd",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for_port(port, proc, log, "xandikos")
        yield Xandikos(base, port, proc)
    finally:
        stop(proc)
