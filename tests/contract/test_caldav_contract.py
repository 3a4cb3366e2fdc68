"""The CalDAV connector against the calendar contract, on real Radicale and Xandikos.

Each test gets a calendar of its own on a server started once per module.
"Another client" is python-caldav's DAVClient doing plain PUT/DELETE, the way
a phone or Thunderbird would; lost answers are real requests whose response
is dropped before the connector sees it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import caldav
import pytest
from caldav.lib.http_sync import requests as http

from connectors.caldav import CaldavCalendar, Settings, open_calendar
from connectors.caldav.cursor import mode_of
from connectors.errors import CursorExpired
from connectors.secrets import SecretSource
from tests.contract.calendar_suite import (
    SINCE,
    CalendarContract,
    by_uid,
    foreign_ics,
    reminder,
)
from tests.servers import radicale as radicale_server
from tests.servers.radicale import Radicale, start_radicale
from tests.servers.xandikos import Xandikos, start_xandikos

_names = itertools.count()


class CaldavHarness:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        first = self.open_calendar()
        first.open()  # creates the calendar
        self.calendar_url = first.wire.calendar_url
        password = settings.password.resolve() if settings.password else None
        self.other = caldav.DAVClient(
            settings.url, username=settings.username, password=password, enable_rfc6764=False
        )

    def open_calendar(self) -> CaldavCalendar:
        return open_calendar(self.settings)

    def open_without_sync_tokens(self) -> CaldavCalendar:
        return open_calendar(replace(self.settings, sync_tokens=False))

    def write_foreign(self, name: str, data: bytes) -> bool:
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        resp = self.other.put(self.calendar_url + name, data.decode(), headers)
        return bool(resp.status < 400)

    def delete_foreign(self, name: str) -> None:
        assert self.other.delete(self.calendar_url + name).status < 300

    def read_foreign(self, name: str) -> bytes | None:
        resp = self.other.request(self.calendar_url + name, "GET")
        if resp.status == 404:
            return None
        raw = resp._raw
        return raw.encode() if isinstance(raw, str) else raw

    def count_items(self) -> int:
        return len(caldav.Calendar(client=self.other, url=self.calendar_url).get_events())

    def drop_write_responses(self, calendar: Any, n: int) -> None:
        calendar.open()
        dav = calendar.wire.dav
        send = dav.request
        left = [n]

        def request(url: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
            resp = send(url, method, *args, **kwargs)
            if method in ("PUT", "DELETE") and left[0] > 0:
                left[0] -= 1
                raise http.exceptions.ReadTimeout("the answer was lost (test)")
            return resp

        dav.request = request


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    with start_radicale(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture(scope="module")
def xandikos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Xandikos]:
    with start_xandikos(tmp_path_factory.mktemp("xandikos")) as server:
        yield server


def radicale_settings(server: Radicale, tmp_path: Path, **kw: Any) -> Settings:
    secret = tmp_path / "dav.secret"
    secret.write_text(radicale_server.PASSWORD + "\n")
    return Settings(
        url=server.url,
        username=radicale_server.USER,
        password=SecretSource(file=str(secret)),
        timeout=10,
        **kw,
    )


class TestRadicale(CalendarContract):
    @pytest.fixture
    def harness(self, radicale: Radicale, tmp_path: Path) -> CaldavHarness:
        return CaldavHarness(radicale_settings(radicale, tmp_path, calendar=f"gw-{next(_names)}"))


class TestXandikos(CalendarContract):
    @pytest.fixture
    def harness(self, xandikos: Xandikos) -> CaldavHarness:
        return CaldavHarness(Settings(url=xandikos.url, calendar=f"gw-{next(_names)}", timeout=10))


# -- what only CalDAV has -------------------------------------------------------


@pytest.fixture(params=["radicale", "xandikos"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> CaldavHarness:
    name = f"gw-{next(_names)}"
    if request.param == "radicale":
        server = request.getfixturevalue("radicale")
        return CaldavHarness(radicale_settings(server, tmp_path, calendar=name))
    server = request.getfixturevalue("xandikos")
    return CaldavHarness(Settings(url=server.url, calendar=name, timeout=10))


def test_sync_tokens_are_used_when_offered(harness: CaldavHarness) -> None:
    cal = harness.open_calendar()
    assert mode_of(cal.fetch_changes(None, since=SINCE).cursor) == "sync"
    fallback = harness.open_without_sync_tokens()
    assert mode_of(fallback.fetch_changes(None, since=SINCE).cursor) == "etag"


def test_quiet_fallback_read_is_one_propfind(harness: CaldavHarness) -> None:
    cal = harness.open_without_sync_tokens()
    harness.write_foreign("a.ics", foreign_ics("a-1"))
    cursor = cal.fetch_changes(None, since=SINCE).cursor
    cal.open()
    sent: list[str] = []
    send = cal.wire.dav.request

    def counting(url: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
        sent.append(method)
        return send(url, method, *args, **kwargs)

    cal.wire.dav.request = counting
    assert cal.fetch_changes(cursor, since=SINCE).events == ()
    assert sent == ["PROPFIND"]  # the ctag said nothing changed


def test_cursor_from_the_other_mode_is_handled(harness: CaldavHarness) -> None:
    synced = harness.open_calendar().fetch_changes(None, since=SINCE).cursor
    harness.write_foreign("a.ics", foreign_ics("a-1"))
    with pytest.raises(CursorExpired):
        harness.open_without_sync_tokens().fetch_changes(synced, since=SINCE)
    etag_cursor = harness.open_without_sync_tokens().fetch_changes(None, since=SINCE).cursor
    # Sync tokens on, an etag cursor: keeps reading by etags until the next rescan.
    harness.write_foreign("b.ics", foreign_ics("b-1"))
    assert set(by_uid(harness.open_calendar().fetch_changes(etag_cursor, since=SINCE))) == {"b-1"}


def test_stale_sync_token_is_cursor_expired(harness: CaldavHarness) -> None:
    good = harness.open_calendar().fetch_changes(None, since=SINCE).cursor
    stale = good.replace('"token":"', '"token":"http://example.invalid/stale-')
    with pytest.raises(CursorExpired):
        harness.open_calendar().fetch_changes(stale, since=SINCE)


def test_calendar_is_found_again_not_made_twice(harness: CaldavHarness) -> None:
    again = harness.open_calendar()
    again.open()
    assert again.wire.calendar_url == harness.calendar_url
    principal = harness.other.principal()
    names = [c.get_display_name() for c in principal.calendars()]
    assert names.count(harness.settings.calendar) == 1


def test_calendar_url_itself_works(harness: CaldavHarness) -> None:
    direct = open_calendar(replace(harness.settings, url=harness.calendar_url))
    made = direct.put_event(reminder())
    assert harness.open_calendar().find_event(made.uid) == made
