"""Liveness of the daemon loop: the systemd watchdog, and the heartbeat row that
shows the writer lock is held (and retakes it when PostgreSQL dropped it)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from daemon import failures
from daemon.db.tables import DaemonLock
from daemon.runtime import notify
from daemon.runtime.lock import DatabaseLock, acquire, holder_text
from daemon.runtime.wiring import App

log = logging.getLogger("daemon.runtime.service")  # the daemon's lines keep one source

MAX_CYCLE = 30 * 60.0  # the watchdog stops vouching for a cycle older than this
HEARTBEAT_EVERY = 60.0


class Liveness:
    """Mixed into Service: the loop state it reads is declared here."""

    app: App
    lock: DatabaseLock
    stopping: bool
    exit_code: int
    cycle_started: float | None  # monotonic; None between cycles
    watchdog_every: float | None
    _last_ping: float
    _last_heartbeat: float

    def _ping_watchdog(self) -> None:
        if self.watchdog_every is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.watchdog_every:
            notify.notify("WATCHDOG=1")
            self._last_ping = now

    def _start_watchdog_helper(self) -> None:
        """Vouch for the loop while it is busy in a long cycle (a first sync of 90
        days takes minutes), but only up to MAX_CYCLE: a loop stuck longer than
        that is what the watchdog is for, and systemd restarts it."""
        every = self.watchdog_every
        if every is None:
            return

        def vouch() -> None:
            while not self.stopping:
                time.sleep(every)
                started = self.cycle_started
                if started is not None and time.monotonic() - started < MAX_CYCLE:
                    notify.notify("WATCHDOG=1")

        threading.Thread(target=vouch, name="watchdog", daemon=True).start()

    def _heartbeat(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_heartbeat < HEARTBEAT_EVERY:
            return
        self._last_heartbeat = now
        if not self.lock.alive():
            self._lost_lock()
            return
        try:
            with self.app.store.transaction() as s:
                row = s.get(DaemonLock, 1)
                if row is None:
                    row = DaemonLock(id=1, holder=holder_text(), heartbeat_at=datetime.now(UTC))
                    s.add(row)
                row.heartbeat_at = datetime.now(UTC)
        except Exception as exc:
            log.debug("heartbeat not written: %s", failures.describe(exc))

    def _lost_lock(self) -> None:
        """PostgreSQL dropped the lock's connection: take the lock again or stop."""
        try:
            self.lock.release()
            self.lock = acquire(self.app.config.daemon.database)
            log.warning("database connection was lost; the writer lock is taken again")
        except Exception as exc:
            log.error("stopping: lost the database writer lock (%s)", failures.describe(exc))
            self.exit_code = 1
            self.stopping = True
