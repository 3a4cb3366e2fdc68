"""`ghostwatch run`: the daemon loop.

The main thread does all the work, one cycle at a time: it runs the `schedule`
jobs (a poll per account, a daily summary), takes push signals from the
watcher threads (watch.py), and runs due cycles. So SQLite never sees two
writers from this process, and a second process is refused by lock.py.

Why poll even where push works: follow-ups fall due because time passes, not
only because mail arrives, and IDLE watches the Inbox only (not Sent, where
the consultant's own replies land). Push makes replies count within seconds;
the poll keeps everything else on time.

An account that fails (server down, wrong password, a bug, a full disk) is
marked degraded in the database, retried with backoff (backoff.py), and never
stops the others. Signals: SIGTERM/SIGINT let the cycle in progress finish
(each batch is its own commit, so an abandoned cycle loses nothing) for up to
STOP_GRACE seconds, then abandon it; SIGHUP reloads the config and retries
degraded accounts at once.
"""

from __future__ import annotations

import logging
import math
import queue
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import schedule
from sqlalchemy import delete, select

from daemon import failures
from daemon.backoff import Backoff
from daemon.config.loader import load_config
from daemon.config.settings import AccountConfig, Config
from daemon.db.tables import Account, DaemonLock
from daemon.runtime import notify
from daemon.runtime.clock import Clock, poll_seconds, system_clock
from daemon.runtime.clock import shifted_clock as shifted_clock
from daemon.runtime.cycle import CycleReport, run_cycle
from daemon.runtime.liveness import HEARTBEAT_EVERY, Liveness
from daemon.runtime.lock import DatabaseLock, acquire
from daemon.runtime.reload import reread_config
from daemon.runtime.watch import Watcher, can_push
from daemon.runtime.wiring import App, open_app

log = logging.getLogger(__name__)

STOP_GRACE = 7.0  # after SIGTERM a cycle may run this long; the promise is exit within 10 s
SUMMARY_AT = "08:00"  # local time of the machine


class _Abandon(BaseException):
    """Raised by a signal into a cycle that outlived the stop grace period.

    A BaseException, so no `except Exception` in a connector can swallow it.
    """


@dataclass(slots=True)
class Tally:
    """Counts since the last daily summary."""

    cycles: int = 0
    failed: int = 0
    drafts: int = 0


def run_daemon(config_path: Path, *, now_fn: Clock = system_clock, verbose: bool = False) -> int:
    """Run until SIGTERM/SIGINT; 0 on a clean stop.

    A bad config, a database in use by another `run` or one that cannot be
    opened raise (ConfigError, AlreadyRunning, StoreError): the CLI prints
    them and exits 1.
    """
    config = load_config(config_path)
    _apply_log_level(config, verbose)
    lock = acquire(config.daemon.database)  # before migrating: one migrator only
    try:
        app = open_app(config)
    except BaseException:
        lock.release()
        raise
    service = Service(app, Path(config_path), lock, now_fn, verbose=verbose)
    return service.run()


def _apply_log_level(config: Config, verbose: bool) -> None:
    if not verbose:  # -v wins over the config
        logging.getLogger().setLevel(config.daemon.log_level.upper())


