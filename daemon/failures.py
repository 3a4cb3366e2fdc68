"""What to tell the user when an account's cycle fails, without leaking mail.

Connector errors are written to be shown (they never carry passwords or
bodies). Anything else may quote what it choked on (a header, a line of a
body), so at INFO and above it is named by type and place only; the message
and traceback go to debug (`-v`).
"""

from __future__ import annotations

import traceback
from pathlib import Path

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from connectors.errors import ConnectorError, Severity
from daemon.errors import AccountDegraded, GhostwatchError

DISK_FULL_HINT = (
    "free disk space where the database lives; nothing is lost: the mailbox cursor "
    "only moves with committed data, so the next cycle picks up where this one stopped"
)


def describe(exc: BaseException) -> str:
    """One line for the log and for `accounts.last_error`."""
    if isinstance(exc, ConnectorError | GhostwatchError):
        hint = f" ({exc.hint})" if exc.hint else ""
        return f"{exc}{hint}"
    if isinstance(exc, DBAPIError):
        # str(exc) would print the SQL parameters (addresses, subjects); the
        # driver's own message is enough and carries no data.
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
        if is_disk_full(exc):
            return f"cannot write the database: {reason} ({DISK_FULL_HINT})"
        return f"database error: {reason}"
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {type(exc).__name__}"
    return f"unexpected {type(exc).__name__} at {where(exc)} (details with -v)"


def is_disk_full(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "disk is full" in text or "no space left" in text or "disk full" in text


def where(exc: BaseException) -> str:
    """The innermost frame: enough for a bug report, no data."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown place"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


def severity_of(exc: BaseException) -> Severity:
    """How much work an error abandons: the one place that reads `Severity`.

    ITEM: one message or event is skipped, the rest of the work goes on (the
    outbox and reminders retry that item). FOLDER: that folder waits for the
    next cycle, the account's other folders and the cycle go on. ACCOUNT: the
    account's cycle fails and it is degraded; other accounts go on. FATAL: a
    setting is unusable, and so is the account until the config changes.
    Anything that is not a connector error is treated as ACCOUNT.
    """
    if isinstance(exc, ConnectorError):
        return exc.severity
    return Severity.ACCOUNT


def skips_part(exc: BaseException) -> bool:
    """True when the error costs only an item or a folder, not the account's cycle."""
    return severity_of(exc) <= Severity.FOLDER


def is_connector_problem(exc: BaseException) -> bool:
    """Expected trouble (server down, wrong password, a cursor that expired twice):
    a warning, not an error."""
    return isinstance(exc, ConnectorError | AccountDegraded)
