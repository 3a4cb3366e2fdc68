"""Push: one watcher thread per account whose MailSource can wait for changes.

A watcher only *signals*: it puts the account name on a queue and wakes the
main loop, which runs the cycle. Cycles never run here, so the database only
ever sees one writer from this process, and a slow IDLE server cannot block
another account.

The watcher has its own connection (IMAP IDLE occupies a connection), opened
and re-opened here with a backoff of its own; the source's
`wait_for_changes(timeout) -> bool` is expected to re-issue IDLE and notice dead
connections itself (raising a ConnectorError).
"""

from __future__ import annotations

import logging
import queue
import random
import threading

import connectors
from daemon.app import mailbox
from daemon.backoff import Curve
from daemon.config import AccountConfig

log = logging.getLogger(__name__)

WAIT_SECONDS = 300.0  # one wait_for_changes call; the stop flag is checked between calls
RECONNECT = Curve(base=15, cap=15 * 60)


def can_push(account: AccountConfig) -> bool:
    """True if the account's MailSource offers `wait_for_changes` (no connection made)."""
    module = connectors.load(account.mail.type, connectors.MAIL_CONNECTORS)
    source = module.open_mailbox(account.mail.settings)
    return callable(getattr(source, "wait_for_changes", None))


class Watcher:
    def __init__(
        self, account: AccountConfig, changes: queue.SimpleQueue[str], wake: threading.Event
    ) -> None:
        self.account = account
        self._changes = changes
        self._wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{account.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Ask the thread to end; it is a daemon thread, so one stuck in IDLE
        cannot hold up the exit (the kernel closes its socket)."""
        self._stop.set()
        self._thread.join(timeout)

    def _signal(self) -> None:
        self._changes.put(self.account.name)
        self._wake.set()

    def _run(self) -> None:
        name, failures, rng = self.account.name, 0, random.Random()
        while not self._stop.is_set():
            try:
                with mailbox(self.account) as source:
                    log.debug("[%s] push: watching for changes", name)
                    if failures:
                        self._signal()  # changes during the outage were not seen: catch up
                    failures = 0
                    while not self._stop.is_set():
                        if source.wait_for_changes(WAIT_SECONDS):  # type: ignore[attr-defined]
                            self._signal()
            except Exception as exc:  # a watcher must never die; the poll covers for it
                # The account's own cycles report failures to the user; keep quiet here.
                log.debug("[%s] push: %s: %s", name, type(exc).__name__, exc)
                failures += 1
                self._stop.wait(RECONNECT.delay(failures, rng))
