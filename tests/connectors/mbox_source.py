"""Example connector: a read-only mail source over a directory of mbox files.

Written from connectors/base.py alone, as a newcomer would: one file per
folder (`inbox`, `sent`, `drafts`... name the role), read whole on every scan,
so it suits archives rather than a live mailbox. Flags come from mutt's
Status / X-Status headers, gw: tags from X-Ghostwatch-Tags. A message is known
by a hash of its bytes without those headers, so a flag or tag change is a
TagsChanged, not a new message. Register it with one registry line:
`connectors.MAIL_CONNECTORS["mbox"] = "tests.connectors.mbox_source"`.
"""

from __future__ import annotations

import hashlib
import json
import mailbox
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar

from connectors.base import Capability, MailConnector, Scope
from connectors.errors import ConfigProblem, CursorExpired
from connectors.headers import ALWAYS_KEEP, parse_header_block
from connectors.messages import build_message, header_block
from connectors.model import (
    Capabilities,
    Change,
    ChangeBatch,
    Folder,
    FolderRole,
    MailMessage,
    MessageGone,
    TagsChanged,
)

_ROLES = {role.value: role for role in FolderRole if role is not FolderRole.OTHER}
_LETTERS = {"R": "\\Seen", "A": "\\Answered", "F": "\\Flagged", "T": "\\Draft", "D": "\\Deleted"}
_MUTABLE = re.compile(rb"^(status|x-status|x-ghostwatch-tags):.*\n(?:[ \t].*\n)*", re.I | re.M)
_NOT_INBOUND = (FolderRole.SENT, FolderRole.DRAFTS, FolderRole.TRASH, FolderRole.JUNK)


@dataclass(frozen=True, slots=True)
class Settings:
    # The directory holding one mbox file per folder; `~` is expanded.
    path: str
    # Changes per ChangeBatch (the daemon commits each batch).
    batch_size: int = 500


class MboxSource:
    kind: ClassVar[str] = "mbox"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = os.path.abspath(os.path.expanduser(settings.path))

    def open(self) -> None:
        if not os.path.isdir(self.root):
            raise ConfigProblem(f"mbox directory {self.root} is not a directory")

    def close(self) -> None:
        """Nothing held open between calls."""

    def capabilities(self) -> Capabilities:
        return Capabilities(frozenset({"fetch_raw", "flags", "tags:header"}))

    def folders(self) -> list[Folder]:
        names = sorted(n for n in os.listdir(self.root) if not n.startswith("."))
        return [Folder(n, _ROLES.get(n.lower(), FolderRole.OTHER)) for n in names]

    def fetch_raw(self, ref: str, *, max_bytes: int) -> bytes | None:
        folder, _, _ = ref.partition("/")
        for found, raw, _ in self._messages(folder):
            if found == ref:
                return raw[: max(0, max_bytes)]
        return None

    def fetch_changes(
        self,
        cursor: str | None,
        *,
        since: datetime,
        header_fields: Sequence[str],
        scope: Scope = "all",
    ) -> Iterator[ChangeBatch]:
        states = _decode(cursor) if cursor else {}
        wanted = frozenset(h.lower() for h in header_fields) | ALWAYS_KEEP
        pending: list[Change] = []
        listed = self.folders()
        for folder in listed:
            if scope == "inbound" and folder.role in _NOT_INBOUND:
                continue
            first = folder.name not in states
            known = states.setdefault(folder.name, {})
            present: set[str] = set()
            for ref, raw, msg in self._messages(folder.name):
                present.add(ref)
                state = _state(msg)
                if ref in known:
                    if known[ref] != state and not known[ref].startswith("hidden"):
                        known[ref] = state
                        pending.append(_tags_changed(ref, folder.name, msg))
                else:
                    change = build_message(
                        header_block(raw), ref=ref, folder=folder.name, role=folder.role,
                        received=_received(msg), wanted=wanted, flags=_flags(msg),
                    )  # fmt: skip
                    when = (
                        change.date or change.received if isinstance(change, MailMessage) else None
                    )
                    hidden = first and when is not None and when < since
                    known[ref] = f"hidden {state}" if hidden else state
                    if not hidden:
                        pending.append(change)
                if len(pending) >= self.settings.batch_size:
                    yield ChangeBatch(tuple(pending), _encode(states))
                    pending = []
            for ref in [r for r in known if r not in present]:
                if not known.pop(ref).startswith("hidden"):
                    pending.append(MessageGone(ref, folder.name))
        if scope == "all":  # a folder file that went away: its messages left
            for name in set(states) - {f.name for f in listed}:
                pending += [MessageGone(r, name) for r, s in states.pop(name).items()
                            if not s.startswith("hidden")]  # fmt: skip
        yield ChangeBatch(tuple(pending), _encode(states))

    def _messages(self, folder: str) -> Iterator[tuple[str, bytes, mailbox.mboxMessage]]:
        """(ref, bytes, message) of each message; a duplicate gets a counter in its ref."""
        path = os.path.join(self.root, folder)
        if not os.path.isfile(path):
            return
        box = mailbox.mbox(path, create=False)
        seen: dict[str, int] = {}
        try:
            for key in box.iterkeys():
                raw = box.get_bytes(key)
                digest = hashlib.sha256(_MUTABLE.sub(b"", raw)).hexdigest()[:20]
                seen[digest] = seen.get(digest, 0) + 1
                yield f"{folder}/{digest}.{seen[digest]}", raw, box[key]
        finally:
            box.close()


def _flags(msg: mailbox.mboxMessage) -> frozenset[str]:
    return frozenset(_LETTERS[c] for c in msg.get_flags() if c in _LETTERS)


def _state(msg: mailbox.mboxMessage) -> str:
    """What may change without the message changing: flags and the tag header."""
    return f"{''.join(sorted(msg.get_flags()))}|{msg.get('X-Ghostwatch-Tags', '')}"


def _tags_changed(ref: str, folder: str, msg: mailbox.mboxMessage) -> TagsChanged:
    tags = parse_header_block(header_block(msg.as_bytes())).tags
    return TagsChanged(ref=ref, folder=folder, tags=tags, flags=_flags(msg))


def _received(msg: mailbox.mboxMessage) -> datetime | None:
    """The date on the From_ line, the mbox's arrival time (UTC by convention)."""
    _, _, when = msg.get_from().partition(" ")
    try:
        stamp = datetime.strptime(" ".join(when.split()), "%a %b %d %H:%M:%S %Y")
        return stamp.replace(tzinfo=UTC)
    except ValueError:
        try:
            return parsedate_to_datetime(when)
        except (TypeError, ValueError):
            return None


def _encode(states: dict[str, dict[str, str]]) -> str:
    return json.dumps({"v": 1, "folders": states}, separators=(",", ":"))


def _decode(cursor: str) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(cursor)
        if data["v"] != 1:
            raise ValueError("version")
        return {str(f): {str(r): str(s) for r, s in k.items()} for f, k in data["folders"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CursorExpired(f"mbox cursor unreadable ({type(exc).__name__})") from None


def open_mailbox(settings: Settings) -> MboxSource:
    return MboxSource(settings)


CONNECTOR = MailConnector(
    settings=Settings,
    open_mailbox=open_mailbox,
    capabilities=frozenset({Capability.READ_ONLY}),
)
