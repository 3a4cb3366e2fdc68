"""`status` from the stored decisions is the replay's `status`, byte for byte (issue 11).

A realistic mailbox (bench/generate.py: 80 days of outreach to Chinese and English
contacts, replies, auto-replies, bounces, newsletters) is synced and decided once by
the real CLI; then `status` runs as a subprocess at several instants and its output
is compared with every thread replayed in this process, rendered the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from io import StringIO
from mailbox import Maildir
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bench.generate import INTERNAL_DOMAIN, NOW, OWN_ADDR, generate
from daemon.cli import commands
from daemon.cli.main import main
from daemon.cli.present import (
    AccountHealth,
    print_accounts,
    print_json,
    print_status,
    status_json,
)
from daemon.config.loader import load_config
from daemon.db.tables import Account
from daemon.decide import replay
from daemon.decide.status_row import StatusRow
from daemon.runtime.wiring import open_app
from tests.e2e.test_command_imports import loaded_by

REPO = Path(__file__).resolve().parents[2]
TZ = "Asia/Shanghai"
CONFIG = """
[daemon]
database = "sqlite:///{root}/gw.db"
lookback = "120d"

[policy]
timezone = "{tz}"
internal_domains = ["{internal}"]

# Tags of several keys (their order is printed) and playbooks that differ by rule.
[[policy.rules]]
when = {{ subject = "(?i)opportunity|机会" }}
set = {{ stage = "sourcing", source = "outbound" }}

[[policy.rules]]
when = {{ stage = "sourcing" }}
steps = ["2bd", "5bd", "9bd"]

[[accounts]]
name = "work"
address = "{own}"

[accounts.mail]
type = "maildir"
path = "{root}/Mail"
"""
LATER = (timedelta(0), timedelta(hours=5), timedelta(days=3), timedelta(days=30))


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Config of a 1,500-message mailbox, synced and decided (`once --dry-run`) at NOW."""
    root = tmp_path_factory.mktemp("readmodel")
    generate(root / "Mail", 1500)
    config = root / "config.toml"
    config.write_text(
        CONFIG.format(root=root, tz=TZ, internal=INTERNAL_DOMAIN, own=OWN_ADDR), encoding="utf-8"
    )
    gw(config, "once", "--dry-run", now=NOW)
    return config


def gw(config: Path, *args: str, now: datetime) -> str:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(config), "--now", now.isoformat(),
         *args],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def replayed(config: Path, now: datetime, *args: str) -> str:
    """What `status` printed before the read model: every thread replayed as of `now`."""
    cfg = load_config(config)
    app = open_app(cfg)
    try:
        rows = [StatusRow.of(d) for d in commands.all_decisions(app, now)]
        with app.store.reader() as s:
            accounts = {
                a.name: AccountHealth(a.health or "ok", a.rescans or 0, a.last_error)
                for a in s.query(Account).order_by(Account.name)
            }
    finally:
        app.store.close()
    rows = [r for r in rows if "--all" in args or commands._shown(r, now)]
    rows.sort(key=lambda r: (r.next_due is None, r.next_due or r.started_at))
    out, tz = StringIO(), ZoneInfo(TZ)
    if "--json" in args:
        print_json(status_json(rows, tz, accounts), out)
    else:
        print_status(rows, tz, out)
        print_accounts(accounts, out)
    return out.getvalue()


@pytest.mark.parametrize("later", LATER, ids=["at-decision", "5h", "3d", "30d"])
def test_status_from_stored_decisions_is_the_replays(decided: Path, later: timedelta) -> None:
    now = NOW + later
    for args in (("status",), ("status", "--json"), ("status", "--all", "--json")):
        assert gw(decided, *args, now=now) == replayed(decided, now, *args), args
    rows = json.loads(gw(decided, "status", "--all", "--json", now=now))
    names = {r["contact_name"] for r in rows if r["contact_name"]}
    assert any(n.isascii() for n in names) and any(not n.isascii() for n in names)
    assert {r["state"] for r in rows} >= {"waiting", "replied", "ghosted"}
    assert {tuple(r["tags"]) for r in rows} >= {(), ("stage", "source")}


def test_status_after_a_decision_replays_nothing(
    decided: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    replays: list[int] = []
    real = replay.evaluate

    def counting(s, account, policy, now, thread_ids):  # type: ignore[no-untyped-def]
        replays.extend(thread_ids)
        return real(s, account, policy, now, thread_ids)

    monkeypatch.setattr(replay, "evaluate", counting)
    assert main(["--config", str(decided), "--now", NOW.isoformat(), "status"]) == 0
    assert "RISK" in capsys.readouterr().out
    assert replays == []  # before the read model: every thread with mail of ours, each call
    # As a command: nothing to replay, so neither SQLAlchemy nor anything else heavy loads.
    assert loaded_by("--config", str(decided), "--now", NOW.isoformat(), "status") == set()


def test_a_ghosted_contact_writing_a_new_thread_shows_up_after_a_plain_sync(
    decided: Path, tmp_path: Path
) -> None:
    """Their new mail lands in a thread of its own and leaves the ghosted one clean:
    status must still replay the old thread and show the return, like the replay."""
    rows = json.loads(gw(decided, "status", "--all", "--json", now=NOW))
    ghosted = next(r for r in rows if r["state"] == "ghosted" and r["returned_from"] is None)
    back = NOW + timedelta(days=2)
    msg = EmailMessage()
    msg["From"] = ghosted["contact"]
    msg["To"] = OWN_ADDR
    msg["Subject"] = "Re: catching up / 近况"
    msg["Date"] = format_datetime(back - timedelta(hours=1))
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content("Sorry for the silence, I am interested now.\n")
    Maildir(decided.parent / "Mail", create=False).add(msg)
    gw(decided, "sync", now=back)
    shown = gw(decided, "status", "--json", now=back)
    assert shown == replayed(decided, back, "status", "--json")
    mine = [r for r in json.loads(shown) if r["contact"] == ghosted["contact"]]
    assert [r["returned_from"] for r in mine] == ["ghosted"]
