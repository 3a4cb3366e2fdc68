"""The Maildir connector against the contract suites, plus what only Maildir has."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.compose import content_hash
from connectors.errors import ConfigProblem, CursorExpired
from connectors.headers import parse_header_block
from connectors.maildir import MaildirDrafts, MaildirSource, Settings, open_drafts, open_mailbox
from connectors.maildir import source as source_module
from connectors.maildir.files import letters_for, list_messages, split_name, write_message
from connectors.maildir.layout import create_folder
from connectors.model import DraftRef, FolderRole, MailMessage, MessageGone, TagsChanged
from tests.contract.draft_sink_suite import DraftSinkContract, make_spec
from tests.contract.mail_source_suite import MailSourceContract, by_id, make_raw, scan

_ROLE_DIRS = {"inbox": "INBOX", "sent": "Sent", "drafts": "Drafts", "trash": "Trash"}


class MaildirHarness:
    """Writes the tree the way mbsync/Dovecot do: tmp/ then rename, flags in the name."""

    def __init__(self, root: Path, layout: str) -> None:
        self.root = root
        self.layout = layout
        self.paths = {
            role: create_folder(str(root), layout, name) if name != "INBOX" or layout != "maildir++"
            else _make_root_inbox(root)
            for role, name in _ROLE_DIRS.items()
        }

    def settings(self, **kw: object) -> Settings:
        return Settings(path=str(self.root), **kw)  # type: ignore[arg-type]

    def open_source(self, *, batch_size: int = 500) -> MaildirSource:
        src = open_mailbox(self.settings(batch_size=batch_size))
        src.open()
        return src

    def deliver(
        self,
        folder: str,
        raw: bytes,
        *,
        flags: Iterable[str] = (),
        tags: Iterable[str] = (),
        received: datetime | None = None,
    ) -> None:
        tags = list(tags)
        if tags:
            raw = _with_tags(raw, tags)
        flags = list(flags)
        path = write_message(self.paths[folder], raw, letters=letters_for(flags) if flags else None)
        if received is not None:
            os.utime(path, (received.timestamp(), received.timestamp()))

    def path_of(self, folder: str, message_id: str) -> str:
        base = self.paths[folder]
        for sub, filename in list_messages(base).values():
            path = os.path.join(base, sub, filename)
            with open(path, "rb") as fh:
                if parse_header_block(fh.read()).message_id == message_id:
                    return path
        raise LookupError(message_id)

    def remove(self, folder: str, message_id: str) -> None:
        os.unlink(self.path_of(folder, message_id))

    def set_tags(self, folder: str, message_id: str, tags: Iterable[str]) -> None:
        path = self.path_of(folder, message_id)
        with open(path, "rb") as fh:
            raw = _with_tags(fh.read(), list(tags))
        tmp = os.path.join(self.paths[folder], "tmp", "retag")
        with open(tmp, "wb") as fh:
            fh.write(raw)
        os.rename(tmp, path)  # same name, new content: how a header edit lands

    def set_flags(self, folder: str, message_id: str, flags: Iterable[str]) -> None:
        path = self.path_of(folder, message_id)
        unique, _ = split_name(os.path.basename(path))
        target = os.path.join(self.paths[folder], "cur", f"{unique}:2,{letters_for(flags)}")
        os.rename(path, target)

    # -- draft hooks --

    def open_sink(self) -> MaildirDrafts:
        return open_drafts(self.settings())

    def _draft_path(self, ref: DraftRef) -> str:
        unique = ref.ref.rpartition("/")[2]
        for sub, filename in list_messages(self.paths["drafts"]).values():
            if split_name(filename)[0] == unique:
                return os.path.join(self.paths["drafts"], sub, filename)
        raise LookupError(ref.ref)

    def edit_draft(self, ref: DraftRef, body: str) -> None:
        # mutt and most clients save an edited draft as a new file, then drop the old one
        old = self._draft_path(ref)
        with open(old, "rb") as fh:
            head = fh.read().split(b"\r\n\r\n", 1)[0]
        write_message(self.paths["drafts"], head + b"\r\n\r\n" + body.encode(), letters="DS")
        os.unlink(old)

    def delete_draft(self, ref: DraftRef) -> None:
        os.unlink(self._draft_path(ref))

    def count_drafts(self) -> int:
        return len(list_messages(self.paths["drafts"]))


def _make_root_inbox(root: Path) -> str:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return str(root)


def _with_tags(raw: bytes, tags: list[str]) -> bytes:
    stripped = re.sub(rb"(?im)^X-Ghostwatch-Tags:.*\r?\n", b"", raw)
    return b"X-Ghostwatch-Tags: " + " ".join(tags).encode() + b"\r\n" + stripped


@pytest.fixture(params=["maildir++", "verbatim"])
def maildir(request: pytest.FixtureRequest, tmp_path: Path) -> MaildirHarness:
    return MaildirHarness(tmp_path / "Mail", request.param)


class TestMaildirSource(MailSourceContract):
    @pytest.fixture
    def harness(self, maildir: MaildirHarness) -> MaildirHarness:
        return maildir


class TestMaildirDrafts(DraftSinkContract):
    @pytest.fixture
    def harness(self, maildir: MaildirHarness) -> MaildirHarness:
        return maildir
