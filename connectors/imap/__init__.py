"""IMAP mail source: `Settings` for the config loader, `open_mailbox` for the daemon.

Modules: settings (what the user configures), client (the wire, imapclient
underneath), transport (TLS/STARTTLS/keepalive under the wire), errors
(ConnectionLost, CommandFailed), folders (which folder is Sent/Drafts/...),
cursor (the opaque sync state), sync (one folder's incremental sync), normalize
(FETCH rows -> records), source (ImapMailbox, the MailSource), idle (IMAP IDLE
on a connection of its own, behind `ImapMailbox.wait_for_changes`), drafts
(ImapDrafts, the DraftSink).

Only `Settings` is imported with the package: the config loader needs it for
every command, imapclient and the rest only the commands that reach the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from connectors.base import Capability, MailConnector
from connectors.imap.settings import Settings
from connectors.model import FolderRole

if TYPE_CHECKING:
    from connectors.imap.drafts import ImapDrafts
    from connectors.imap.source import ImapMailbox, SyncStats

_LAZY = {
    "ImapDrafts": "connectors.imap.drafts",
    "ImapMailbox": "connectors.imap.source",
    "SyncStats": "connectors.imap.source",
}


def open_mailbox(settings: Settings) -> ImapMailbox:
    """An ImapMailbox for these settings; connects on first use (or `open()`).

    Raises ConfigProblem when the settings are unusable (e.g. plain text to a
    remote host), before any network traffic.
    """
    from connectors.imap.source import ImapMailbox

    return ImapMailbox(settings)


def open_drafts(settings: Settings) -> ImapDrafts:
    """The DraftSink for these settings; connects on `open()` or first use.

    `open()` raises Unsupported when the account has no Drafts folder (none
    marked \\Drafts, none with a known name, `drafts_folder` not on the server).
    """
    from connectors.imap.drafts import ImapDrafts

    return ImapDrafts(settings)


CONNECTOR = MailConnector(
    settings=Settings,
    open_mailbox=open_mailbox,
    open_drafts=open_drafts,
    capabilities=frozenset({Capability.DRAFTS, Capability.PUSH, Capability.TAGS_WRITE}),
    folder_roles={
        FolderRole.SENT: "set sent_folder",
        FolderRole.DRAFTS: "set drafts_folder",
    },
)

__all__ = [
    "CONNECTOR",
    "ImapDrafts",
    "ImapMailbox",
    "Settings",
    "SyncStats",
    "open_drafts",
    "open_mailbox",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
