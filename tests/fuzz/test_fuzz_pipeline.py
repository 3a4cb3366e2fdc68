"""Issue 9.12, the whole path: hostile mailboxes on a real Maildir through `ghostwatch once`.

Invariants, whatever the headers hold:
- a draft goes only to an address the consultant's own outreach named as an addr-spec;
- no draft carries a header ghostwatch does not write, or two of one;
- every message either enters the store or is skipped with a reason, and the cursor advances;
- a second run writes no second draft.
"""

from __future__ import annotations

import email
import email.policy
import io
import os
import sqlite3
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from connectors.header_values import parse_addresses
from daemon.cli.main import main
from daemon.demo import mail as sample
from tests.e2e.conftest import CONFIG
from tests.fuzz.strategies import (
    FUZZ_E2E,
    NOW,
    addr_specs,
    dates,
    display_names,
    hostile_text,
    message_ids,
    quoted,
)

ME = "li.lei@hunter.example"
T1 = (NOW + timedelta(days=1)).isoformat()
DRAFT_HEADERS = {
    *("from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references"),
    *("x-ghostwatch-key", "mime-version", "content-type", "content-transfer-encoding"),
}


@dataclass(frozen=True)
class Letter:
    outbound: bool
    recipients: tuple[tuple[str, str], ...]  # (display name, addr-spec) as meant
    raw_to: str | None  # a hand-made To value instead, for inbound mail
    sender_name: str
    subject: str
    date: str | None
    message_id: str | None
    in_reply_to: str | None

    def render(self, contact: str) -> bytes:
        to = self.raw_to if self.raw_to is not None else ME
        if self.outbound:
            to = ", ".join(f"{quoted(n)} <{a}>" for n, a in self.recipients)
            sender = f"{quoted(self.sender_name)} <{ME}>"
        else:
            sender = f"{quoted(self.sender_name)} <{contact}>"
        lines = [f"From: {sender}", f"To: {to}", f"Subject: {self.subject}"]
        lines += [f"Date: {self.date}"] if self.date is not None else []
        lines += [f"Message-ID: {self.message_id}"] if self.message_id is not None else []
        lines += [f"In-Reply-To: {self.in_reply_to}"] if self.in_reply_to is not None else []
        text = "\r\n".join(lines) + "\r\n\r\nHello.\r\n"
        return text.encode("utf-8", "surrogatepass")


letters = st.builds(
    Letter,
    outbound=st.booleans(),
    recipients=st.lists(st.tuples(display_names, addr_specs), min_size=1, max_size=2).map(tuple),
    raw_to=st.one_of(st.none(), hostile_text),
    sender_name=display_names,
    subject=hostile_text,
    date=dates,
    message_id=message_ids,
    in_reply_to=message_ids,
)


def _deliver(root: Path, letters: list[Letter], contacts: list[str]) -> int:
    files = 0
    arrived = (NOW - timedelta(days=2)).timestamp()
    for i, letter in enumerate(letters):
        folder = root / ".Sent" if letter.outbound else root
        path = folder / "cur" / f"{1_700_000_000 + i}.fuzz{i}.test:2,S"
        path.write_bytes(letter.render(contacts[i % len(contacts)]))
        os.utime(path, (arrived + 60 * i, arrived + 60 * i))
        files += 1
    return files


def _drafts(root: Path) -> list[Path]:
    box = root / "Mail" / ".Drafts"
    return sorted([*box.glob("cur/*"), *box.glob("new/*")])


def _run(config: Path, *args: str) -> int:
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        return main(["--config", str(config), "--now", T1, *args])


_CR = Letter(True, (("Carl\rBcc: attacker@x.example", "c9e@candidate.example"),), None, "",
             "A role", "Mon, 02 Nov 2026 09:30:00 +0800", "<o1@hunter.example>", None)  # fmt: skip


@FUZZ_E2E
@given(st.lists(letters, min_size=1, max_size=6), st.lists(addr_specs, min_size=1, max_size=3))
@example([_CR], ["c9e@candidate.example"])  # the trial's case (issue 9.2)
def test_hostile_mailboxes_never_misdirect_a_draft(
    batch: list[Letter], contacts: list[str]
) -> None:
    with tempfile.TemporaryDirectory(prefix="gw-fuzz-") as tmp:
        root = Path(tmp)
        sample.create(root / "Mail")
        config = root / "config.toml"
        config.write_text(CONFIG.format(root=root, on_deleted="skip", max_drafts=25), "utf-8")
        delivered = _deliver(root / "Mail", batch, contacts)
        assert _run(config, "once") == 0
        drafts = _drafts(root)
        named = {a for letter in batch if letter.outbound for _, a in letter.recipients}
        for path in drafts:
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
            names = [n.lower() for n in msg]
            assert set(names) <= DRAFT_HEADERS and len(names) == len(set(names))
            # A follow-up goes to the outreach's To and Cc (issue 8.5): every one of them
            # an addr-spec the consultant's own outreach named.
            to = parse_addresses([str(msg["To"])])
            cc = parse_addresses([str(msg["Cc"])]) if msg["Cc"] is not None else []
            assert to, str(msg["To"])
            for a in (*to, *cc):
                assert a.addr in named, (a.addr, named)
        with sqlite3.connect(root / "gw.db") as db:
            stored = db.execute("SELECT count(*) FROM messages WHERE folder_role != 'drafts'")
            skipped = db.execute("SELECT count(*) FROM skips WHERE reason != ''")
            assert stored.fetchone()[0] + skipped.fetchone()[0] == delivered
            (cursor,) = db.execute("SELECT cursor FROM accounts").fetchone()
            assert cursor
        # Idempotence: the same mailbox again gives no second draft.
        assert _run(config, "once") == 0
        assert _drafts(root) == drafts


def test_the_letters_render_what_they_claim() -> None:
    """The oracle above counts on render(): an outbound letter names exactly its recipients."""
    letter = Letter(True, (("Carl\rBcc: a@x.example", "c@y.example"),), None, "李雷", "s",
                    None, None, None)  # fmt: skip
    raw = letter.render("z@z.example")
    assert b'To: "Carl\rBcc: a@x.example" <c@y.example>' in raw
    assert datetime.fromisoformat(T1) > NOW
