"""What a Maildir account is configured with."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

Layout = Literal["auto", "maildir++", "verbatim"]


@dataclass(frozen=True, slots=True)
class Settings:
    """A Maildir tree as written by mbsync, offlineimap, mutt or Dovecot.

    `layout`: "maildir++" has INBOX at the root and `.Sent`, `.Sub.Folder`
    beside it; "verbatim" has `INBOX/`, `Sent/`, `Sub/Folder/` (mbsync
    "SubFolders Verbatim"); "auto" picks one by looking at the root.
    `folders`: the inbound folders to watch; None means every folder except
    Sent, Drafts, Trash and Junk (Sent and Drafts are always watched).
    `batch_size`: messages per ChangeBatch (the daemon commits each batch).
    """

    path: str
    layout: Layout = "auto"
    folders: tuple[str, ...] | None = None
    sent_folder: str | None = None
    drafts_folder: str | None = None
    batch_size: int = 500

    @property
    def root(self) -> str:
        return os.path.abspath(os.path.expanduser(self.path))
