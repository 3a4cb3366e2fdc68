"""IMAP IDLE on a connection of its own: tell the daemon when the Inbox changed.

IDLE occupies a connection, so the watcher never shares the one fetch_changes
uses. It only says *that* something changed (EXISTS, EXPUNGE, FETCH,
VANISHED); the daemon's next cycle finds out what.

Servers may drop a client that idles for 30 minutes (RFC 2177), so IDLE is
re-issued at least every 10 minutes, with a NOOP in between that proves the
connection still works: a silently dead peer makes that NOOP time out instead
of leaving us idling forever. The wait itself is a poll() on the socket, never
a socket timeout on a read: a read that times out poisons Python's socket file.

A lost connection is reopened with jittered backoff inside the same wait; the
first wait after a reconnect returns True at once, because whatever arrived
while we were away went unseen. Servers without IDLE are polled: the wait just
sleeps and returns False, and the daemon's regular cycle does the work.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import random
import re
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable

from connectors.errors import Transient
from connectors.imap.client import Wire
from connectors.imap.errors import ConnectionLost
from connectors.imap.settings import Settings

log = logging.getLogger(__name__)

REIDLE_SECONDS = 600.0  # well inside the 29 minutes RFC 2177 lets a client idle
_CHANGE = re.compile(rb"^\* (?:\d+ (?:EXISTS|EXPUNGE|FETCH)|VANISHED)\b", re.I)
_CHANGE_KEYS = ("EXISTS", "EXPUNGE", "FETCH", "VANISHED")  # imaplib's untagged_responses keys
_BYE = re.compile(rb"^\* BYE\b", re.I)
_LITERAL = re.compile(rb"\{(\d+)\+?\}$")
_LOST = (imaplib.IMAP4.error, OSError, EOFError, ValueError)  # ValueError: I/O on a closed file


class IdleWatcher:
    """Waits for changes in one folder over its own IMAP connection.

    `wait()` is called from one thread at a time (the daemon's watcher thread);
    `close()` may be called from any thread and interrupts a running wait by
    shutting the socket down, which wakes the poll() at once.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        connect: Callable[[Settings, str], Wire] = Wire.connect,
        folder: str = "INBOX",
        reidle: float = REIDLE_SECONDS,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
    ) -> None:
        self.settings = settings
        self.folder = folder
        self._connect = connect
        self._reidle = reidle
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._lock = threading.Lock()  # guards _wire and _busy against close()
        self._closing = threading.Event()
        self._idling = threading.Event()
        self._wire: Wire | None = None
        self._busy = False
        self._missed = False  # a connection was lost: changes may have gone unseen
        self.supported: bool | None = None  # does the server offer IDLE (None: not asked yet)
        self.connects = 0
        self.idles = 0  # IDLE commands issued, for tests and stats

    @property
    def idling(self) -> bool:
        """True while an IDLE command is running on the server."""
        return self._idling.is_set()

    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    # public --------------------------------------------------------------------

    def wait(self, timeout: float) -> bool:
        """True as soon as the folder changed, False after `timeout` seconds or close().

        Raises Transient when no connection could be made before the timeout,
        AuthFailed/ConnectorError for problems a retry will not fix.
        """
        with self._lock:
            if self._closing.is_set():
                return False
            if self._busy:
                raise RuntimeError("IdleWatcher.wait is already running in another thread")
            self._busy = True
        try:
            return self._wait(time.monotonic() + max(0.0, timeout))
        finally:
            self._idling.clear()
            with self._lock:
                self._busy = False
                leftover = self._wire if self._closing.is_set() else None
                if leftover is not None:
                    self._wire = None
            if leftover is not None:
                _discard(leftover)

    def close(self) -> None:
        """End the connection; a wait running in another thread returns False promptly."""
        with self._lock:
            self._closing.set()
            wire, busy = self._wire, self._busy
            if not busy:
                self._wire = None
        if wire is None:
            return
        if busy:
            _interrupt(wire)  # the waiting thread notices the flag and cleans up
        else:
            wire.close()

    # the wait ------------------------------------------------------------------

    def _wait(self, deadline: float) -> bool:
        failures = 0
        while not self._closing.is_set():
            try:
                wire = self._connected()
            except Transient as exc:
                self._drop()
                failures += 1
                remaining = deadline - time.monotonic()
                if self._closing.is_set():
                    return False
                if remaining <= 0:
                    raise Transient(f"{self.settings.host}: no IDLE connection ({exc})") from None
                self._pause(failures, remaining)
                continue
            if wire is None:  # no IDLE on this server: poll
                self._closing.wait(max(0.0, deadline - time.monotonic()))
                return False
            if self._missed:
                self._missed = False
                return True
            try:
                return self._idle(wire, deadline)
            except ConnectionLost as exc:
                # Reconnect at once: a dropped line is often just an idle-timeout or a
                # NAT; if the server itself is away, the connect fails and backs off.
                log.info("IDLE connection to %s lost (%s)", self.settings.host, exc)
                self._drop()
        return False

    def _pause(self, failures: int, remaining: float) -> None:
        delay = min(self._max_backoff, self._backoff * 2 ** (failures - 1))
        delay *= random.uniform(0.5, 1.5)
        log.info("cannot reach %s for IDLE; retrying in %.1fs", self.settings.host, delay)
        self._closing.wait(min(delay, remaining))

    def _connected(self) -> Wire | None:
        """The idling connection, opened (and the folder examined) when there is none."""
        with self._lock:
            wire = self._wire
        if wire is not None:
            if not wire.broken:
                return wire
            self._drop()
        if self.supported is False:
            return None
        password = self.settings.password.resolve() if self.settings.password else ""
        wire = self._connect(self.settings, password)
        try:
            self.supported = "IDLE" in wire.caps
            if self.supported:
                wire.examine(self.folder)  # EXAMINE: never touches \Recent or flags
        except BaseException:
            _discard(wire)
            raise
        if not self.supported:
            log.info("%s does not offer IDLE; changes are found by polling", self.settings.host)
            wire.close()
            return None
        with self._lock:
            if self._closing.is_set():
                wire.close()
                raise ConnectionLost("closed while connecting")
            self._wire = wire
        if self.connects:
            self._missed = True  # whatever arrived while we were away went unseen
        self.connects += 1
        return wire

    def _drop(self) -> None:
        with self._lock:
            wire, self._wire = self._wire, None
        if wire is not None:
            _discard(wire)

    def _idle(self, wire: Wire, deadline: float) -> bool:
        # Wire keeps imaplib private to this package; IDLE needs its line-level reads.
        imap = wire._client._imap
        try:
            while True:
                now = time.monotonic()
                if now >= deadline or self._closing.is_set():
                    return False
                if self._idle_once(imap, min(deadline, now + self._reidle)):
                    return True
                if self._closing.is_set() or time.monotonic() >= deadline:
                    return False
                # Re-idling after up to 10 minutes: prove the line is alive first.
                imap.untagged_responses.clear()
                imap.noop()
                if _pop_changes(imap):
                    return True
        except _LOST as exc:
            if self._closing.is_set():
                return False
            wire.broken = True
            raise ConnectionLost(f"IDLE: connection lost ({type(exc).__name__})") from None

    def _idle_once(self, imap: imaplib.IMAP4, until: float) -> bool:
        """One IDLE command until `until`: True if the folder changed meanwhile."""
        imap.untagged_responses.clear()  # EXISTS from EXAMINE or NOOP is not news
        tag = imap._command("IDLE")
        self.idles += 1
        while imap._get_response() is not None:  # untagged lines before "+ idling" are stored
            if imap.tagged_commands.get(tag):
                typ = imap.tagged_commands.pop(tag)[0]
                raise imaplib.IMAP4.error(f"IDLE refused ({typ})")
        changed = _pop_changes(imap)  # queued while we were not idling
        self._idling.set()
        try:
            while not changed and not self._closing.is_set():
                left = until - time.monotonic()
                if left <= 0:
                    break
                if not _readable(imap, left) or self._closing.is_set():
                    continue
                line = imap._get_line()  # EOF raises imaplib's abort
                if _BYE.match(line):
                    raise imaplib.IMAP4.abort("server said BYE")
                changed = bool(_CHANGE.match(line))
                _skip_literals(imap, line)
        finally:
            self._idling.clear()
        if self._closing.is_set():
            return False  # the socket is shut down: nothing more to say to the server
        imap.send(b"DONE\r\n")
        while not imap.tagged_commands.get(tag):
            imap._get_response()
        typ = imap.tagged_commands.pop(tag)[0]
        if typ != "OK":
            raise imaplib.IMAP4.error(f"IDLE ended with {typ}")
        return _pop_changes(imap) or changed


