"""Real servers for the integration suite: Dovecot (two flavours) and a cuttable proxy.

Servers are session-scoped (starting Dovecot takes ~0.1 s, but there is no
reason to pay it per test); every test gets its own fresh user, so tests never
see each other's mail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.imap import Settings
from connectors.secrets import SecretSource
from tests.servers.dovecot import Dovecot, MailUser, dovecot_binary, skip_or_fail
from tests.servers.tcpproxy import TcpProxy


def _start(**kwargs: Any) -> Iterator[Dovecot]:
    if dovecot_binary() is None:
        skip_or_fail("dovecot is not installed (apt-get install -y dovecot-imapd)")
    server = Dovecot(**kwargs)  # its own temp dir, removed again by cleanup()
    try:
        yield server.start()
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """Dovecot as shipped: CONDSTORE, QRESYNC, SPECIAL-USE; TLS on both ports."""
    yield from _start(tls=True)


@pytest.fixture(scope="session")
def legacy_dovecot() -> Iterator[Dovecot]:
    """No CONDSTORE/QRESYNC/SPECIAL-USE, no TLS: the 163.com / old Exchange experience."""
    yield from _start(flavour="legacy")


@pytest.fixture
def mail_user(dovecot: Dovecot) -> MailUser:
    return dovecot.add_user()


@pytest.fixture
def legacy_user(legacy_dovecot: Dovecot) -> MailUser:
    return legacy_dovecot.add_user()


def settings_for(user: MailUser, **overrides: Any) -> Settings:
    """Settings that log `user` in over plain text on loopback (allowed there only)."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": user.server.port,
        "security": "plain",
        "username": user.name,
        "password": SecretSource(file=str(user.server.password_file)),
        "timeout": 10.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    return settings_for


@pytest.fixture
def proxy_to(request: pytest.FixtureRequest) -> Callable[[Dovecot], TcpProxy]:
    """A TcpProxy in front of a server, closed at teardown."""

    def make(server: Dovecot) -> TcpProxy:
        proxy = TcpProxy("127.0.0.1", server.port).start()
        request.addfinalizer(proxy.close)
        return proxy

    return make
