"""IMAP mail source: `Settings` for the config loader, `open_mailbox` for the daemon.

Modules: settings (what the user configures), client (the wire, imapclient
underneath), folders (which folder is Sent/Drafts/...), cursor (the opaque sync
state), sync (one folder's incremental sync), normalize (FETCH rows -> records),
source (ImapMailbox, the MailSource).
"""

from __future__ import annotations

from connectors.imap.settings import Settings
from connectors.imap.source import ImapMailbox, SyncStats


def open_mailbox(settings: Settings) -> ImapMailbox:
    """An ImapMailbox for these settings; connects on first use (or `open()`).

    Raises ConfigProblem when the settings are unusable (e.g. plain text to a
    remote host), before any network traffic.
    """
    return ImapMailbox(settings)


__all__ = ["ImapMailbox", "Settings", "SyncStats", "open_mailbox"]
