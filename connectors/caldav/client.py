"""The thin wire wrapper: python-caldav for discovery and sync, plain WebDAV for the rest.

Everything here speaks HTTP and nothing here knows about ghostwatch events:
hrefs, etags and iCalendar bytes in and out. Conditional writes (If-Match,
If-None-Match) and the REPORT bodies are spelled out here rather than left to
caldav's `save()`, because idempotence depends on exactly what goes on the
wire. Every library or network error leaves as a `connectors.errors` type;
messages name the URL and the user, never the password.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.sax.saxutils import escape

import caldav
from caldav.lib import error as dav_error

from connectors.caldav.multistatus import (
    CALDAV_NS,
    DAV_NS,
    ITEM_PROPS,
    XMLNS,
    body_bytes,
    href_path,
    raw_bytes,
    responses,
)
from connectors.caldav.settings import Settings
from connectors.caldav.wire_errors import (
    check_status,
    login_refused,
    not_found,
    shown,
    translated,
)
from connectors.errors import (
    AuthFailed,
    ConnectorError,
    CursorExpired,
)

log = logging.getLogger(__name__)

ClientFactory = Callable[[Settings], caldav.DAVClient]
_CAL_HEADERS = {"Content-Type": "text/calendar; charset=utf-8"}
_XML_HEADERS = {"Content-Type": "application/xml; charset=utf-8"}
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.@+=-]{1,200}")


@dataclass(frozen=True, slots=True)
class Resource:
    """One calendar object resource as the server holds it."""

    href: str  # path, unquoted
    etag: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class SyncPage:
    """What an RFC 6578 sync-collection REPORT said changed since a token."""

    token: str
    changed: dict[str, str | None]  # href -> etag
    deleted: frozenset[str]


class SyncUnavailable(Exception):
    """The server does not do sync-collection on this calendar: use ctag/etags."""


def default_client(settings: Settings) -> caldav.DAVClient:
    password = settings.password.resolve() if settings.password is not None else None
    return caldav.DAVClient(
        url=settings.url,
        username=settings.username,
        password=password,
        timeout=settings.timeout,  # type: ignore[arg-type]  # caldav accepts float seconds
        ssl_verify_cert=settings.tls_verify,
        enable_rfc6764=False,  # the URL is given; no DNS-based guessing
    )


class CaldavWire:
    """One calendar collection on one server; `connect()` finds or creates it."""

    def __init__(self, settings: Settings, client_factory: ClientFactory = default_client) -> None:
        self.settings = settings
        self._factory = client_factory
        self.dav: caldav.DAVClient | None = None
        self.calendar: caldav.Calendar | None = None
        self.calendar_url = ""
        self._connecting = False  # a 403 while finding the calendar is a login/URL problem

    # -- discovery --

    def connect(self) -> None:
        if self.calendar is not None:
            return
        self._connecting = True
        try:
            with self._errors("connect to", self.settings.url):
                self.dav = self._factory(self.settings)
                if self._is_calendar(self.settings.url):
                    self.calendar = caldav.Calendar(client=self.dav, url=self.settings.url)
                else:
                    self.calendar = self._find_or_make(self.dav.principal())
        finally:
            self._connecting = False
        url = str(self.calendar.url)
        self.calendar_url = url if url.endswith("/") else url + "/"
        log.info("calendar %r is %s", self.settings.calendar, shown(self.calendar_url))

    def close(self) -> None:
        if self.dav is not None:
            with contextlib.suppress(Exception):
                self.dav.close()
        self.dav = self.calendar = None

    def _is_calendar(self, url: str) -> bool:
        body = f"<d:propfind {XMLNS}><d:prop><d:resourcetype/></d:prop></d:propfind>"
        resp = self._send(url, "PROPFIND", body, {**_XML_HEADERS, "Depth": "0"})
        if resp.status == 404:
            raise not_found(url)
        self._check(resp, "PROPFIND", url)
        tree = resp.tree
        marker = f".//{{{DAV_NS}}}resourcetype/{{{CALDAV_NS}}}calendar"
        return tree is not None and tree.find(marker) is not None

    def _find_or_make(self, principal: Any) -> caldav.Calendar:
        wanted = self.settings.calendar
        for cal in principal.calendars():
            last_segment = unquote(str(cal.url)).rstrip("/").rsplit("/")[-1]
            if wanted in (cal.get_display_name(), last_segment):
                return cal
        cal_id = wanted if _SAFE_NAME.fullmatch(wanted) else None
        try:
            return principal.make_calendar(name=wanted, cal_id=cal_id)
        except dav_error.DAVError:
            # Another ghostwatch (or a retry) made it a moment ago.
            for cal in principal.calendars():
                if cal.get_display_name() == wanted:
                    return cal
            raise

    # -- items --

    def href_for(self, name: str) -> str:
        return unquote(urlsplit(urljoin(self.calendar_url, quote(name, safe="@+=-_."))).path)

    def get(self, href: str) -> Resource | None:
        url = self._url(href)
        resp = self._send(url, "GET", "", {"Accept": "text/calendar"})
        if resp.status in (404, 410):
            return None
        self._check(resp, "GET", url)
        return Resource(href, resp.headers.get("ETag"), body_bytes(resp))

    def put(self, href: str, data: bytes, *, etag: str | None) -> tuple[int, str | None]:
        """PUT with If-Match `etag`, or If-None-Match: * when `etag` is None.

        Returns (status, new etag): 2xx on success, 412/409 when the
        precondition failed or the UID lives elsewhere; anything else raises.
        """
        url = self._url(href)
        cond = {"If-Match": etag} if etag else {"If-None-Match": "*"}
        resp = self._send(url, "PUT", data.decode("utf-8"), {**_CAL_HEADERS, **cond})
        if resp.status in (409, 412) or (
            resp.status == 403 and b"no-uid-conflict" in raw_bytes(resp)
        ):
            return resp.status, None
        self._check(resp, "PUT", url)
        return resp.status, resp.headers.get("ETag")

    def delete(self, href: str, etag: str | None) -> int:
        url = self._url(href)
        resp = self._send(url, "DELETE", "", {"If-Match": etag} if etag else {})
        if resp.status in (404, 410, 412):
            return resp.status
        self._check(resp, "DELETE", url)
        return resp.status

    def query_uid(self, uid: str) -> list[Resource]:
        match = (
            f'<c:prop-filter name="UID"><c:text-match collation="i;octet">{escape(uid)}'
            "</c:text-match></c:prop-filter>"
        )
        return self._query(match)

    def query_since(self, since: datetime) -> list[Resource]:
        start = since.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return self._query(f'<c:time-range start="{start}"/>')

    def multiget(self, hrefs: list[str]) -> tuple[list[Resource], set[str]]:
        """(resources found, hrefs the server no longer has)."""
        if not hrefs:
            return [], set()
        refs = "".join(f"<d:href>{escape(quote(h))}</d:href>" for h in hrefs)
        body = f"<c:calendar-multiget {XMLNS}>{ITEM_PROPS}{refs}</c:calendar-multiget>"
        found = self._report(body, depth="1")
        got = {r.href for r in found}
        return found, {h for h in hrefs if h not in got}

    def etags(self) -> dict[str, str | None]:
        """href -> etag of every item (PROPFIND depth 1), for servers without sync tokens."""
        body = f"<d:propfind {XMLNS}><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>"
        resp = self._send(self.calendar_url, "PROPFIND", body, {**_XML_HEADERS, "Depth": "1"})
        self._check(resp, "PROPFIND", self.calendar_url)
        own = unquote(urlsplit(self.calendar_url).path).rstrip("/")
        found: dict[str, str | None] = {}
        for href, props, _ in responses(resp.tree):
            is_collection = props.get("collection") is not None
            if href.rstrip("/") != own and not is_collection:
                found[href] = props.get("getetag")
        return found

    def ctag(self) -> str | None:
        """The collection's CalendarServer ctag, None when the server has none."""
        body = f"<d:propfind {XMLNS}><d:prop><cs:getctag/></d:prop></d:propfind>"
        resp = self._send(self.calendar_url, "PROPFIND", body, {**_XML_HEADERS, "Depth": "0"})
        self._check(resp, "PROPFIND", self.calendar_url)
        for _, props, _ in responses(resp.tree):
            if props.get("getctag"):
                return props["getctag"]
        return None

    def sync(self, token: str | None) -> SyncPage:
        """Changes since `token` (None: the current token and every href)."""
        assert self.calendar is not None
        try:
            with self._errors("sync", self.calendar_url, reraise=(dav_error.DAVError,)):
                coll = self.calendar.get_objects_by_sync_token(
                    token, load_objects=False, disable_fallback=True
                )
        except dav_error.DAVError as exc:
            if f"{{{DAV_NS}}}valid-sync-token" in (getattr(exc, "preconditions", None) or []):
                raise CursorExpired("the server no longer knows the stored sync token") from None
            if isinstance(exc, dav_error.AuthorizationError) and exc.status == 401:
                raise AuthFailed(self._login_refused(self.calendar_url)) from None
            raise SyncUnavailable(str(exc)) from None
        if not coll.sync_token or str(coll.sync_token).startswith("fake-"):
            raise SyncUnavailable("the server gave no sync token")
        deleted = frozenset(href_path(str(u)) for u in getattr(coll, "deleted_urls", ()) or ())
        changed = {
            href_path(str(o.url)): o.props.get(f"{{{DAV_NS}}}getetag")
            for o in coll
            if href_path(str(o.url)) not in deleted
        }
        return SyncPage(str(coll.sync_token), changed, deleted)

    # -- plumbing --

    def _query(self, vevent_filter: str) -> list[Resource]:
        body = (
            f"<c:calendar-query {XMLNS}>{ITEM_PROPS}<c:filter>"
            f'<c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">{vevent_filter}'
            "</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"
        )
        return self._report(body, depth="1")

    def _report(self, body: str, *, depth: str) -> list[Resource]:
        resp = self._send(self.calendar_url, "REPORT", body, {**_XML_HEADERS, "Depth": depth})
        self._check(resp, "REPORT", self.calendar_url)
        found = []
        for href, props, ok in responses(resp.tree):
            data = props.get("calendar-data")
            if ok and data is not None:
                found.append(Resource(href, props.get("getetag"), data.encode("utf-8")))
        return found

    def _url(self, href: str) -> str:
        return urljoin(self.calendar_url, quote(href))

    def _send(self, url: str, method: str, body: str, headers: dict[str, str]) -> Any:
        if self.dav is None:
            raise ConnectorError("calendar not connected (a bug: call connect() first)")
        with self._errors(method, url):
            return self.dav.request(url, method, body, headers)

    def _check(self, resp: Any, method: str, url: str) -> None:
        check_status(resp, method, url, self._who())

    def _login_refused(self, url: str) -> str:
        return login_refused(url, self._who())

    def _who(self) -> str:
        return f"user {self.settings.username!r}" if self.settings.username else "no user name"

    def _errors(
        self, what: str, url: str, *, reraise: tuple[type[Exception], ...] = ()
    ) -> contextlib.AbstractContextManager[None]:
        """Library and network exceptions -> connectors.errors, password-free."""
        return translated(what, url, who=self._who(), connecting=self._connecting, reraise=reraise)
