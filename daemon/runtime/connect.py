"""An account's draft sink and calendar, opened for the length of a `with` block.

None when the account has none (no calendar configured, or a mail connector that
declares no drafts), so callers branch on what is there, not on connector types.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import connectors
from connectors.base import CalendarSource, Capability, DraftSink
from daemon.config.settings import AccountConfig


@contextlib.contextmanager
def calendar_of(account: AccountConfig) -> Iterator[CalendarSource | None]:
    """The account's calendar connector, opened; None without one."""
    cfg = account.calendar
    if cfg is None or cfg.type not in connectors.CALENDAR_CONNECTORS:
        yield None
        return
    cal = connectors.calendar_connector(cfg.type).open_calendar(cfg.settings)
    cal.open()
    try:
        yield cal
    finally:
        cal.close()


@contextlib.contextmanager
def draft_sink(account: AccountConfig) -> Iterator[DraftSink | None]:
    """The account's DraftSink, opened; None when its connector declares no drafts."""
    entry = connectors.mail_connector(account.mail.type)
    if entry.open_drafts is None or not entry.can(Capability.DRAFTS):
        yield None
        return
    sink = entry.open_drafts(account.mail.settings)
    sink.open()
    try:
        yield sink
    finally:
        sink.close()
