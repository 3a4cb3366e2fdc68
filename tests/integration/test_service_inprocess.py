"""The daemon loop in this process: push, the daily summary, unexpected errors.

The subprocess tests (test_service.py) cover signals and logs end to end;
these reach inside where a subprocess cannot: a fake push source, and the
summary job called directly instead of waiting for 08:00.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

import connectors
from daemon.config.loader import load_config
from daemon.demo import mail as sample
from daemon.runtime.lock import acquire
from daemon.runtime.service import Service, shifted_clock
from daemon.runtime.wiring import open_app
from tests.integration import service_fakes
from tests.integration.test_service import NOW, WORK

MAILDIR_ACCOUNT = """
[[accounts]]
name = "{name}"
address = "{name}@hunter.example"

[accounts.mail]
type = "{kind}"
path = "{path}"
"""


@pytest.fixture(autouse=True)
def fakes_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    module = service_fakes.__name__
    monkeypatch.setitem(connectors.MAIL_CONNECTORS, "pushdir", module)
    monkeypatch.setitem(connectors.MAIL_CONNECTORS, "boom", module)


def make_service(root: Path, extra: str) -> Service:
    sample.create(root / "Mail")
    for letter in sample.OUTREACH:
        sample.deliver(root / "Mail", letter)
    path = root / "config.toml"
    path.write_text(WORK.format(root=root, state=root) + extra, encoding="utf-8")
    config = load_config(path)
    lock = acquire(config.daemon.database)
    return Service(open_app(config), path, lock, shifted_clock(datetime.fromisoformat(NOW)))


def _wait(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(text in r.getMessage() for r in caplog.records):
            return True
        time.sleep(0.05)
    return False


def test_a_push_runs_a_cycle_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GHOSTWATCH_POLL_SECONDS", "3600")  # no poll: only a push can cycle
    box = tmp_path / "Push"
    sample.create(box)
    service = make_service(tmp_path, MAILDIR_ACCOUNT.format(name="pushy", kind="pushdir", path=box))
    caplog.set_level(logging.INFO)
    outcome: dict[str, bool] = {}

    def consultant() -> None:
        outcome["first"] = _wait(caplog, "[pushy] cycle (start)")
        service_fakes.PUSHES.put(True)  # new mail in the Inbox
        outcome["pushed"] = _wait(caplog, "[pushy] cycle (push)")
        os.kill(os.getpid(), signal.SIGTERM)

    helper = threading.Thread(target=consultant)
    helper.start()
    code = service.run()  # signal handlers need the main thread; SIGTERM ends it
    helper.join()
    assert code == 0
    assert outcome == {"first": True, "pushed": True}
    assert any("[pushy] push: watching for new mail" in r.getMessage() for r in caplog.records)
    assert not any("[work] push" in r.getMessage() for r in caplog.records)  # Maildir polls


def test_daily_summary_and_an_unexpected_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = make_service(
        tmp_path, MAILDIR_ACCOUNT.format(name="broken", kind="boom", path=tmp_path / "boom")
    )
    (tmp_path / "boom").mkdir()
    caplog.set_level(logging.DEBUG)
    try:
        service._configure()
        for account in service.app.config.accounts:
            service._cycle(account, "test")
        service._summary()
        service._summary()
    finally:
        service.app.store.close()
        service.lock.release()
    lines = [r for r in caplog.records if r.name == "daemon.runtime.service"]
    error = next(r for r in lines if "[broken] degraded" in r.getMessage())
    assert error.levelno == logging.ERROR
    assert "unexpected RuntimeError at service_fakes.py:" in error.getMessage()
    assert service_fakes.SECRET_TEXT not in error.getMessage()
    assert any(r.levelno == logging.DEBUG and r.exc_info for r in lines)  # traceback at -v
    summaries = [r.getMessage() for r in lines if r.getMessage().startswith("daily summary")]
    assert summaries == [
        "daily summary: 1 account(s) ok, 1 degraded (broken); 1 draft(s) written since start; "
        "since the last summary 1 cycle(s), 1 failed, 1 draft(s) written",
        "daily summary: 1 account(s) ok, 1 degraded (broken); 1 draft(s) written since start; "
        "since the last summary 0 cycle(s), 0 failed, 0 draft(s) written",
    ]
    jobs = service.scheduler.get_jobs()
    assert sorted(str(j.at_time) for j in jobs if j.unit == "days") == ["08:00:00"]
    assert len([j for j in jobs if j.unit == "seconds"]) == 2  # one poll per account
    assert service.backoff.wait("broken", time.monotonic()) > 0
    assert service.backoff.wait("work", time.monotonic()) == 0
