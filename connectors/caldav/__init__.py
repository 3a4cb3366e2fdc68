"""CalDAV calendar connector (Radicale, Xandikos, Nextcloud, Fastmail, iCloud...).

Reads the consultant's calendar incrementally (RFC 6578 sync tokens, or
ctag/etag comparison where the server has none) and writes ghostwatch's
reminders into a calendar of their own, idempotently by UID.

Only `Settings` is imported with the package: the config loader needs it for
every command, the caldav library (~0.2 s to import) only a calendar sync does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from connectors.base import CalendarConnector
from connectors.caldav.settings import Settings

if TYPE_CHECKING:
    from connectors.caldav.calendar import CaldavCalendar
    from connectors.caldav.client import ClientFactory, default_client

__all__ = [
    "CONNECTOR",
    "CaldavCalendar",
    "ClientFactory",
    "Settings",
    "default_client",
    "open_calendar",
]
_LAZY = {
    "CaldavCalendar": "connectors.caldav.calendar",
    "ClientFactory": "connectors.caldav.client",
    "default_client": "connectors.caldav.client",
}


def open_calendar(
    settings: Settings, client_factory: ClientFactory | None = None
) -> CaldavCalendar:
    """The CalendarSource and CalendarSink for `settings`; `.open()` connects early."""
    from connectors.caldav.calendar import CaldavCalendar
    from connectors.caldav.client import default_client

    return CaldavCalendar(settings, client_factory or default_client)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


CONNECTOR = CalendarConnector(settings=Settings, open_calendar=open_calendar)