def _pop_changes(imap: imaplib.IMAP4) -> bool:
    found = False
    for key in _CHANGE_KEYS:
        if imap.untagged_responses.pop(key, None):
            found = True
    return found


def _readable(imap: imaplib.IMAP4, timeout: float) -> bool:
    """True when a response line can be read now, waiting at most `timeout` seconds.

    imaplib reads through a buffered file (and TLS through its own buffer), so
    a line may already be here although the socket has nothing new to say.
    """
    sock = imap.sock
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    previous = sock.gettimeout()
    sock.setblocking(False)
    try:
        if imap.file.peek(1):  # buffered bytes, or bytes the kernel has right now
            return True
    except (BlockingIOError, ssl.SSLWantReadError):
        pass
    finally:
        sock.settimeout(previous)
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        return bool(selector.select(timeout))


def _skip_literals(imap: imaplib.IMAP4, line: bytes) -> None:
    """An unsolicited FETCH may carry a literal; read past it so the next line is a line."""
    while (match := _LITERAL.search(line)) is not None:
        imap.read(int(match.group(1)))
        line = imap._get_line()


def _interrupt(wire: Wire) -> None:
    """Wake a thread blocked on this connection: shut the socket down, close nothing.

    The raw shutdown (not SSLSocket's, not imaplib's) is the only part that is
    safe while another thread is inside a read: it wakes poll() and makes the
    read see EOF; the waiting thread then closes the rest itself.
    """
    with contextlib.suppress(OSError, AttributeError):
        socket.socket.shutdown(wire._client._imap.sock, socket.SHUT_RDWR)


def _discard(wire: Wire) -> None:
    wire.broken = True  # no LOGOUT: the line is dead or shut down
    wire.close()
