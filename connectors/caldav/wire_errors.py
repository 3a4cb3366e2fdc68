"""What a CalDAV answer or a library exception means, as a `connectors.errors`
type: HTTP statuses, python-caldav's errors, network failures and unreadable
XML. Messages name the URL (without user info or query) and the user, never
the password.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from caldav.lib import error as dav_error
from caldav.lib.http_sync import requests as http
from lxml import etree

from connectors.errors import (
    AuthFailed,
    ConfigProblem,
    ConnectorError,
    Permanent,
    RateLimited,
    Transient,
    network_problem,
    root_cause,
)


def shown(url: str) -> str:
    """A URL fit for logs and messages: no user info, no query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_status(resp: Any, method: str, url: str, who: str) -> None:
    """Nothing for a 2xx answer; otherwise the connectors.errors type of the status."""
    status = int(resp.status)
    if 200 <= status < 300:
        return
    what = f"{method} {shown(url)}: {status} {getattr(resp, 'reason', '') or ''}".strip()
    if status == 401:
        raise AuthFailed(login_refused(url, who))
    if status in (429, 503):
        raise RateLimited(what, retry_after=_retry_after(resp))
    if status >= 500:
        raise Transient(what)
    raise Permanent(what)


def login_refused(url: str, who: str) -> str:
    return f"{shown(url)} refused the login ({who})"


@contextlib.contextmanager
def translated(
    what: str,
    url: str,
    *,
    who: str,
    connecting: bool,
    reraise: tuple[type[Exception], ...] = (),
) -> Iterator[None]:
    """Library and network exceptions -> connectors.errors, password-free.

    `connecting`: a 403 while finding the calendar is a login or URL problem,
    later it is a refusal of one request."""
    try:
        yield
    except ConnectorError:
        raise
    except reraise:
        raise
    except Exception as exc:
        error = _as_connector_error(exc, what, url, who, connecting)
        if error is None:
            raise
        raise error from None


def not_found(url: str) -> ConfigProblem:
    return ConfigProblem(
        f"{shown(url)} answers 404 Not Found",
        hint="check `url`: use the server root, your principal or calendar-home URL",
    )


def _as_connector_error(
    exc: Exception, what: str, url: str, who: str, connecting: bool
) -> ConnectorError | None:
    if isinstance(exc, dav_error.DAVError):
        return _dav_error(exc, what, url, who, connecting)
    if isinstance(exc, http.exceptions.RequestException | OSError):
        return _network_error(exc, what, url)
    if isinstance(exc, etree.LxmlError):
        return Transient(f"{what} {shown(url)}: unreadable XML answer ({exc})")
    return None


def _dav_error(
    exc: dav_error.DAVError, what: str, url: str, who: str, connecting: bool
) -> ConnectorError:
    if isinstance(exc, dav_error.RateLimitError):
        return RateLimited(
            f"{what} {shown(url)}: rate limited", retry_after=exc.retry_after_seconds
        )
    if isinstance(exc, dav_error.AuthorizationError):
        if exc.status == 403 and not connecting:
            return Permanent(f"{what} {shown(url)}: 403 Forbidden")
        if exc.status == 403:
            return AuthFailed(
                f"{shown(str(exc.url or url))}: 403 Forbidden for {who}",
                hint="check `url` and that this user may read it",
            )
        return AuthFailed(login_refused(str(exc.url or url), who))
    if isinstance(exc, dav_error.NotFoundError):
        return not_found(str(exc.url or url))
    status = getattr(exc, "status", None) or 0
    if status == 404 or "404" in str(exc.reason):
        return not_found(str(exc.url or url))
    cls = Transient if status >= 500 else Permanent
    return cls(f"{what} {shown(url)}: {type(exc).__name__} {_reason(exc)}")


def _network_error(exc: Exception, what: str, url: str) -> Transient:
    cause = root_cause(exc)
    if isinstance(cause, OSError | EOFError):
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        message, hint = network_problem(parts.hostname or "", port, cause)
        return Transient(f"{what} {shown(url)}: {message}", hint=hint)
    return Transient(f"{what} {shown(url)}: {type(exc).__name__}")


def _retry_after(resp: Any) -> float | None:
    try:
        return float(resp.headers.get("Retry-After", ""))
    except (TypeError, ValueError):
        return None


def _reason(exc: Any) -> str:
    return str(getattr(exc, "reason", "") or "").splitlines()[0][:200]
