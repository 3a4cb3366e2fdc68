"""Opening the connection a Wire runs on: TLS, STARTTLS or (loopback only) plain
text, STARTTLS failing closed, TCP keepalive, and socket/TLS failures turned into
connector errors with a hint.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import socket
import ssl

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import CapabilityError

from connectors.errors import ConfigProblem, ConnectorError, Unsupported, network_problem
from connectors.imap.errors import ConnectionLost
from connectors.imap.settings import Settings, is_loopback

log = logging.getLogger(__name__)


def tls_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.ca_file)
    if not settings.tls_verify:
        log.warning("TLS certificate checks are off for %s (tls_verify = false)", settings.host)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


KEEPALIVE_PROBES = 4


def keep_alive(sock: socket.socket, idle: float) -> None:
    """TCP keepalive: a peer gone silent (no FIN, no RST) fails the next read with
    ETIMEDOUT after about 2 x idle, which every caller already treats as a lost
    connection. An IDLE connection sends nothing for minutes: without this, only
    the next re-IDLE would find out."""
    if idle <= 0:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    seconds = max(1, round(idle))
    interval = max(1, round(idle / KEEPALIVE_PROBES))
    if hasattr(socket, "TCP_KEEPIDLE"):  # Linux; macOS has only TCP_KEEPALIVE (idle)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, seconds)
    elif hasattr(socket, "TCP_KEEPALIVE"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPALIVE, seconds)
    if hasattr(socket, "TCP_KEEPINTVL"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_PROBES)
    if hasattr(socket, "TCP_USER_TIMEOUT"):
        # The same bound for data sent into the void (a NOOP or DONE nobody acknowledges).
        limit = (seconds + interval * KEEPALIVE_PROBES) * 1000
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, limit)


def open_socket(settings: Settings) -> IMAPClient:
    client = _connect_socket(settings)
    try:
        keep_alive(client.socket(), settings.keepalive)
    except OSError as exc:
        log.debug("TCP keepalive not set for %s: %s", settings.host, exc)
    return client


def _connect_socket(settings: Settings) -> IMAPClient:
    host, port = settings.host, settings.port
    try:
        return _make_client(settings)
    except ssl.SSLCertVerificationError as exc:
        raise ConnectorError(
            f"the TLS certificate of {host} is not trusted ({exc.verify_message})",
            hint="fix the server certificate, or set ca_file to the CA that signed it",
        ) from None
    except ssl.SSLError as exc:
        raise ConnectorError(
            f"TLS handshake with {host}:{port} failed ({exc.reason})",
            hint="check port and security (993 = tls, 143 = starttls)",
        ) from None
    except (OSError, imaplib.IMAP4.abort, EOFError) as exc:
        message, hint = network_problem(host, port, exc, usual_ports="993 = tls, 143 = starttls")
        raise ConnectionLost(message, hint=hint) from None


def _make_client(settings: Settings) -> IMAPClient:
    """The connection `security` asks for; plain text only to this machine."""
    timeout = SocketTimeout(connect=settings.timeout, read=settings.timeout)
    host, port = settings.host, settings.port
    if settings.security == "tls":
        return IMAPClient(host, port, ssl=True, ssl_context=tls_context(settings), timeout=timeout)
    if settings.security == "plain":
        if not is_loopback(host):
            raise ConfigProblem(
                f"security = 'plain' to {host} refused: the password would travel in clear",
                hint="use security = 'tls' (port 993) or 'starttls' (port 143)",
            )
        return IMAPClient(host, port, ssl=False, timeout=timeout)
    client = IMAPClient(host, port, ssl=False, timeout=timeout)
    _upgrade(client, settings)
    return client


def _upgrade(client: IMAPClient, settings: Settings) -> None:
    """STARTTLS or nothing: never fall back to clear text (fails closed)."""
    try:
        client.starttls(tls_context(settings))
    except (CapabilityError, imaplib.IMAP4.error) as exc:
        with contextlib.suppress(Exception):
            client.shutdown()
        offered = not isinstance(exc, CapabilityError)
        raise Unsupported(
            f"{settings.host} {'refused' if offered else 'does not offer'} STARTTLS; "
            "not continuing without encryption",
            hint="use security = 'tls' on port 993, or ask the provider to enable STARTTLS",
        ) from None
    except BaseException:
        with contextlib.suppress(Exception):
            client.shutdown()
        raise
