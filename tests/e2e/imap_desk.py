"""A consultant's desk on a real Dovecot: an IMAP user, a ghostwatch config, the CLI.

Like tests/e2e/conftest.py's Desk, but the mailbox is a real IMAP account, so
the tests see exactly what a mail client sees: the Drafts folder ghostwatch
writes into, the Sent folder a client files into, every UID and flag.

`gw()` runs the CLI in this process (fast); `gw_process()` starts it as a
separate process, for tests that kill it.
"""

from __future__ import annotations

import contextlib
import email
import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.message import Message
from email.policy import default as default_policy
from email.utils import format_datetime
from pathlib import Path

from daemon.cli.main import main
from tests.servers.dovecot import Dovecot, MailUser, dovecot_binary, skip_or_fail

REPO = Path(__file__).resolve().parents[2]
ME = "li.lei@hunter.example"
LI = ("李雷", ME)
KEY = "X-Ghostwatch-Key"

CONFIG = """
[daemon]
database = "sqlite:///{root}/gw.db"
lookback = "30d"

[policy]
timezone = "Asia/Shanghai"
internal_domains = ["hunter.example"]
ignore = ["*noreply*"]
on_draft_deleted = "{on_deleted}"
max_drafts_per_cycle = {max_drafts}

[[accounts]]
name = "work"
address = "{me}"
display_name = "李雷"
locale = "zh-CN"

[accounts.mail]
type = "imap"
host = "127.0.0.1"
port = {port}
security = "plain"
username = "{username}"
password_file = "{password_file}"
timeout = {timeout}
"""


@contextlib.contextmanager
def running_dovecot(server: Dovecot | None = None) -> Iterator[Dovecot]:
    """A started Dovecot (its own temp dir, never pytest's), stopped and removed after."""
    if dovecot_binary() is None:
        skip_or_fail("dovecot is not installed (scripts/test installs dovecot-imapd)")
    server = (server or Dovecot()).start()
    try:
        yield server
    finally:
        server.cleanup()


def mail(
    frm: tuple[str, str],
    to: tuple[str, str],
    subject: str,
    when: str,
    msgid: str | None,
    *,
    reply_to: str | None = None,
    body: str = "您好，想和您聊聊这个机会。",
    raw_to: str | None = None,
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """An RFC 5322 message as a mail client would write it (names RFC 2047-encoded).

    `msgid=None` leaves the Message-ID out; `raw_to` puts a hand-made To line in.
    """

    def addr(pair: tuple[str, str]) -> str:
        name, address = pair
        return f"{Header(name, 'utf-8').encode()} <{address}>" if name else address

    subject_line = Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")
    lines = [
        f"From: {addr(frm)}",
        f"To: {raw_to if raw_to is not None else addr(to)}",
        f"Subject: {subject_line}",
        f"Date: {format_datetime(datetime.fromisoformat(when))}",
    ]
    if msgid:
        lines.append(f"Message-ID: <{msgid}>")
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
              "Content-Transfer-Encoding: 8bit"]  # fmt: skip
    if reply_to:
        lines += [f"In-Reply-To: <{reply_to}>", f"References: <{reply_to}>"]
    lines += [f"{k}: {v}" for k, v in extra]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode("utf-8")


def _flag_names(flags: tuple[bytes | str, ...]) -> tuple[str, ...]:
    """The flags, sorted; \\Recent is left out (it says which session saw it first)."""
    names = (f.decode() if isinstance(f, bytes) else str(f) for f in flags)
    return tuple(sorted(n for n in names if n != "\\Recent"))


@dataclass(frozen=True)
class Stored:
    """One message as the server holds it."""

    folder: str
    uid: int
    raw: bytes
    flags: tuple[str, ...]

    @property
    def message(self) -> Message:
        return email.message_from_bytes(self.raw, policy=default_policy)

    @property
    def key(self) -> str | None:
        value = self.message[KEY]
        return str(value).strip() if value is not None else None

    def header(self, name: str) -> str:
        value = self.message[name]
        return "" if value is None else str(value)


