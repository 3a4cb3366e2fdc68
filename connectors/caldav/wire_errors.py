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
    """Library and network exceptions -> connectors.errors, password-free."""
    try:
        yield
    except ConnectorError:
        raise
    except reraise:
        raise
    except dav_error.RateLimitError as exc:
        raise RateLimited(
            f"{what} {shown(url)}: rate limited", retry_after=exc.retry_after_seconds
        ) from None
    except dav_error.AuthorizationError as exc:
        if exc.status == 403 and not connecting:
            raise Permanent(f"{what} {shown(url)}: 403 Forbidden") from None
        if exc.status == 403:
            raise AuthFailed(
                f"{shown(str(exc.url or url))}: 403 Forbidden for {who}",
                hint="check `url` and that this user may read it",
            ) from None
        raise AuthFailed(login_refused(str(exc.url or url), who)) from None
    except dav_error.NotFoundError as exc:
        raise ConfigProblem(
            f"{shown(str(exc.url or url))} answers 404 Not Found",
            hint="check `url`: use the server root, your principal or calendar-home URL",
        ) from None
    except dav_error.DAVError as exc:
        status = getattr(exc, "status", None) or 0
        if status == 404 or "404" in str(exc.reason):
            raise ConfigProblem(
                f"{shown(str(exc.url or url))} answers 404 Not Found",
                hint="check `url`: use the server root, your principal or calendar-home URL",
            ) from None
        cls = Transient if status >= 500 else Permanent
        raise cls(f"{what} {shown(url)}: {type(exc).__name__} {_reason(exc)}") from None
    except (http.exceptions.RequestException, OSError) as exc:
        cause = root_cause(exc)
        if isinstance(cause, OSError | EOFError):
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            message, hint = network_problem(parts.hostname or "", port, cause)
            raise Transient(f"{what} {shown(url)}: {message}", hint=hint) from None
        raise Transient(f"{what} {shown(url)}: {type(exc).__name__}") from None
    except etree.LxmlError as exc:
        raise Transient(f"{what} {shown(url)}: unreadable XML answer ({exc})") from None


def _retry_after(resp: Any) -> float | None:
    try:
        return float(resp.headers.get("Retry-After", ""))
    except (TypeError, ValueError):
        return None


def _reason(exc: Any) -> str:
    return str(getattr(exc, "reason", "") or "").splitlines()[0][:200]
