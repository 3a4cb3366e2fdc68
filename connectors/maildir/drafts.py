"""DraftSink over the Maildir Drafts folder, idempotent by X-Ghostwatch-Key.

A draft's ref is `<folder>/<unique name>`, the same ref MaildirSource reports
for it, so the daemon sees its own draft come and go in the Drafts folder.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from connectors.base import DraftState
from connectors.compose import build_draft, content_hash
from connectors.errors import Permanent, Unsupported
from connectors.header_split import split_header_block
from connectors.maildir.files import find_file, list_messages, read_header_block, write_message
from connectors.maildir.layout import MaildirFolder, create_folder
from connectors.maildir.settings import Settings
from connectors.maildir.source import resolve_folders
from connectors.model import DraftRef, DraftSpec, FolderRole

MAX_DRAFT_BYTES = 10 << 20  # drafts are ours and small; a bigger file is not one of them
DRAFT_LETTERS = "DS"  # \Draft and \Seen: what mail clients set on saved drafts


class MaildirDrafts:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _folder(self, *, create: bool = False) -> MaildirFolder | None:
        drafts = [f for f in resolve_folders(self.settings) if f.role is FolderRole.DRAFTS]
        if drafts:
            return drafts[0]
        if not create:
            return None
        name = self.settings.drafts_folder or "Drafts"
        if not os.path.isdir(self.settings.root):
            raise Unsupported(f"maildir path {self.settings.root} is not a directory")
        path = create_folder(self.settings.root, self.settings.layout, name)
        return MaildirFolder(name, path, FolderRole.DRAFTS)

    def _drafts(self, folder: MaildirFolder) -> Iterator[tuple[str, str, str]]:
        """(unique name, path, key) of every draft in the folder that carries a key."""
        for unique, (sub, filename) in sorted(list_messages(folder.path).items()):
            path = os.path.join(folder.path, sub, filename)
            try:
                block, _ = read_header_block(path, limit=64 << 10)
            except OSError:
                continue  # vanished or unreadable: not a draft we can vouch for
            keys = split_header_block(block).get("x-ghostwatch-key")
            if keys and keys[0].strip():
                yield unique, path, keys[0].strip()

    def _ref(self, folder: MaildirFolder, unique: str, key: str, path: str) -> DraftRef | None:
        digest = _hash_file(path)
        return None if digest is None else DraftRef(key, f"{folder.name}/{unique}", digest)

    def open(self) -> None:
        """Nothing to connect: the Drafts folder is found (or made) on first write."""

    def close(self) -> None:
        """Nothing to release."""

    def find_draft(self, key: str) -> DraftRef | None:
        folder = self._folder()
        if folder is None:
            return None
        for unique, path, found in self._drafts(folder):
            if found == key:
                ref = self._ref(folder, unique, key, path)
                if ref is not None:
                    return ref
        return None

    def create_draft(self, spec: DraftSpec) -> DraftRef:
        folder = self._folder(create=True)
        assert folder is not None
        with _locked(folder):
            existing = self.find_draft(spec.key)
            if existing is not None:
                return existing
            data = build_draft(spec)
            try:
                path = write_message(folder.path, data, letters=DRAFT_LETTERS)
            except OSError as exc:
                raise Permanent(f"could not write draft to {folder.name}: {exc.strerror}") from exc
        unique = os.path.basename(path).split(":", 1)[0]
        return DraftRef(spec.key, f"{folder.name}/{unique}", content_hash(data))

    def _locate(self, ref: DraftRef) -> str | None:
        """The draft's file: at its ref, or moved under a new name with the same key."""
        folder = self._folder()
        if folder is None:
            return None
        name, _, unique = ref.ref.rpartition("/")
        if name == folder.name:
            path = find_file(folder.path, unique)
            if path is not None:
                return path
        for _, path, key in self._drafts(folder):
            if key == ref.key:
                return path
        return None

    def draft_state(self, ref: DraftRef) -> DraftState:
        path = self._locate(ref)
        digest = _hash_file(path) if path else None
        if digest is None:
            return "gone"
        return "untouched" if digest == ref.content_hash else "edited"

    def withdraw_draft(self, ref: DraftRef) -> bool:
        path = self._locate(ref)
        if path is None or _hash_file(path) != ref.content_hash:
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True


def _hash_file(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return content_hash(fh.read(MAX_DRAFT_BYTES))
    except OSError:
        return None


@contextmanager
def _locked(folder: MaildirFolder) -> Iterator[None]:
    """Serialize find-then-create between ghostwatch processes sharing the tree."""
    lock_path = os.path.join(folder.path, "tmp", ".ghostwatch-drafts.lock")
    os.makedirs(os.path.dirname(lock_path), exist_ok=True)
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
