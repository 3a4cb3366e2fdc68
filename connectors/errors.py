"""Connector errors, typed by how much work they abandon.

One small hierarchy (OfflineIMAP's severities): the daemon's single handler
decides from the type whether to skip one item, one folder, one account, or
stop. Messages never contain passwords, tokens or message bodies.
"""

from __future__ import annotations

import enum
import errno
import socket


class Severity(enum.IntEnum):
    ITEM = 1  # skip one message/event, go on
    FOLDER = 2  # skip this folder this cycle
    ACCOUNT = 3  # this account is degraded; others continue
    FATAL = 4  # stop the daemon


class ConnectorError(Exception):
    severity = Severity.ACCOUNT
    hint = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


class Transient(ConnectorError):
    """Network hiccup, timeout, server busy: retry with backoff."""

    hint = "ghostwatch retries with backoff"


class RateLimited(Transient):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthFailed(ConnectorError):
    """Wrong password or refused login: the user must fix credentials."""

    hint = "check the username and the password source in the config"


class AuthExpired(AuthFailed):
    """An OAuth token is no longer valid."""

    hint = "run `ghostwatch login ACCOUNT` again"


class CursorExpired(ConnectorError):
    """The stored cursor is stale (UIDVALIDITY changed, history expired)."""

    severity = Severity.FOLDER


class Unsupported(ConnectorError):
    """The server lacks something required (no Drafts folder, no UIDPLUS...)."""


class Permanent(ConnectorError):
    """The server refused this operation for good (APPEND rejected...)."""

    severity = Severity.ITEM


class ConfigProblem(ConnectorError):
    """A connector setting is unusable (plain text to a remote host...)."""

    severity = Severity.FATAL


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception behind a library's wrappers (HTTP libraries nest the
    socket error three deep: ConnectionError <- MaxRetryError.reason <- ...)."""
    seen: set[int] = set()
    current = exc
    while id(current) not in seen:
        seen.add(id(current))
        reason = getattr(current, "reason", None)
        inner = reason if isinstance(reason, BaseException) else None
        inner = inner or current.__cause__ or current.__context__
        if inner is None:
            break
        current = inner
    return current


def network_problem(
    host: str, port: int, exc: BaseException, *, usual_ports: str = ""
) -> tuple[str, str]:
    """(message, hint) for a failed connection, naming its real cause: a name that
    does not resolve, a port nobody listens on and a server that never answers
    call for different fixes."""
    where = f"cannot reach {f'[{host}]' if ':' in host else host}:{port}"
    retry = "ghostwatch retries with backoff"
    if isinstance(exc, socket.gaierror):
        return (
            f"{where}: the host name {host} does not resolve (DNS: {exc.strerror or exc})",
            f"check the host name (a typo?) and that this machine's network and DNS work; {retry}",
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"{where}: nothing listens on that port (connection refused)",
            f"check the port{f' ({usual_ports})' if usual_ports else ''} and that the server "
            f"runs; {retry}",
        )
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        return (
            f"{where}: the server did not answer in time",
            f"the server or the network is down or slow (raise timeout if only slow); {retry}",
        )
    if isinstance(exc, ConnectionResetError):
        return f"{where}: the connection was reset (RST from the server or the network)", retry
    if isinstance(exc, ConnectionAbortedError):
        return f"{where}: the connection was aborted on this machine", retry
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"{where}: no route to the host ({exc.strerror})", f"check the network; {retry}"
    if isinstance(exc, EOFError) or not isinstance(exc, OSError):
        return f"{where}: the server closed the connection before answering", retry
    return f"{where}: {exc.strerror or type(exc).__name__}", retry
