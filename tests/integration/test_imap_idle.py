"""IMAP IDLE against a real Dovecot: woken by other clients' changes, on its own
connection, through drops and a server restart, and stoppable from another thread.

Timings are printed (run with -s to see them); only generous upper bounds are
asserted, so a loaded CI machine does not make the suite flaky.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from imapclient import IMAPClient

from connectors.errors import Transient
from connectors.imap import ImapMailbox, Settings, open_mailbox
from connectors.imap.client import Wire
from connectors.imap.idle import IdleWatcher
from tests.contract.mail_source_suite import make_raw, scan
from tests.servers.dovecot import Dovecot, MailUser, dovecot_binary, skip_or_fail
from tests.servers.tcpproxy import TcpProxy

pytestmark = pytest.mark.dovecot

MakeWatcher = Callable[..., IdleWatcher]
UPPER = 30.0  # seconds: far above the ~1 s a wake-up takes, so only a real hang fails


class Waiting:
    """Runs `wait(timeout)` in a thread, as the daemon's watcher does."""

    def __init__(self, wait: Callable[[float], bool], timeout: float = UPPER) -> None:
        self.result: bool | BaseException | None = None
        self.elapsed = 0.0
        self._thread = threading.Thread(target=self._run, args=(wait, timeout), daemon=True)
        self._thread.start()

    def _run(self, wait: Callable[[float], bool], timeout: float) -> None:
        start = time.monotonic()
        try:
            self.result = wait(timeout)
        except BaseException as exc:
            self.result = exc
        self.elapsed = time.monotonic() - start

    def join(self, timeout: float = UPPER + 5) -> bool | BaseException | None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "wait() did not return"
        return self.result


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


@pytest.fixture
def watchers() -> Iterator[MakeWatcher]:
    made: list[IdleWatcher] = []

    def make(settings: Settings, **kwargs: Any) -> IdleWatcher:
        watcher = IdleWatcher(settings, **kwargs)
        made.append(watcher)
        return watcher

    yield make
    for watcher in made:
        watcher.close()


def idling(source: ImapMailbox) -> bool:
    """Whether the source's IDLE is running; a change made before that is not news."""
    watcher = source._idle
    return watcher is not None and watcher.idling


def deliver(user: MailUser, n: int = 1) -> int:
    return user.append("INBOX", make_raw(f"idle{n}-{time.monotonic_ns()}@example.org"))


# waking ---------------------------------------------------------------------------------