@dataclass
class ImapDesk:
    """The consultant's IMAP mailbox and the ghostwatch CLI configured for it."""

    server: Dovecot
    user: MailUser
    root: Path
    port: int  # where ghostwatch connects (Dovecot's port, or a proxy in front of it)

    @classmethod
    def create(
        cls,
        server: Dovecot,
        root: Path,
        *,
        port: int | None = None,
        on_deleted: str = "skip",
        max_drafts: int = 25,
        timeout: float = 10.0,
    ) -> ImapDesk:
        root.mkdir(parents=True, exist_ok=True)
        desk = cls(server, server.add_user("consultant"), root, port or server.port)
        desk.config.write_text(
            CONFIG.format(
                root=root,
                me=ME,
                on_deleted=on_deleted,
                max_drafts=max_drafts,
                port=desk.port,
                username=desk.user.name,
                password_file=server.password_file,
                timeout=timeout,
            ),
            encoding="utf-8",
        )
        return desk

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    # the CLI -------------------------------------------------------------------

    def argv(self, *args: str, now: str | None) -> list[str]:
        return ["--config", str(self.config), *(["--now", now] if now else []), *args]

    def gw(self, *args: str, now: str | None = None) -> tuple[int, str]:
        """`ghostwatch ARGS` in this process: (exit code, stdout)."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(self.argv(*args, now=now))
        return code, out.getvalue()

    def ok(self, *args: str, now: str | None = None) -> str:
        code, out = self.gw(*args, now=now)
        assert code == 0, f"ghostwatch {' '.join(args)} exited {code}:\n{out}"
        return out

    def gw_process(self, *args: str, now: str | None = None) -> subprocess.Popen[bytes]:
        """`ghostwatch ARGS` as its own process (stdout/stderr to files in the desk)."""
        log = (self.root / "process.log").open("ab")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "daemon.cli.main", *self.argv(*args, now=now)],
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()

    def status(self, now: str) -> list[dict[str, object]]:
        return json.loads(self.ok("status", "--all", "--json", now=now))

    def row(self, now: str, contact: str) -> dict[str, object]:
        rows = [r for r in self.status(now) if r["contact"] == contact]
        assert len(rows) == 1, f"{len(rows)} sequences for {contact}: {rows}"
        return rows[0]

    # the mailbox ---------------------------------------------------------------

    def append(self, folder: str, raw: bytes, flags: tuple[str, ...] = ()) -> int:
        return self.user.append(folder, raw, flags=flags)

    def outreach(
        self, to: tuple[str, str], subject: str, when: str, msgid: str | None, **kw: object
    ) -> int:
        """The consultant's first mail to a contact, in Sent (read, as clients file it)."""
        raw = mail(LI, to, subject, when, msgid, **kw)  # type: ignore[arg-type]
        return self.append("Sent", raw, ("\\Seen",))

    def folders(self) -> list[str]:
        with self.user.client() as client:
            return sorted(name for _, _, name in client.list_folders())

    def messages(self, folder: str) -> list[Stored]:
        with self.user.client() as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return []
            rows = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"])
        return [
            Stored(folder, uid, rows[uid][b"BODY[]"], _flag_names(rows[uid][b"FLAGS"]))
            for uid in sorted(rows)
        ]

    def drafts(self) -> list[Stored]:
        return self.messages("Drafts")

    def keys(self) -> list[str]:
        """X-Ghostwatch-Key of every message in Drafts, duplicates kept."""
        return sorted(d.key for d in self.drafts() if d.key)

    def snapshot(self) -> dict[str, list[tuple[int, tuple[str, ...]]]]:
        """(uid, flags) of every message in every folder."""
        return {f: [(m.uid, m.flags) for m in self.messages(f)] for f in self.folders()}

    def draft_to(self, contact: str) -> Stored:
        found = [d for d in self.drafts() if contact in d.header("To")]
        assert len(found) == 1, f"{len(found)} drafts to {contact}"
        return found[0]

    def send_draft(self, contact: str, at: str) -> None:
        """What sending from a client does, by IMAP: a dated copy to Sent, the draft removed."""
        draft = self.draft_to(contact)
        msg = email.message_from_bytes(draft.raw)
        del msg["Date"]
        msg["Date"] = format_datetime(datetime.fromisoformat(at))
        self.append("Sent", msg.as_bytes(), ("\\Seen",))
        self.user.expunge("Drafts", draft.uid)

    def replace_draft(self, contact: str, edit: Callable[[bytes], bytes]) -> int:
        """What saving an edited draft does in most clients: APPEND the new, delete the old."""
        draft = self.draft_to(contact)
        uid = self.append("Drafts", edit(draft.raw), ("\\Draft", "\\Seen"))
        self.user.expunge("Drafts", draft.uid)
        return uid
