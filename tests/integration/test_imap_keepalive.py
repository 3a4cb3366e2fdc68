"""Issue 9 item 11: push notices a connection that died without a word.

The IDLE connection goes through a path that can be blackholed (tests/servers/
blackhole.py: a veth pair into a private network namespace, link taken down):
no FIN, no RST, packets just vanish, as after a Wi-Fi change. With TCP
keepalive the watcher finds out within about twice `keepalive` and reconnects;
without it, it would idle on a dead line until the 10-minute re-IDLE. The
keepalive is shortened to 1 s here (60 s in production: about 2 minutes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from connectors.imap import Settings
from tests.integration.test_imap_idle import MakeWatcher, Waiting, deliver, eventually, watchers
from tests.servers import blackhole, servers_required
from tests.servers.dovecot import MailUser

pytestmark = pytest.mark.dovecot
__all__ = ["watchers"]  # the fixture, reused

KEEPALIVE = 1.0  # -> idle 1 s, 4 probes 1 s apart: dead after ~5 s
NOTICED = 15.0  # generous bound for a loaded machine, far below the 600 s re-IDLE


@pytest.fixture
def path(mail_user: MailUser) -> Iterator[blackhole.Blackhole]:
    if not blackhole.available():
        reason = "needs root and iproute2 network namespaces"
        if servers_required():  # CI: scripts/test installs iproute2, so this is a failure
            pytest.fail(f"{reason} (GHOSTWATCH_REQUIRE_SERVERS is set)")
        pytest.skip(reason)
    with blackhole.Blackhole("127.0.0.1", mail_user.server.tls_port) as hole:
        yield hole


def settings_via(
    hole: blackhole.Blackhole, user: MailUser, make: Callable[..., Settings], keepalive: float
) -> Settings:
    # TLS because the address is not loopback (plain text is refused there); the
    # test server's certificate names localhost, hence no verification.
    return make(user, host=hole.host, port=hole.port, security="tls", tls_verify=False,
                timeout=5.0, keepalive=keepalive)  # fmt: skip


def test_a_silently_dead_idle_connection_is_noticed_and_push_resumes(
    path: blackhole.Blackhole,
    mail_user: MailUser,
    make_settings: Callable[..., Settings],
    watchers: MakeWatcher,
) -> None:
    watcher = watchers(settings_via(path, mail_user, make_settings, KEEPALIVE))
    assert watcher.wait(0.3) is False  # connected and idled once
    waiting = Waiting(watcher.wait, timeout=120)
    eventually(lambda: watcher.idling)
    path.blackhole()
    start = time.monotonic()
    eventually(lambda: not watcher.idling, timeout=NOTICED)  # the dead line was given up
    noticed = time.monotonic() - start
    print(f"\nkeepalive {KEEPALIVE:g}s: dead IDLE connection noticed after {noticed:.1f}s")
    path.restore()
    deliver(mail_user)
    assert waiting.join(timeout=125) is True  # reconnected; what it missed is reported
    assert watcher.connects == 2


def test_without_keepalive_the_dead_connection_goes_unnoticed(
    path: blackhole.Blackhole,
    mail_user: MailUser,
    make_settings: Callable[..., Settings],
    watchers: MakeWatcher,
) -> None:
    """The control: the same black hole with keepalive off is not seen in that time."""
    watcher = watchers(settings_via(path, mail_user, make_settings, 0))
    assert watcher.wait(0.3) is False
    waiting = Waiting(watcher.wait, timeout=NOTICED + 5)
    eventually(lambda: watcher.idling)
    path.blackhole()
    time.sleep(NOTICED)
    assert watcher.idling  # still "idling" on a line that is gone
    watcher.close()
    assert waiting.join(timeout=15) is False