def test_a_message_from_another_client_wakes_wait_for_changes(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    source = open_mailbox(make_settings(mail_user))
    try:
        source.open()
        assert source.wait_for_changes(0.5) is False  # connects, idles, nothing new
        start = time.monotonic()
        threading.Timer(0.5, deliver, args=(mail_user,)).start()
        woke = source.wait_for_changes(UPPER)
        elapsed = time.monotonic() - start
        print(f"\nIDLE: woken {elapsed - 0.5:.2f}s after the APPEND (total {elapsed:.2f}s)")
        assert woke is True and elapsed < UPPER
        # Delivered while nobody waited: reported by the next IDLE at once.
        deliver(mail_user, 2)
        start = time.monotonic()
        assert source.wait_for_changes(UPPER) is True
        print(f"IDLE: change between waits reported after {time.monotonic() - start:.2f}s")
    finally:
        source.close()


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_idle_over_tls_wakes_and_closes(
    security: str,
    mail_user: MailUser,
    make_settings: Callable[..., Settings],
    watchers: MakeWatcher,
) -> None:
    server = mail_user.server
    port = server.tls_port if security == "tls" else server.port
    settings = make_settings(
        mail_user, security=security, port=port, host="localhost", ca_file=str(server.cert)
    )
    watcher = watchers(settings)
    assert watcher.wait(0.3) is False
    threading.Timer(0.3, deliver, args=(mail_user,)).start()
    assert watcher.wait(UPPER) is True  # TLS buffers records: the wake-up must still be seen
    waiting = Waiting(watcher.wait)
    eventually(lambda: watcher.idling)
    watcher.close()
    assert waiting.join(timeout=10) is False


def test_flag_changes_and_expunges_wake_too(
    mail_user: MailUser, make_settings: Callable[..., Settings], watchers: MakeWatcher
) -> None:
    uid = deliver(mail_user)
    watcher = watchers(make_settings(mail_user))
    assert watcher.wait(0.3) is False
    threading.Timer(0.3, mail_user.add_flags, args=("INBOX", uid, [r"\Flagged"])).start()
    assert watcher.wait(UPPER) is True
    threading.Timer(0.3, mail_user.expunge, args=("INBOX", uid)).start()
    assert watcher.wait(UPPER) is True
    assert watcher.connects == 1


def test_quiet_folder_times_out_with_false(
    mail_user: MailUser, make_settings: Callable[..., Settings], watchers: MakeWatcher
) -> None:
    watcher = watchers(make_settings(mail_user))
    start = time.monotonic()
    assert watcher.wait(1.0) is False
    elapsed = time.monotonic() - start
    print(f"\nIDLE: quiet wait of 1 s returned after {elapsed:.2f}s")
    assert 1.0 <= elapsed < UPPER


def test_idle_is_reissued_with_a_noop_between(
    mail_user: MailUser, make_settings: Callable[..., Settings], watchers: MakeWatcher
) -> None:
    watcher = watchers(make_settings(mail_user), reidle=0.3)
    assert watcher.wait(1.6) is False
    assert watcher.idles >= 4 and watcher.connects == 1
    threading.Timer(0.2, deliver, args=(mail_user,)).start()
    assert watcher.wait(UPPER) is True


def test_idle_has_a_connection_of_its_own(
    mail_user: MailUser,
    make_settings: Callable[..., Settings],
    proxy_to: Callable[[Dovecot], TcpProxy],
) -> None:
    proxy = proxy_to(mail_user.server)
    source = ImapMailbox(make_settings(mail_user, port=proxy.port))
    try:
        source.open()
        assert proxy.connections == 1
        waiting = Waiting(source.wait_for_changes)
        eventually(lambda: idling(source))
        deliver(mail_user)
        changes, _, _ = scan(source, None)  # the sync connection works while IDLE runs
        assert len(changes) == 1
        assert waiting.join() is True
        assert proxy.connections == 2
    finally:
        source.close()


# failures -------------------------------------------------------------------------------


def test_dropped_connection_is_reopened_and_reported(
    mail_user: MailUser,
    make_settings: Callable[..., Settings],
    proxy_to: Callable[[Dovecot], TcpProxy],
    watchers: MakeWatcher,
) -> None:
    proxy = proxy_to(mail_user.server)
    watcher = watchers(make_settings(mail_user, port=proxy.port), backoff=0.1)
    assert watcher.wait(0.2) is False
    waiting = Waiting(watcher.wait)
    eventually(lambda: watcher.idling)
    proxy.drop_all()
    # True: whatever arrived while the line was down went unseen.
    assert waiting.join() is True
    print(f"\nIDLE: drop noticed and connection reopened in {waiting.elapsed:.2f}s")
    assert watcher.connects == 2
    threading.Timer(0.3, deliver, args=(mail_user,)).start()
    assert watcher.wait(UPPER) is True


@pytest.fixture
def own_dovecot() -> Iterator[Dovecot]:
    """A server of this test's own: restarting the shared one would cut other tests."""
    if dovecot_binary() is None:
        skip_or_fail("dovecot is not installed (apt-get install -y dovecot-imapd)")
    server = Dovecot()
    try:
        yield server.start()
    finally:
        server.cleanup()


def test_server_restart_is_survived(
    own_dovecot: Dovecot,
    make_settings: Callable[..., Settings],
    watchers: MakeWatcher,
) -> None:
    user = own_dovecot.add_user()
    watcher = watchers(make_settings(user), backoff=0.2)
    assert watcher.wait(0.2) is False
    waiting = Waiting(watcher.wait)
    eventually(lambda: watcher.idling)
    own_dovecot.restart()
    assert waiting.join() is True
    print(f"\nIDLE: back after a server restart in {waiting.elapsed:.2f}s")
    assert watcher.connects == 2

    threading.Timer(0.5, deliver, args=(user,)).start()
    start = time.monotonic()
    assert watcher.wait(UPPER) is True
    elapsed = time.monotonic() - start
    print(f"IDLE: woken after the restart in {elapsed:.2f}s (APPEND at 0.5 s)")
    assert watcher.connects == 2 and elapsed >= 0.5  # woken by the message, not a reconnect


class FreezingProxy:
    """Forwards TCP, and can silently stop forwarding on the open connections, as a
    NAT that forgot them does: no FIN, no RST, just nothing. New connections work."""

    def __init__(self, port: int) -> None:
        self._target = ("127.0.0.1", port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._frozen: set[int] = set()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze_open_connections(self) -> None:
        self._frozen |= {id(s) for s in self._open}

    def close(self) -> None:
        self._listener.close()
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._open += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if id(src) not in self._frozen:
                    dst.sendall(data)


def test_silently_dead_connection_is_found_by_the_noop(
    mail_user: MailUser, make_settings: Callable[..., Settings], watchers: MakeWatcher
) -> None:
    proxy = FreezingProxy(mail_user.server.port)
    try:
        settings = make_settings(mail_user, port=proxy.port, timeout=1.0)
        watcher = watchers(settings, reidle=0.5, backoff=0.1)
        assert watcher.wait(0.2) is False
        waiting = Waiting(watcher.wait)
        eventually(lambda: watcher.idling)
        proxy.freeze_open_connections()
        # IDLE alone would wait forever; the NOOP before re-idling times out instead.
        assert waiting.join() is True
        print(f"\nIDLE: dead line found and replaced in {waiting.elapsed:.2f}s")
        assert watcher.connects == 2 and waiting.elapsed < UPPER
    finally:
        proxy.close()


def test_outage_is_waited_out_with_backoff(
    mail_user: MailUser,
    make_settings: Callable[..., Settings],
    proxy_to: Callable[[Dovecot], TcpProxy],
    watchers: MakeWatcher,
) -> None:
    proxy = proxy_to(mail_user.server)
    attempts: list[float] = []

    def counting(settings: Settings, password: str) -> Wire:
        attempts.append(time.monotonic())
        return Wire.connect(settings, password)

    settings = make_settings(mail_user, port=proxy.port)
    watcher = watchers(settings, connect=counting, backoff=0.1, max_backoff=0.5)
    assert watcher.wait(0.2) is False
    waiting = Waiting(watcher.wait)
    eventually(lambda: watcher.idling)
    proxy.refuse(True)  # cuts the line and refuses new ones: the server is away
    time.sleep(1.5)
    proxy.refuse(False)
    assert waiting.join() is True
    print(f"\nIDLE: back {waiting.elapsed:.2f}s after the line went down (1.5 s outage)")
    assert waiting.elapsed >= 1.5 and watcher.connects == 2
    gaps = [b - a for a, b in itertools.pairwise(attempts[1:])]
    print(f"IDLE: {len(attempts) - 1} connection attempts, gaps {[round(g, 2) for g in gaps]}")
    assert len(attempts) >= 4  # kept trying during the outage, with pauses in between


def test_line_lost_during_login_is_retried_not_a_wrong_password(
    mail_user: MailUser,
    make_settings: Callable[..., Settings],
    proxy_to: Callable[[Dovecot], TcpProxy],
    watchers: MakeWatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What a restarting server does to a login in flight: imapclient reports it as a
    # LoginError, which must not become AuthFailed ("check your password").
    proxy = proxy_to(mail_user.server)
    real_login = IMAPClient.login

    def login_then_cut(self: IMAPClient, *args: Any) -> Any:
        if not proxy.cuts:
            proxy.cut_after(proxy.down_bytes + 1)  # the first byte of the LOGIN answer
        return real_login(self, *args)

    monkeypatch.setattr(IMAPClient, "login", login_then_cut)
    watcher = watchers(make_settings(mail_user, port=proxy.port), backoff=0.1)
    assert watcher.wait(1.0) is False
    assert proxy.cuts == 1 and watcher.connects == 1


def test_unreachable_server_raises_transient_at_the_timeout(
    mail_user: MailUser,
    make_settings: Callable[..., Settings],
    proxy_to: Callable[[Dovecot], TcpProxy],
    watchers: MakeWatcher,
) -> None:
    proxy = proxy_to(mail_user.server)
    proxy.refuse(True)
    watcher = watchers(make_settings(mail_user, port=proxy.port), backoff=0.1)
    start = time.monotonic()
    with pytest.raises(Transient):
        watcher.wait(1.0)
    assert time.monotonic() - start < UPPER
    proxy.refuse(False)
    assert watcher.wait(0.2) is False  # reachable again: back to idling


def test_server_without_idle_is_polled(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    def no_idle(settings: Settings, password: str) -> Wire:
        wire = Wire.connect(settings, password)
        wire.caps = wire.caps - {"IDLE"}
        return wire

    source = ImapMailbox(make_settings(mail_user), connect=no_idle)
    try:
        deliver(mail_user)
        start = time.monotonic()
        assert source.wait_for_changes(0.5) is False  # sleeps; the daemon's poll does the work
        assert 0.5 <= time.monotonic() - start < UPPER
        assert source.wait_for_changes(0.2) is False
    finally:
        source.close()


# stopping ---------------------------------------------------------------------------------


def test_close_from_another_thread_ends_the_wait_promptly(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    source = open_mailbox(make_settings(mail_user))
    source.open()
    waiting = Waiting(source.wait_for_changes, timeout=120.0)
    eventually(lambda: idling(source))
    start = time.monotonic()
    source.close()
    closed_in = time.monotonic() - start
    assert waiting.join(timeout=10) is False
    returned_in = time.monotonic() - start
    print(f"\nIDLE: close() took {closed_in * 1000:.1f} ms; wait returned after {returned_in:.2f}s")
    assert closed_in < 5 and returned_in < 10


def test_closed_watcher_does_not_wait(
    mail_user: MailUser, make_settings: Callable[..., Settings], watchers: MakeWatcher
) -> None:
    watcher = watchers(make_settings(mail_user))
    assert watcher.wait(0.2) is False
    watcher.close()
    start = time.monotonic()
    assert watcher.wait(10) is False
    assert time.monotonic() - start < 1
