"""A private PostgreSQL cluster on a free loopback port, for the integration suite."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PostgresServer:
    port: int
    socket_dir: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        _as_postgres(
            ["psql", "-h", self.socket_dir, "-p", str(self.port), "-c", f'CREATE DATABASE "{name}"']
        )
        return self.url(name)


def find_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> None:
    binary = find_bin(cmd[0]) or cmd[0]
    full = [binary, *cmd[1:]]
    if os.geteuid() == 0:
        full = ["runuser", "-u", "postgres", "--", *full]
    subprocess.run(full, check=True, capture_output=True, timeout=60)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    if find_bin("initdb") is None:
        raise FileNotFoundError("PostgreSQL is not installed (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="gw-pg-"))
    base.chmod(0o755)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for path in (base, sock):
            os.chown(path, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    try:
        _as_postgres(["initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"])
        _as_postgres(
            [
                "pg_ctl", "-D", str(data), "-w", "-l", str(base / "log"),
                "-o", f"-p {port} -k {sock} -h 127.0.0.1 -F", "start",
            ]
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield PostgresServer(port=port, socket_dir=str(sock))
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            _as_postgres(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(base, ignore_errors=True)
