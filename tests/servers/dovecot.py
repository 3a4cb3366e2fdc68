"""A private Dovecot on a loopback port, for integration and contract tests.

Each `Dovecot` runs from its own config file in a temp dir (own base_dir,
state_dir, log and Maildir root), so tests never touch the system install and
several servers can run side by side:

- flavour "modern": Dovecot as shipped (CONDSTORE, QRESYNC, SPECIAL-USE...) with
  Drafts/Sent/Trash/Junk declared as special-use folders;
- flavour "legacy": capabilities cut down to plain IMAP4rev1 + IDLE/UIDPLUS/ID
  and no special-use folders, like many Chinese and older corporate servers,
  so the connector's fallbacks (folder names, no CONDSTORE) run for real;
- flavour "condstore": CONDSTORE without QRESYNC (as some hosted servers
  offer), so changes are read with CHANGEDSINCE but expunges without VANISHED.

Every user name logs in with one test password (a static passdb), so every test
can get a fresh, empty mailbox without touching the server.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from imapclient import IMAPClient

from tests.servers import free_port, servers_required

MAIL_USER = "vmail"
PASSWORD = "secret-for-tests"
Flavour = Literal["modern", "legacy", "condstore"]

_LEGACY_CAPS = (
    "IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UIDPLUS UNSELECT NAMESPACE"
)
_CONDSTORE_CAPS = _LEGACY_CAPS + " SPECIAL-USE CONDSTORE"

_CONFIG = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl_block}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
default_internal_group = dovecot
mail_max_userip_connections = 200
imap_id_log = *
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_user} home={base}/mail/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
{special_use}
}}
{capability_line}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
"""

_SPECIAL_USE = """\
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }"""


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )


def skip_or_fail(reason: str) -> None:
    """Skip on a developer machine without the server; fail where CI demands it."""
    if servers_required():
        pytest.fail(f"{reason} (GHOSTWATCH_REQUIRE_SERVERS is set)")
    pytest.skip(reason)


def ensure_mail_user() -> None:
    """Dovecot refuses to run mail processes as root: files belong to `vmail`."""
    try:
        pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", MAIL_USER],
            check=True,
            capture_output=True,
        )


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed cert for localhost/127.0.0.1; the cert doubles as the CA file."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass(frozen=True)
class MailUser:
    """One test mailbox; its helpers talk real IMAP to the server as this user."""

    server: Dovecot
    name: str
    password: str = PASSWORD

    @contextlib.contextmanager
    def client(self) -> Iterator[IMAPClient]:
        client = IMAPClient("127.0.0.1", port=self.server.port, ssl=False, timeout=10)
        client.normalise_times = False
        try:
            client.login(self.name, self.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(
        self,
        folder: str,
        message: bytes,
        *,
        flags: Iterable[str] = (),
        when: datetime | None = None,
    ) -> int:
        """APPEND a message and return its UID (from UIDPLUS, else by search)."""
        with self.client() as client:
            response = client.append(folder, message, flags=tuple(flags), msg_time=when)
            match = re.search(rb"APPENDUID \d+ (\d+)", response or b"")
            if match:
                return int(match.group(1))
            client.select_folder(folder)
            return max(client.search("ALL"))

    def create_folder(self, folder: str) -> None:
        with self.client() as client:
            client.create_folder(folder)

    def delete_folder(self, folder: str) -> None:
        with self.client() as client:
            client.delete_folder(folder)

    def add_flags(self, folder: str, uid: int, flags: Iterable[str]) -> None:
        with self.client() as client:
            client.select_folder(folder)
            client.add_flags([uid], tuple(flags))

    def remove_flags(self, folder: str, uid: int, flags: Iterable[str]) -> None:
        with self.client() as client:
            client.select_folder(folder)
            client.remove_flags([uid], tuple(flags))

    def expunge(self, folder: str, uid: int) -> None:
        with self.client() as client:
            client.select_folder(folder)
            client.delete_messages([uid])
            client.uid_expunge([uid])

    def uids(self, folder: str) -> list[int]:
        with self.client() as client:
            client.select_folder(folder, readonly=True)
            return sorted(client.search("ALL"))

    def uidvalidity(self, folder: str) -> int:
        with self.client() as client:
            return int(client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])

    def reset_uidvalidity(self, folder: str) -> int:
        """Give the folder a new UIDVALIDITY, as a server restore or migration does."""
        new = self.uidvalidity(folder) + 1000
        self.server.doveadm(
            "mailbox", "update", "-u", self.name, "--uid-validity", str(new), folder
        )
        return new

    def kick(self) -> None:
        """Drop every IMAP connection of this user (server side)."""
        self.server.doveadm("kick", self.name, ok_codes=(0, 68))  # 68: nobody was connected


