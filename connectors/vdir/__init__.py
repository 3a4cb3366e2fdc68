"""vdir calendar connector: a directory of `.ics` files, as khal and vdirsyncer keep them.

For users who already sync their calendar with vdirsyncer, and for
`ghostwatch demo` (an on-disk calendar without a server).
"""

from __future__ import annotations

from connectors.base import CalendarConnector
from connectors.vdir.calendar import VdirCalendar
from connectors.vdir.settings import Settings

__all__ = ["CONNECTOR", "Settings", "VdirCalendar", "open_calendar"]


def open_calendar(settings: Settings) -> VdirCalendar:
    """The CalendarSource and CalendarSink for `settings`; `.open()` checks it early."""
    return VdirCalendar(settings)


CONNECTOR = CalendarConnector(settings=Settings, open_calendar=open_calendar)
