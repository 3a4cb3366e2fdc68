"""Connectors: the edges of ghostwatch that speak to mailboxes and calendars.

The registries map a config `type` to the package that implements it; packages
are imported lazily so a Maildir user never needs imapclient or Google's
client. Each package declares itself as `CONNECTOR` (see connectors/base.py,
which states the whole contract).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from connectors.base import CalendarConnector, MailConnector

MAIL_CONNECTORS: dict[str, str] = {
    "imap": "connectors.imap",
    "maildir": "connectors.maildir",
}

CALENDAR_CONNECTORS: dict[str, str] = {
    "caldav": "connectors.caldav",
    "vdir": "connectors.vdir",
}


def load(kind: str, registry: dict[str, str]) -> ModuleType:
    try:
        return importlib.import_module(registry[kind])
    except KeyError:
        raise KeyError(
            f"unknown connector type {kind!r}; known: {', '.join(sorted(registry))}"
        ) from None


def declared(kind: str, registry: dict[str, str]) -> MailConnector | CalendarConnector:
    """The `CONNECTOR` entry of a registered package; TypeError when it has none."""
    module = load(kind, registry)
    entry = getattr(module, "CONNECTOR", None)
    if not isinstance(entry, MailConnector | CalendarConnector):
        raise TypeError(f"{module.__name__} declares no CONNECTOR (a bug in the connector)")
    return entry


def mail_connector(kind: str) -> MailConnector:
    entry = declared(kind, MAIL_CONNECTORS)
    if not isinstance(entry, MailConnector):
        raise TypeError(f"connector {kind!r} is not a mail connector")
    return entry


def calendar_connector(kind: str) -> CalendarConnector:
    entry = declared(kind, CALENDAR_CONNECTORS)
    if not isinstance(entry, CalendarConnector):
        raise TypeError(f"connector {kind!r} is not a calendar connector")
    return entry
