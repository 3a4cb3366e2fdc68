"""CalDAV calendar connector (Radicale, Xandikos, Nextcloud, Fastmail, iCloud...).

Reads the consultant's calendar incrementally (RFC 6578 sync tokens, or
ctag/etag comparison where the server has none) and writes ghostwatch's
reminders into a calendar of their own, idempotently by UID.
"""

from __future__ import annotations

from connectors.base import CalendarConnector
from connectors.caldav.calendar import CaldavCalendar
from connectors.caldav.client import ClientFactory, default_client
from connectors.caldav.settings import Settings

__all__ = [
    "CONNECTOR",
    "CaldavCalendar",
    "ClientFactory",
    "Settings",
    "default_client",
    "open_calendar",
]


def open_calendar(
    settings: Settings, client_factory: ClientFactory = default_client
) -> CaldavCalendar:
    """The CalendarSource and CalendarSink for `settings`; `.open()` connects early."""
    return CaldavCalendar(settings, client_factory)


CONNECTOR = CalendarConnector(settings=Settings, open_calendar=open_calendar)