class Service(Liveness):
    def __init__(
        self,
        app: App,
        config_path: Path,
        lock: DatabaseLock,
        now_fn: Clock,
        *,
        verbose: bool = False,
    ) -> None:
        self.app = app
        self.config_path = config_path
        self.lock = lock
        self.now_fn = now_fn
        self.verbose = verbose
        self.scheduler = schedule.Scheduler()
        self.backoff = Backoff()
        self.pending: dict[str, str] = {}  # account name -> why it wants a cycle
        self.changes: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.wake = threading.Event()
        self.watchers: list[Watcher] = []
        self.errors: dict[str, str] = {}  # degraded accounts -> their last error
        self.tally = Tally()
        self.drafts_since_start = 0
        self.stopping = False
        self.reload_requested = False
        self.exit_code = 0
        self.cycle_started: float | None = None  # monotonic; None between cycles
        self.cycle_account = ""
        self._old_handlers: dict[int, object] = {}
        self.watchdog_every = notify.watchdog_interval()
        self._last_ping = -math.inf
        self._last_heartbeat = -math.inf

    # --- life cycle -------------------------------------------------------------------

    def run(self) -> int:
        self._install_signals()
        try:
            self._configure()
            self._heartbeat(force=True)
            accounts = self.app.config.accounts
            log.info(
                "ghostwatch running: %d account(s), polling every %ds, push for %d",
                len(accounts), poll_seconds(self.app.config), len(self.watchers),
            )  # fmt: skip
            notify.notify("READY=1", f"STATUS={self._status()}")
            self._start_watchdog_helper()
            self._serve()
        except _Abandon:
            log.warning(
                "stopping: abandoned the cycle of [%s] after %gs; it resumes from its last "
                "commit at the next start", self.cycle_account, STOP_GRACE,
            )  # fmt: skip
        finally:
            self._shutdown()
        return self.exit_code

    def _serve(self) -> None:
        while not self.stopping:
            if self.reload_requested:
                self._reload()
            self.scheduler.run_pending()
            self._take_push_signals()
            self._run_due()
            self._ping_watchdog()
            self._heartbeat()
            if self.stopping:
                break
            self.wake.wait(self._sleep_seconds())
            self.wake.clear()

    def _shutdown(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        self.cycle_started = None
        notify.notify("STOPPING=1", "STATUS=stopping")
        for watcher in self.watchers:
            watcher.stop(timeout=0.5)
        try:
            with self.app.store.transaction() as s:
                s.execute(delete(DaemonLock).where(DaemonLock.id == 1))
        except Exception as exc:
            log.debug("could not clear the daemon_lock row: %s", failures.describe(exc))
        self.app.store.close()
        self.lock.release()
        self._restore_signals()
        log.info("ghostwatch stopped")

    # --- signals ----------------------------------------------------------------------

    def _install_signals(self) -> None:
        handlers = {
            signal.SIGTERM: self._on_stop,
            signal.SIGINT: self._on_stop,
            signal.SIGHUP: self._on_hup,
            signal.SIGALRM: self._on_alarm,
        }
        for signum, handler in handlers.items():
            self._old_handlers[signum] = signal.signal(signum, handler)

    def _restore_signals(self) -> None:
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping and self.cycle_started is not None:
            raise _Abandon  # asked twice: do not wait for the cycle
        if not self.stopping:
            log.info("%s: finishing the current cycle, then stopping", signal.Signals(signum).name)
        self.stopping = True
        self.wake.set()
        if self.cycle_started is not None:
            # A real signal later, so even a blocking socket read is interrupted.
            signal.setitimer(signal.ITIMER_REAL, STOP_GRACE)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping and self.cycle_started is not None:
            raise _Abandon

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self.reload_requested = True
        self.wake.set()

    # --- configuration ----------------------------------------------------------------

    def _configure(self) -> None:
        """(Re)build jobs and watchers from self.app.config; every account runs soon."""
        config = self.app.config
        self.scheduler.clear()
        every = poll_seconds(config)
        for account in config.accounts:
            self.scheduler.every(every).seconds.do(self._want, account.name, "poll")
            self.pending.setdefault(account.name, "start")
        self.scheduler.every().day.at(SUMMARY_AT).do(self._summary)
        names = set(config.account_names())
        self.pending = {n: why for n, why in self.pending.items() if n in names}
        self.errors = {n: e for n, e in self.errors.items() if n in names}
        for watcher in self.watchers:
            watcher.stop(timeout=0.5)
        self.watchers = [self._watcher(a) for a in config.accounts if self._pushes(a)]
        for watcher in self.watchers:
            watcher.start()

    def _pushes(self, account: AccountConfig) -> bool:
        try:
            return can_push(account)
        except Exception as exc:  # a broken connector still gets polled
            log.debug("[%s] no push: %s", account.name, failures.describe(exc))
            return False

    def _watcher(self, account: AccountConfig) -> Watcher:
        log.info("[%s] push: watching for new mail", account.name)
        return Watcher(account, self.changes, self.wake)

    def _reload(self) -> None:
        self.reload_requested = False
        notify.notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")
        config, note = reread_config(self.config_path, self.app.config)
        if config is None:
            notify.notify("READY=1", f"STATUS={self._status()}{note}")
            return
        _apply_log_level(config, self.verbose)
        self.app = App(config=config, store=self.app.store)
        self.backoff.reset()  # the user may just have fixed a password: retry now
        self.pending = dict.fromkeys(config.account_names(), "reload")
        self._configure()
        log.info("config reloaded: %d account(s)", len(config.accounts))
        notify.notify("READY=1", f"STATUS={self._status()}")

    # --- scheduling -------------------------------------------------------------------

    def _want(self, name: str, why: str) -> None:
        self.pending.setdefault(name, why)

    def _take_push_signals(self) -> None:
        while True:
            try:
                name = self.changes.get_nowait()
            except queue.Empty:
                return
            if name in self.app.config.account_names():
                self._want(name, "push")

    def _run_due(self) -> None:
        for account in self.app.config.accounts:
            if self.stopping or self.reload_requested:
                return
            if account.name not in self.pending:
                continue
            if self.backoff.wait(account.name, time.monotonic()) > 0:
                continue
            why = self.pending.pop(account.name)
            self._cycle(account, why)

    def _sleep_seconds(self) -> float:
        now = time.monotonic()
        candidates = [HEARTBEAT_EVERY]
        idle = self.scheduler.idle_seconds
        if idle is not None:
            candidates.append(idle)
        if self.watchdog_every is not None:
            candidates.append(self.watchdog_every)
        candidates += [self.backoff.wait(name, now) for name in self.pending]
        return max(0.0, min(candidates))

    # --- one cycle --------------------------------------------------------------------

    def _cycle(self, account: AccountConfig, why: str) -> None:
        started = time.monotonic()
        self.cycle_started = started
        self.cycle_account = account.name
        try:
            report = run_cycle(self.app, account, self.now_fn(), show_progress=False)
        except _Abandon:
            raise
        except Exception as exc:  # one account's failure never ends the loop
            self.cycle_started = None
            self._failed(account, exc)
        else:
            self.cycle_started = None
            self._succeeded(account, report, time.monotonic() - started, why)
        notify.notify(f"STATUS={self._status()}")

    def _succeeded(
        self, account: AccountConfig, report: CycleReport, took: float, why: str
    ) -> None:
        name = account.name
        if self.backoff.succeeded(name) or name in self.errors:
            log.info("[%s] recovered", name)
        self.errors.pop(name, None)
        written = len(report.outbox.written)
        self.tally.cycles += 1
        self.tally.drafts += written
        self.drafts_since_start += written
        log.info(
            "[%s] cycle (%s): %d due, %d draft(s) written, %d withdrawn, %d failed, %.1fs",
            name, why, report.due_count, written, len(report.outbox.withdrawn),
            len(report.outbox.failed), took,
        )  # fmt: skip

    def _failed(self, account: AccountConfig, exc: Exception) -> None:
        name = account.name
        delay = self.backoff.failed(name, exc, time.monotonic())
        self.pending[name] = "retry"
        message = failures.describe(exc)
        self.errors[name] = message
        self.tally.failed += 1
        level = logging.WARNING if failures.is_connector_problem(exc) else logging.ERROR
        log.log(level, "[%s] degraded: %s; next try in %s", name, message, _human(delay))
        log.debug("[%s] %s: %s", name, type(exc).__name__, exc, exc_info=exc)
        self._record_health(account, message)

    def _record_health(self, account: AccountConfig, error: str) -> None:
        """So `status` can show it; may itself fail (disk full): then the log has it."""
        try:
            with self.app.store.transaction() as s:
                row = s.scalar(select(Account).where(Account.name == account.name))
                if row is None:  # never synced: show it anyway
                    row = Account(name=account.name, address=account.address, rescans=0)
                    s.add(row)
                row.health = "degraded"
                row.last_error = error[:500]
        except Exception as exc:
            log.debug("[%s] could not record the error: %s", account.name, failures.describe(exc))

    # --- reporting ----------------------------------------------------------------------

    def _status(self) -> str:
        total = len(self.app.config.accounts)
        bad = [n for n in self.app.config.account_names() if n in self.errors]
        text = f"{total - len(bad)} account(s) ok, {len(bad)} degraded"
        if bad:
            text += f" ({', '.join(bad)})"
        return f"{text}; {self.drafts_since_start} draft(s) written since start"

    def _summary(self) -> None:
        t = self.tally
        log.info(
            "daily summary: %s; since the last summary %d cycle(s), %d failed, %d draft(s) written",
            self._status(), t.cycles, t.failed, t.drafts,
        )  # fmt: skip
        self.tally = Tally()


def _human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
