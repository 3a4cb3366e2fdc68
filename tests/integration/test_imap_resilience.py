"""Dropped connections: retried with backoff, resumed without loss or duplicates,
and given up as Transient when the server stays away."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.errors import Transient
from connectors.imap import ImapMailbox, Settings
from tests.contract.mail_source_suite import HEADER_FIELDS, by_id, make_raw, messages, scan
from tests.servers.dovecot import MailUser
from tests.servers.tcpproxy import TcpProxy

pytestmark = pytest.mark.dovecot

SINCE = datetime.now(UTC) - timedelta(days=90)


class Sleeps(list[float]):
    """Records backoff delays instead of sleeping, so the tests stay fast."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def seeded(mail_user: MailUser) -> tuple[MailUser, set[str]]:
    wanted = {f"m{i:02}@example.org" for i in range(40)}
    for mid in sorted(wanted):
        mail_user.append("INBOX", make_raw(mid, extra=["X-Padding: " + "p" * 400]))
    return mail_user, wanted


def through(proxy: TcpProxy, user: MailUser, make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(user, port=proxy.port, fetch_chunk=5)


def test_connection_cut_mid_fetch_loses_and_repeats_nothing(
    seeded: tuple[MailUser, set[str]],
    make_settings: Callable[..., Settings],
    proxy_to: Callable[..., TcpProxy],
) -> None:
    user, wanted = seeded
    proxy = proxy_to(user.server)
    sleeps = Sleeps()
    source = ImapMailbox(through(proxy, user, make_settings), sleep=sleeps)
    source.open()
    # Past login and LIST, somewhere inside the header FETCH responses.
    proxy.cut_after(proxy.down_bytes + 6000)
    changes, cursor, batches = scan(source, None, since=SINCE)

    assert proxy.cuts == 1 and len(sleeps) == 1
    assert source.stats.reconnects >= 1
    assert set(by_id(changes)) == wanted  # by_id fails on any duplicate
    assert all(len(b.changes) <= 5 for b in batches)
    assert scan(source, cursor, since=SINCE)[0] == []
    source.close()


def test_drop_between_batches_resumes_from_the_last_batch(
    seeded: tuple[MailUser, set[str]],
    make_settings: Callable[..., Settings],
    proxy_to: Callable[..., TcpProxy],
) -> None:
    user, wanted = seeded
    proxy = proxy_to(user.server)
    source = ImapMailbox(through(proxy, user, make_settings), sleep=Sleeps())
    seen: list[str | None] = []
    batches: Iterator = source.fetch_changes(None, since=SINCE, header_fields=HEADER_FIELDS)
    for n, batch in enumerate(batches):
        seen += [m.message_id for m in messages(batch.changes)]
        if n in (1, 4):
            proxy.drop_all()  # while the daemon is busy committing
    assert sorted(seen) == sorted(wanted)
    assert proxy.cuts == 2
    source.close()


def test_server_kick_between_cycles_is_invisible(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    mail_user.append("INBOX", make_raw("a@example.org"))
    source = ImapMailbox(make_settings(mail_user), sleep=Sleeps())
    _, cursor, _ = scan(source, None)
    mail_user.kick()
    mail_user.append("INBOX", make_raw("b@example.org"))
    changes, _, _ = scan(source, cursor)
    assert list(by_id(changes)) == ["b@example.org"]
    source.close()


def test_unreachable_server_gives_up_as_transient_with_backoff(
    mail_user: MailUser,
    make_settings: Callable[..., Settings],
    proxy_to: Callable[..., TcpProxy],
) -> None:
    proxy = proxy_to(mail_user.server)
    sleeps = Sleeps()
    source = ImapMailbox(make_settings(mail_user, port=proxy.port), sleep=sleeps, backoff=1.0)
    _, cursor, _ = scan(source, None)
    proxy.refuse(True)
    with pytest.raises(Transient, match="gave up"):
        scan(source, cursor)
    assert len(sleeps) == 3  # 4 attempts
    for k, delay in enumerate(sleeps):
        assert 0.5 * 2**k <= delay <= 1.5 * 2**k  # exponential, jittered
    proxy.refuse(False)
    assert scan(source, cursor)[0] == []  # and recovers once the server is back
    source.close()


def test_silent_server_times_out_instead_of_hanging(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as mute:  # accepts, never greets
        settings = make_settings(mail_user, port=mute.getsockname()[1], timeout=0.3)
        source = ImapMailbox(settings, sleep=Sleeps(), attempts=2)
        started = datetime.now(UTC)
        with pytest.raises(Transient):
            source.open()
        assert datetime.now(UTC) - started < timedelta(seconds=5)


def test_server_restart_between_cycles_is_invisible(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    mail_user.append("INBOX", make_raw("a@example.org"))
    source = ImapMailbox(make_settings(mail_user), sleep=Sleeps())
    _, cursor, _ = scan(source, None)
    mail_user.server.restart()
    mail_user.append("INBOX", make_raw("b@example.org"))
    changes, cursor, _ = scan(source, cursor)
    assert list(by_id(changes)) == ["b@example.org"]
    assert source.stats.reconnects == 1
    source.close()
