"""Issue 11: the first sync leaves no message waiting for its body.

A bounce is recognised from its headers as "some bounce", but whose address
bounced is only in the body. The first sync used to read at most 500 bodies,
so right after it `status` showed the other outreach threads as waiting for
an answer that could never come. Real Dovecot, the real CLI.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_dovecot_cli import LI, ME, desk, dovecot, dsn, gw, mail
from tests.servers.dovecot import Dovecot, MailUser

__all__ = ["desk", "dovecot"]  # fixtures, shared with the Dovecot CLI story

BOUNCED = 520  # more than the old per-sync cap of 500 bodies
NOW = "2026-11-04T10:00+08:00"


@pytest.fixture
def bounced_outreach(desk: tuple[MailUser, Path], dovecot: Dovecot) -> Iterator[Path]:
    user, config = desk
    with user.client() as client:
        for i in range(BOUNCED):
            to = (f"候选人{i}", f"c{i}@gone.example")
            client.append(
                "Sent", mail(LI, to, "一个职位", "2026-11-02T09:30+08:00", f"o{i}@h"), ["\\Seen"]
            )
            client.append(
                "INBOX", dsn(to[1], "5.1.1", "2026-11-02T09:31+08:00", f"d{i}@mx", f"o{i}@h")
            )
    yield config


def test_first_sync_reads_every_waiting_body(
    bounced_outreach: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = bounced_outreach
    gw(config, capsys, "sync", now=NOW)
    db = sqlite3.connect(tmp_path / "gw.db")
    waiting = db.execute("SELECT count(*) FROM messages WHERE needs_body").fetchone()[0]
    hard = db.execute(
        "SELECT count(*) FROM messages WHERE kind = 'bounce' AND bounce_hard"
    ).fetchone()
    db.close()
    assert waiting == 0
    assert hard[0] == BOUNCED

    rows = json.loads(gw(config, capsys, "status", "--all", "--json", now=NOW))
    states = {r["contact"]: r["state"] for r in rows if r["contact"] != ME}
    assert len(states) == BOUNCED
    assert set(states.values()) == {"undeliverable"}
