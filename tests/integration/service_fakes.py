"""Connector modules for in-process daemon tests, registered by type name.

`pushdir`: a Maildir whose source can wait for changes, like IMAP IDLE; the
test pushes by putting onto PUSHES. `boom`: a Maildir whose fetch hits a bug
whose message quotes mail text.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

from connectors.base import Capability, MailConnector
from connectors.maildir import MaildirSource, Settings, open_drafts

__all__ = ["CONNECTOR", "PUSHES", "Settings", "open_drafts", "open_mailbox"]

PUSHES: queue.SimpleQueue[bool] = queue.SimpleQueue()
SECRET_TEXT = "王芳您好，offer 细节如下"


class PushSource(MaildirSource):
    def wait_for_changes(self, timeout: float) -> bool:
        try:
            return PUSHES.get(timeout=min(timeout, 0.2))
        except queue.Empty:
            return False


class BoomSource(MaildirSource):
    def fetch_changes(self, cursor: str | None, **kw: Any) -> Iterator[Any]:
        raise RuntimeError(SECRET_TEXT)


def open_mailbox(settings: Settings) -> MaildirSource:
    if settings.path.endswith("boom"):
        return BoomSource(settings)
    return PushSource(settings)


CONNECTOR = MailConnector(
    settings=Settings,
    open_mailbox=open_mailbox,
    open_drafts=open_drafts,
    capabilities=frozenset({Capability.DRAFTS, Capability.PUSH}),
)
