"""Connectors: the edges of ghostwatch that speak to mailboxes and calendars.

The registry maps a config `type` to the module that implements it; modules are
imported lazily so a Maildir user never needs imapclient or Google's client.
Each connector module exposes `Settings` (a frozen dataclass the config loader
validates against) and `open_mailbox(settings)` / `open_calendar(settings)`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

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
