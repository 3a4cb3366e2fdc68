"""Each command imports only what it uses (issue 11): the real CLI, as a subprocess.

Start-up time is what a user feels on every `ghostwatch --help` or `status`;
most of it is imports. Timing it in a test would be flaky, so this pins the
cause instead: which heavy libraries a command loaded by the time it exited.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import Desk

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "alembic", "imapclient", "caldav", "jinja2", "icalendar", "holidays")
# Runs the console script's main() and, at exit, reports the heavy packages it loaded.
_ENTRY = """\
import atexit, json, sys
heavy = {heavy!r}
atexit.register(lambda: print("LOADED " + json.dumps(sorted(
    {{m.split(".")[0] for m in sys.modules}} & set(heavy))), file=sys.stderr))
from daemon.cli.main import main
sys.exit(main())
"""


def loaded_by(*argv: str) -> set[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", _ENTRY.format(heavy=HEAVY), *argv],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("LOADED "))
    return set(json.loads(line.removeprefix("LOADED ")))


def test_help_imports_nothing_heavy() -> None:
    assert loaded_by("--help") == set()
    assert loaded_by("status", "--help") == set()


def test_status_on_a_current_database_loads_no_alembic_and_no_connector(desk: Desk) -> None:
    config = ["--config", str(desk.config)]
    now = ["--now", "2026-11-23T10:00+08:00"]
    # The first command creates the schema: that one needs Alembic.
    assert "alembic" in loaded_by(*config, *now, "sync")
    second = loaded_by(*config, *now, "status")
    # Nothing to replay: the read model answers through the sqlite3 module, so not even
    # SQLAlchemy is loaded (before issue 11's read model it was, ~0.3 s of every status).
    assert second == set()


def test_sync_on_a_current_database_loads_no_alembic_and_no_templates(desk: Desk) -> None:
    config = ["--config", str(desk.config)]
    now = ["--now", "2026-11-23T10:00+08:00"]
    loaded_by(*config, *now, "sync")
    again = loaded_by(*config, *now, "sync")
    assert again.isdisjoint({"alembic", "imapclient", "caldav", "jinja2", "icalendar"})


SERVER_CONFIG = """
[daemon]
database = "sqlite:///{root}/gw.db"

[[accounts]]
name = "work"
address = "li.lei@hunter.example"

[accounts.mail]
type = "imap"
host = "127.0.0.1"
port = 1
security = "plain"
username = "li.lei"
password_env = "GW_TEST_UNUSED"

[accounts.calendar]
type = "caldav"
url = "http://127.0.0.1:1/calendars/li.lei/"
username = "li.lei"
password_env = "GW_TEST_UNUSED"
"""


def test_status_of_an_imap_and_caldav_account_loads_neither_library(tmp_path: Path) -> None:
    """The config names the connectors; reading it must not import their libraries."""
    config = tmp_path / "config.toml"
    config.write_text(SERVER_CONFIG.format(root=tmp_path), encoding="utf-8")
    argv = ["--config", str(config), "--now", "2026-11-23T10:00+08:00", "status"]
    loaded_by(*argv)  # creates the schema
    assert loaded_by(*argv).isdisjoint({"alembic", "imapclient", "caldav", "jinja2", "icalendar"})
