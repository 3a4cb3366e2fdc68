"""Push: one watcher thread per account whose MailSource can wait for changes.

A watcher only *signals*: it puts the account name on a queue and wakes the
main loop, which runs the cycle. Cycles never run here, so the database only
ever sees one writer from this process, and a slow IDLE server cannot block
another account.

The watcher uses its own MailSource object, separate from the cycles' ones,
and never calls `open()` on it: `wait_for_changes(timeout) -> bool` makes the
one connection it needs (IMAP: IDLE on the Inbox, re-issued and reconnected
inside the connector), so the watcher holds no idle fetch connection. `close()`
ends a wait from another thread (the IMAP source documents this), which is how
`stop()` closes the connection at shutdown instead of leaving it to the kernel.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
from typing import cast

import connectors
from connectors.base import Capability, PushSource
from daemon.backoff import Curve
from daemon.config.settings import AccountConfig

log = logging.getLogger(__name__)

WAIT_SECONDS = 300.0  # one wait_for_changes call; the stop flag is checked between calls
RECONNECT = Curve(base=15, cap=15 * 60)


def _new_source(account: AccountConfig) -> PushSource:
    entry = connectors.mail_connector(account.mail.type)
    source = entry.open_mailbox(account.mail.settings)
    return cast(PushSource, source)  # can_push checked the declaration


def can_push(account: AccountConfig) -> bool:
    """True if the account's connector declares push (no connection made)."""
    return connectors.mail_connector(account.mail.type).can(Capability.PUSH)


class Watcher:
    def __init__(
        self, account: AccountConfig, changes: queue.SimpleQueue[str], wake: threading.Event
    ) -> None:
        self.account = account
        self._changes = changes
        self._wake = wake
        self._stop = threading.Event()
        self._source: PushSource | None = None
        self._thread = threading.Thread(target=self._run, name=f"watch-{account.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """End the wait and the thread. It is a daemon thread, so a connector
        whose close() cannot interrupt a wait still cannot hold up the exit."""
        self._stop.set()
        source = self._source
        if source is not None:
            with contextlib.suppress(Exception):
                source.close()
        self._thread.join(timeout)

    def _signal(self) -> None:
        self._changes.put(self.account.name)
        self._wake.set()

    def _run(self) -> None:
        name, failures, rng = self.account.name, 0, random.Random()
        while not self._stop.is_set():
            try:
                self._source = _new_source(self.account)
                log.debug("[%s] push: watching for changes", name)
                while not self._stop.is_set():
                    if self._source.wait_for_changes(WAIT_SECONDS):
                        self._signal()
                    failures = 0
            except Exception as exc:  # a watcher must never die; the poll covers for it
                if self._stop.is_set():
                    return  # stop() closed the connection under the wait
                # The account's own cycles report failures to the user; keep quiet here.
                log.debug("[%s] push: %s: %s", name, type(exc).__name__, exc)
                failures += 1
                self._signal()  # catch up on what the failed wait may have missed
                self._stop.wait(RECONNECT.delay(failures, rng))
            finally:
                source, self._source = self._source, None
                if source is not None:
                    with contextlib.suppress(Exception):
                        source.close()
