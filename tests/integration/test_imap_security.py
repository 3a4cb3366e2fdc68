"""Transport security and login: TLS verified by default, STARTTLS fails closed,
plain text only on loopback, secrets never in errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.errors import AuthFailed, ConfigProblem, ConnectorError, Transient, Unsupported
from connectors.imap import ImapMailbox, Settings, open_mailbox
from connectors.imap.settings import is_loopback
from connectors.secrets import SecretSource
from tests.servers.dovecot import PASSWORD, MailUser

pytestmark = pytest.mark.dovecot


def test_plain_to_a_remote_host_is_refused_before_any_traffic() -> None:
    settings = Settings(
        host="imap.example.com",
        port=143,
        security="plain",
        username="li.lei@example.com",
        password=SecretSource(env="GW_NEVER_READ"),
    )
    assert any(p.startswith("security:") for p in settings.problems())
    with pytest.raises(ConfigProblem, match="plain"):
        open_mailbox(settings)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("127.8.9.1", True), ("10.0.0.1", False), ("imap.example.com", False),
     ("localhost.example.com", False)],
)  # fmt: skip
def test_loopback_is_decided_without_dns(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_defaults_are_tls_with_verification() -> None:
    settings = Settings(host="imap.example.com", username="u")
    assert (settings.security, settings.port, settings.tls_verify) == ("tls", 993, True)


def test_starttls_refused_when_server_does_not_offer_it(
    legacy_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    source = open_mailbox(make_settings(legacy_user, security="starttls"))
    with pytest.raises(Unsupported, match="STARTTLS"):
        source.open()
    # Fails closed: the login never happened in clear.
    assert f"user=<{legacy_user.name}>" not in legacy_user.server.log()


def test_tls_with_the_servers_ca_works(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    server = mail_user.server
    source = open_mailbox(
        make_settings(
            mail_user, security="tls", port=server.tls_port, host="localhost",
            ca_file=str(server.cert),
        )
    )  # fmt: skip
    with source:
        assert "IMAP4REV1" in source.capabilities()


def test_starttls_with_the_servers_ca_works(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    server = mail_user.server
    source = open_mailbox(
        make_settings(mail_user, security="starttls", host="localhost", ca_file=str(server.cert))
    )
    with source:
        assert "IMAP4REV1" in source.capabilities()


def test_untrusted_certificate_is_refused(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    source = open_mailbox(make_settings(mail_user, security="tls", port=mail_user.server.tls_port))
    with pytest.raises(ConnectorError, match="not trusted") as caught:
        source.open()
    assert not isinstance(caught.value, Transient)  # retrying will not fix a certificate


def test_tls_verify_off_accepts_a_self_signed_server(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        mail_user, security="tls", port=mail_user.server.tls_port, tls_verify=False
    )
    with open_mailbox(settings) as source:
        assert source.folders()


def test_tls_to_a_plain_port_fails_cleanly(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    source = open_mailbox(make_settings(mail_user, security="tls", timeout=5.0))
    with pytest.raises(ConnectorError):
        source.open()


def test_wrong_password_is_auth_failed_without_the_password(
    mail_user: MailUser, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    wrong = "Wrong-Pa55word-zz"
    secret = tmp_path / "pw"
    secret.write_text(wrong)
    slept: list[float] = []
    settings = make_settings(mail_user, password=SecretSource(file=str(secret)))
    source = ImapMailbox(settings, sleep=slept.append)  # a refused login must not be retried
    with pytest.raises(AuthFailed) as caught:
        source.open()
    assert wrong not in str(caught.value) and PASSWORD not in str(caught.value)
    assert slept == []


def test_missing_password_source_is_a_config_problem(mail_user: MailUser) -> None:
    settings = Settings(host="127.0.0.1", username=mail_user.name, security="plain", port=1)
    with pytest.raises(ConfigProblem, match="password"):
        open_mailbox(settings)