class Dovecot:
    """A private Dovecot: start(), add_user(), stop(); restart() keeps the mail."""

    def __init__(
        self, root: Path | None = None, *, flavour: Flavour = "modern", tls: bool = False
    ) -> None:
        # Default: a private dir outside pytest's basetemp, because every pytest
        # session resets /tmp/pytest-of-<user> to 0700, which locks the vmail
        # user out of a server another session is still using.
        self._owns_root = root is None
        self.root = root if root is not None else Path(tempfile.mkdtemp(prefix="gw-dovecot-"))
        self.flavour = flavour
        self.tls = tls
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self.config = self.root / "dovecot.conf"
        self.cert: Path | None = None
        # Every test user has the same password; connectors read it from here.
        self.password_file = self.root / "password"
        self._users = itertools.count(1)

    # lifecycle -----------------------------------------------------------------

    def start(self) -> Dovecot:
        binary = dovecot_binary()
        if binary is None:
            skip_or_fail("dovecot is not installed (apt-get install -y dovecot-imapd)")
        assert binary is not None
        ensure_mail_user()
        self._prepare_dirs()
        self._write_config()
        self._launch(binary)
        return self

    def stop(self) -> None:
        pid = self._master_pid()
        if pid is None:
            return
        # `doveadm stop` also ends the imap processes, as a real restart does;
        # a bare SIGTERM to the master leaves them serving their connections.
        done = subprocess.run(
            ["doveadm", "-c", str(self.config), "stop"], capture_output=True, check=False
        )
        if done.returncode != 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def cleanup(self) -> None:
        """stop(), and remove the files if this server made its own temp dir."""
        self.stop()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start again, the mail kept; connections are cut like a real restart's
        (a stopped master leaves running imap processes serving their clients)."""
        self.doveadm("kick", "*", ok_codes=(0, 68))
        self.stop()
        binary = dovecot_binary()
        assert binary is not None
        self._launch(binary)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    # users and tools -----------------------------------------------------------

    def add_user(self, prefix: str = "user") -> MailUser:
        """A user nobody has used yet: the static passdb lets any name in with
        PASSWORD, and the mailbox is created at first login."""
        return MailUser(self, f"{prefix}{next(self._users)}-{os.getpid()}@example.test")

    def doveadm(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> str:
        done = subprocess.run(
            ["doveadm", "-c", str(self.config), *args], capture_output=True, text=True
        )
        if done.returncode not in ok_codes:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    # internals -----------------------------------------------------------------

    def _prepare_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # Login processes run as dovenull and must reach base_dir through its parents.
        # pytest makes its temp dirs 0700, so open them up (read + search only).
        for path in (self.root, *self.root.parents):
            mode = path.stat().st_mode
            if mode & 0o055 != 0o055:
                path.chmod(mode | 0o055)
        mail = self.root / "mail"
        mail.mkdir(exist_ok=True)
        shutil.chown(mail, MAIL_USER, MAIL_USER)
        self.password_file.write_text(PASSWORD + "\n", encoding="utf-8")
        if self.tls:
            self.cert, _ = make_certificate(self.root)

    def _write_config(self) -> None:
        if self.tls:
            assert self.cert is not None
            dh = "/usr/share/dovecot/dh.pem"
            ssl_block = (
                f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{self.root / 'key.pem'}\n"
                + (f"ssl_dh = <{dh}\n" if os.path.exists(dh) else "")
            )
        else:
            ssl_block = "ssl = no"
        legacy = self.flavour == "legacy"
        caps = {"legacy": _LEGACY_CAPS, "condstore": _CONDSTORE_CAPS}.get(self.flavour)
        self.config.write_text(
            _CONFIG.format(
                base=self.root,
                password=PASSWORD,
                mail_user=MAIL_USER,
                port=self.port,
                tls_port=self.tls_port,
                ssl_block=ssl_block,
                special_use="" if legacy else _SPECIAL_USE,
                capability_line=f"imap_capability = {caps}" if caps else "",
            ),
            encoding="utf-8",
        )

    def _launch(self, binary: str) -> None:
        # The master daemonizes; a captured pipe would stay open in it and hang
        # subprocess.run, so its early errors go to a file instead.
        errors = self.root / "start.err"
        with errors.open("w") as err:
            done = subprocess.run(
                [binary, "-c", str(self.config)], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err, check=False,
            )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"dovecot did not start: {errors.read_text()}\n{self.log()}")
        self._wait_for_port(self.port)

    def _master_pid(self) -> int | None:
        path = self.root / "run" / "master.pid"
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def _wait_for_port(self, port: int) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {port}:\n{self.log()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def serve(**kwargs: Any) -> Iterator[Dovecot]:
    """A started Dovecot for a fixture to `yield from`; skips (or fails under CI) without
    the binary, and removes the server's temp dir afterwards."""
    if dovecot_binary() is None:
        skip_or_fail("dovecot is not installed (apt-get install -y dovecot-imapd)")
    server = Dovecot(**kwargs)
    try:
        yield server.start()
    finally:
        server.cleanup()
