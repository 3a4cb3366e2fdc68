"""A real mail client for end-to-end tests: neomutt (or mutt) inside a private tmux.

The test writes a muttrc, `Mutt.start()` runs the client in a detached tmux
session on its own socket (so it never touches a user's tmux), `keys()` types,
`screen()` reads the pane and `wait_for()` waits until the screen shows a text.
`faketime` (when given a start instant) makes the client's clock begin there, so
the Date it puts on what it sends matches the story's `--now`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def mutt_binary() -> str | None:
    return shutil.which("neomutt") or shutil.which("mutt")


def tmux_binary() -> str | None:
    return shutil.which("tmux")


def faketime_binary() -> str | None:
    return shutil.which("faketime")


@dataclass(frozen=True)
class MuttAccount:
    """What the muttrc needs: an IMAP account, an SMTP server, the sender."""

    imap_port: int
    username: str
    password: str
    smtp_port: int
    sender: str
    realname: str = ""


def muttrc(account: MuttAccount, home: Path) -> str:
    """A muttrc for plain IMAP and SMTP on loopback, with Drafts as the postponed folder."""

    def q(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [
        f"set folder={q(f'imap://127.0.0.1:{account.imap_port}/')}",
        f"set imap_user={q(account.username)}",
        f"set imap_pass={q(account.password)}",
        "set ssl_starttls=no",
        "set ssl_force_tls=no",
        'set spoolfile="+INBOX"',
        'set postponed="+Drafts"',
        'set record="+Sent"',
        "set copy=yes",
        f"set smtp_url={q(f'smtp://127.0.0.1:{account.smtp_port}/')}",
        "set editor=true",
        f"set from={q(account.sender)}",
        f"set realname={q(account.realname)}",
        "set use_from=yes",
        "set edit_headers=no",
        "unset confirmappend",
        "unset confirmcreate",
        "set recall=yes",
        "set postpone=ask-no",
        "set delete=yes",
        "unset move",
        "unset mark_old",
        "unset wait_key",
        "set sleep_time=0",
        "set timeout=1",
        "set mail_check=1",
        "set imap_keepalive=30",
        "set charset=utf-8",
        'set send_charset="utf-8"',
        "set sort=date",
        f"set tmpdir={q(str(home / 'tmp'))}",
        "set header_cache=''",
        "set message_cachedir=''",
        "unset help",
    ]
    return "\n".join(lines) + "\n"


class Mutt:
    """neomutt/mutt in a detached tmux session of its own."""

    def __init__(self, home: Path, rc: str, *, clock_start: str | None = None) -> None:
        binary, tmux = mutt_binary(), tmux_binary()
        if binary is None or tmux is None:
            raise RuntimeError("neomutt/mutt and tmux are needed (apt-get install neomutt tmux)")
        self.binary, self.tmux = binary, tmux
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "tmp").mkdir(exist_ok=True)
        self.rc = self.home / "muttrc"
        self.rc.write_text(rc, encoding="utf-8")
        self.rc.chmod(0o600)
        self.clock_start = clock_start
        # A short socket path of our own: the session and server are private to this object.
        self._sockdir = Path(tempfile.mkdtemp(prefix="gw-tmux-"))
        self.socket = self._sockdir / "s"
        self.session = "mutt"

    # lifecycle -----------------------------------------------------------------

    def start(self) -> Mutt:
        command = [self.binary, "-n", "-F", str(self.rc)]
        if self.clock_start is not None:
            fake = faketime_binary()
            if fake is None:
                raise RuntimeError("faketime is needed (apt-get install faketime)")
            command = [fake, self.clock_start, *command]  # `date -d` syntax; the clock ticks on
        env = {
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TERM": "screen",
            "TZ": os.environ.get("GW_MUTT_TZ", "Asia/Shanghai"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        inner = " ".join(shlex.quote(part) for part in command)
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # Keep the pane after the client exits, so a failed start can still be read.
        shell = f"env -i {exports} {inner}; echo MUTT-EXITED-$?; sleep 600"
        self._tmux(
            "new-session", "-d", "-s", self.session, "-x", "200", "-y", "50", shell,
        )  # fmt: skip
        return self

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            self._tmux("kill-server")
        shutil.rmtree(self._sockdir, ignore_errors=True)

    def __enter__(self) -> Mutt:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # driving -------------------------------------------------------------------

    def keys(self, *keys: str, literal: bool = False) -> None:
        """tmux send-keys: names like Enter, Escape, C-g; literal=True types text as is."""
        self._tmux("send-keys", "-t", self.session, *(["-l"] if literal else []), *keys)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.session)

    def wait_for(self, pattern: str, timeout: float = 20.0) -> str:
        """The screen once it matches `pattern` (a regex); TimeoutError with the screen if not."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if regex.search(text):
                return text
            if "MUTT-EXITED-" in text:
                break
            time.sleep(0.1)
        raise TimeoutError(f"the screen never showed {pattern!r}; it shows:\n{text}")

    def wait_until_gone(self, pattern: str, timeout: float = 20.0) -> str:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if not regex.search(text):
                return text
            time.sleep(0.1)
        raise TimeoutError(f"the screen still shows {pattern!r}:\n{text}")

    @contextlib.contextmanager
    def screen_on_failure(self) -> Iterator[None]:
        """Re-raise any failure with the client's screen attached (for the test report)."""
        try:
            yield
        except BaseException as exc:
            with contextlib.suppress(Exception):
                exc.add_note(f"mail client screen:\n{self.screen()}")
            raise

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            [self.tmux, "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        )
        return done.stdout
