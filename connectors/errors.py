"""Connector errors, typed by how much work they abandon.

One small hierarchy (OfflineIMAP's severities): the daemon's single handler
decides from the type whether to skip one item, one folder, one account, or
stop. Messages never contain passwords, tokens or message bodies.
"""

from __future__ import annotations

import enum


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

    hint = "the server did not answer in time; ghostwatch retries with backoff"


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
