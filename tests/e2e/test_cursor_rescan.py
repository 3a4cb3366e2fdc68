"""Issue 10, defect 1: an expired mail cursor is recovered by one rescan, through the CLI.

The stored cursor is damaged the way a release with another cursor format, or
a provider's expired history id, leaves it: the connector raises
CursorExpired. `sync` and `once` then rescan once, count it in
`Account.rescans`, show it in `status`, and make no second thread, message or
draft. Run on a real Maildir and on a real Dovecot.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.demo import mail as sample
from tests.e2e.conftest import Desk
from tests.e2e.imap_desk import LI, ImapDesk, mail, running_dovecot
from tests.servers.dovecot import Dovecot

T1 = "2026-11-03T10:00+08:00"  # Wang's outreach (Monday) is due for step 1
LATER = "2026-11-03T11:00+08:00"
DAMAGED = ['{"v": 99, "folders": {}}', "not json at all", "[1, 2, 3]"]


def _db(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(root / "gw.db")


def damage_cursor(root: Path, text: str) -> None:
    with contextlib.closing(_db(root)) as db, db:
        assert db.execute("SELECT cursor FROM accounts").fetchone()[0]  # there was one
        db.execute("UPDATE accounts SET cursor = ?", (text,))


def counts(root: Path) -> tuple[int, int, int, int]:
    """(messages, threads, sequences, drafts) in the database."""
    with contextlib.closing(_db(root)) as db:
        return tuple(  # type: ignore[return-value]
            db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("messages", "threads", "sequences", "drafts")
        )


def account_row(root: Path) -> tuple[int, str, str | None, str | None]:
    with contextlib.closing(_db(root)) as db:
        return db.execute("SELECT rescans, health, last_error, cursor FROM accounts").fetchone()


def test_maildir_cursor_damaged_twice_is_rescanned_each_time(desk: Desk) -> None:
    desk.deliver(sample.OUTREACH[0])
    code, out = desk.gw("once", now=T1)
    assert code == 0 and "1 draft(s) written" in out
    assert desk.gw("sync", now=T1)[0] == 0  # the draft itself is a message in Drafts
    before = counts(desk.root)
    assert before == (2, 1, 1, 1) and len(desk.drafts()) == 1

    damage_cursor(desk.root, DAMAGED[0])
    code, _ = desk.gw("sync", now=LATER)
    assert code == 0
    rescans, health, error, cursor = account_row(desk.root)
    assert (rescans, health, error) == (1, "ok", None)
    assert cursor and json.loads(cursor)["v"] == 1  # a fresh cursor from the rescan
    assert counts(desk.root) == before

    damage_cursor(desk.root, DAMAGED[1])
    code, out = desk.gw("once", now=LATER)
    assert code == 0 and "0 draft(s) written" in out
    assert account_row(desk.root)[:2] == (2, "ok")
    assert counts(desk.root) == before
    assert len(desk.drafts()) == 1  # no second draft

    code, out = desk.gw("status", now=LATER)
    assert code == 0
    assert "account work: mail cursor rebuilt by a rescan 2 time(s)" in out
    rows = desk.status(LATER)
    assert {(r["account_health"], r["account_rescans"]) for r in rows} == {("ok", 2)}


def test_maildir_a_quiet_cycle_does_not_rescan(desk: Desk) -> None:
    desk.deliver(sample.OUTREACH[0])
    assert desk.gw("once", now=T1)[0] == 0
    assert desk.gw("once", now=LATER)[0] == 0
    assert account_row(desk.root)[:2] == (0, "ok")
    code, out = desk.gw("status", now=LATER)
    assert code == 0 and "account work" not in out  # nothing to say about a healthy account


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.mark.dovecot
def test_imap_cursor_damaged_is_rescanned_without_duplicates(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    desk = ImapDesk.create(dovecot, tmp_path)
    desk.outreach(("王芳", "wang.fang@candidate.example"), "高级Go工程师机会",
                  "2026-11-02T09:00+08:00", "rescan1@hunter.example")  # fmt: skip
    desk.outreach(("Emma Clarke", "emma@mail.example"), "Staff engineer role",
                  "2026-11-02T09:30+08:00", "rescan2@hunter.example")  # fmt: skip
    out = desk.ok("once", now=T1)
    assert "2 draft(s) written" in out
    desk.ok("sync", now=T1)  # the drafts themselves are messages in Drafts
    keys = desk.keys()
    before = counts(tmp_path)
    assert len(keys) == 2 and before[3] == 2

    for n, text in enumerate(DAMAGED, start=1):
        damage_cursor(tmp_path, text)
        if n == 1:  # the command a cron job or systemd timer runs, as its own process
            assert desk.gw_process("sync", now=LATER).wait(timeout=120) == 0
        out = desk.ok("once", now=LATER)
        assert "0 draft(s) written" in out
        assert account_row(tmp_path)[:3] == (n, "ok", None)
        assert counts(tmp_path) == before
        assert desk.keys() == keys  # no second draft
    # A reply arriving after the rescans is still seen, and ends its sequence.
    desk.append("INBOX", _reply())
    desk.ok("once", now="2026-11-03T12:00+08:00")
    rows = {r["contact"]: r for r in desk.status("2026-11-03T12:00+08:00")}
    assert rows["emma@mail.example"]["state"] == "replied"
    assert rows["emma@mail.example"]["account_rescans"] == len(DAMAGED)


def _reply() -> bytes:
    return mail(("Emma Clarke", "emma@mail.example"), LI, "Re: Staff engineer role",
                "2026-11-03T11:30+08:00", "emma-reply@mail.example",
                reply_to="rescan2@hunter.example")  # fmt: skip
