"""In-memory fake of a draft sink, writing into a MemoryMailbox's Drafts folder,
for unit tests of the daemon: drafts are found by key and withdrawn only
untouched; `edit_draft`, `delete_draft` and `send_draft` act as the user.
"""

from __future__ import annotations

from collections.abc import Iterator

from connectors.base import DraftState
from connectors.compose import build_draft, content_hash
from connectors.header_split import split_header_block
from connectors.memory import MemoryMailbox, StoredMessage
from connectors.model import (
    DraftRef,
    DraftSpec,
)


class MemoryDrafts:
    """DraftSink fake writing into a MemoryMailbox's Drafts folder."""

    def __init__(self, mailbox: MemoryMailbox | None = None) -> None:
        self.mailbox = mailbox or MemoryMailbox()
        self.created: list[DraftSpec] = []  # every spec actually written, for assertions

    def open(self) -> None:
        """Nothing to connect."""

    def close(self) -> None:
        """Nothing to release."""

    def _drafts(self) -> Iterator[StoredMessage]:
        drafts = self.mailbox.folder("drafts").name
        yield from (m for m in self.mailbox._messages.values() if m.folder.name == drafts)

    def find_draft(self, key: str) -> DraftRef | None:
        for m in self._drafts():
            keys = split_header_block(m.raw).get("x-ghostwatch-key")
            if keys and keys[0].strip() == key:
                return DraftRef(key, m.ref, content_hash(m.raw))
        return None

    def create_draft(self, spec: DraftSpec) -> DraftRef:
        existing = self.find_draft(spec.key)
        if existing is not None:
            return existing
        raw = build_draft(spec)
        ref = self.mailbox.deliver("drafts", raw, flags=("\\Draft", "\\Seen"))
        self.created.append(spec)
        return DraftRef(spec.key, ref, content_hash(raw))

    def _current(self, ref: DraftRef) -> StoredMessage | None:
        stored = self.mailbox._messages.get(ref.ref)
        if stored is not None:
            return stored
        found = self.find_draft(ref.key)
        return self.mailbox._messages.get(found.ref) if found else None

    def draft_state(self, ref: DraftRef) -> DraftState:
        stored = self._current(ref)
        if stored is None:
            return "gone"
        return "untouched" if content_hash(stored.raw) == ref.content_hash else "edited"

    def withdraw_draft(self, ref: DraftRef) -> bool:
        stored = self._current(ref)
        if stored is None or content_hash(stored.raw) != ref.content_hash:
            return False
        self.mailbox.remove_ref(stored.ref)
        return True

    # -- user actions --

    def edit_draft(self, ref: DraftRef, body: str) -> None:
        """The user edits and saves: a new message replaces the old (new ref)."""
        stored = self._current(ref)
        if stored is None:
            raise KeyError(ref.ref)
        head = stored.raw.split(b"\r\n\r\n", 1)[0]
        self.mailbox.remove_ref(stored.ref)
        self.mailbox.deliver("drafts", head + b"\r\n\r\n" + body.encode(), flags=stored.flags)

    def delete_draft(self, ref: DraftRef) -> None:
        stored = self._current(ref)
        if stored is not None:
            self.mailbox.remove_ref(stored.ref)

    def send_draft(self, ref: DraftRef) -> str:
        """The user sends it: the draft leaves Drafts and a copy lands in Sent."""
        stored = self._current(ref)
        if stored is None:
            raise KeyError(ref.ref)
        self.mailbox.remove_ref(stored.ref)
        return self.mailbox.deliver("sent", stored.raw, flags=("\\Seen",))
