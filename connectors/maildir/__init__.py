"""Maildir connector: the embedded backend for tests and `ghostwatch demo`, and
for users whose mail already lives in an mbsync / offlineimap / mutt Maildir.

Tags (SPEC §4) are read from the `X-Ghostwatch-Tags` header; flags from the
file name's info part, reported with IMAP names (`\\Seen`, `\\Answered`...).
"""

from __future__ import annotations

from connectors.base import Capability, MailConnector
from connectors.maildir.drafts import MaildirDrafts
from connectors.maildir.settings import Settings
from connectors.maildir.source import MaildirSource
from connectors.model import FolderRole

__all__ = ["CONNECTOR", "MaildirDrafts", "MaildirSource", "Settings", "open_drafts", "open_mailbox"]


def open_mailbox(settings: Settings) -> MaildirSource:
    """The MailSource for `settings`; call `.open()` to validate the tree."""
    return MaildirSource(settings)


def open_drafts(settings: Settings) -> MaildirDrafts:
    return MaildirDrafts(settings)


CONNECTOR = MailConnector(
    settings=Settings,
    open_mailbox=open_mailbox,
    open_drafts=open_drafts,
    capabilities=frozenset({Capability.DRAFTS}),
    folder_roles={
        FolderRole.SENT: "set sent_folder",
        FolderRole.DRAFTS: "set drafts_folder",
    },
)
