"""Real servers for the integration suite: Dovecot (two flavours), PostgreSQL, a cuttable proxy.

Servers are session-scoped (starting Dovecot takes ~0.1 s, but there is no
reason to pay it per test); every test gets its own fresh user, so tests never
see each other's mail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from connectors.imap import Settings
from connectors.secrets import SecretSource
from daemon.db.engine import Store
from daemon.db.tables import Base
from tests.servers.dovecot import Dovecot, MailUser, serve
from tests.servers.postgres import find_bin, running_postgres
from tests.servers.tcpproxy import TcpProxy


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """Dovecot as shipped: CONDSTORE, QRESYNC, SPECIAL-USE; TLS on both ports."""
    yield from serve(tls=True)


@pytest.fixture(scope="session")
def legacy_dovecot() -> Iterator[Dovecot]:
    """No CONDSTORE/QRESYNC/SPECIAL-USE, no TLS: the 163.com / old Exchange experience."""
    yield from serve(flavour="legacy")


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


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A database on a private PostgreSQL cluster, one cluster per test module."""
    if find_bin("initdb") is None:
        if os.environ.get("GHOSTWATCH_REQUIRE_SERVERS"):
            pytest.fail("PostgreSQL is required but not installed")
        pytest.skip("PostgreSQL not installed (scripts/test installs it)")
    with running_postgres() as pg:
        yield pg.create_database("ghostwatch_test")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on SQLite and on PostgreSQL; PostgreSQL is emptied afterwards."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gw.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    s = Store(url)
    yield s
    if request.param == "postgres":
        with s.engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(text(f'DROP TABLE "{table.name}" CASCADE'))
    s.close()
