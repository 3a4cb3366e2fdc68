"""FETCH rows -> normalized records. Pure: no connection, never raises on bad mail.

Refs have the form ``"<UIDVALIDITY>:<UID>:<folder>"`` (folder decoded, may itself
contain ":"), e.g. ``"1795434903:17:INBOX"``. Embedding UIDVALIDITY means a
folder reset can never make an old ref point at a different message.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timezone
from typing import Any

from connectors.messages import build_message
from connectors.model import FolderRole, MailMessage, Skipped, TagsChanged
from connectors.tags import TAG_PREFIX, normalize_tag

_FLAG_SETS: dict[tuple[Any, ...], tuple[frozenset[str], frozenset[str]]] = {}


def make_ref(uidvalidity: int, uid: int, folder: str) -> str:
    return f"{uidvalidity}:{uid}:{folder}"


def parse_ref(ref: str) -> tuple[int, int, str]:
    """(uidvalidity, uid, folder); ValueError when the ref is not one of ours."""
    uidvalidity, uid, folder = ref.split(":", 2)
    return int(uidvalidity), int(uid), folder


def split_flags(raw: Iterable[Any]) -> tuple[frozenset[str], frozenset[str]]:
    """(gw:* tags lower-cased, every other flag/keyword as sent). \\Recent is dropped:
    it changes without anybody doing anything."""
    if type(raw) is tuple:
        # A mailbox has few distinct flag sets (FETCH hands them over as tuples).
        known = _FLAG_SETS.get(raw)
        if known is None:
            if len(_FLAG_SETS) >= 1024:
                _FLAG_SETS.clear()
            known = _FLAG_SETS[raw] = _split_flags(raw)
        return known
    return _split_flags(raw)


def _split_flags(raw: Iterable[Any]) -> tuple[frozenset[str], frozenset[str]]:
    tags: set[str] = set()
    flags: set[str] = set()
    for item in raw:
        text = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
        if text.lower().startswith(TAG_PREFIX):
            tag = normalize_tag(text)  # a company keeps its case: "gw:company:ACME"
            if tag is not None:
                tags.add(tag)
        elif text.lower() != "\\recent":
            flags.add(text)
    return frozenset(tags), frozenset(flags)


def flag_key(raw: Iterable[Any]) -> str:
    """A stable text for one message's flag set (cursor diff without CONDSTORE)."""
    tags, flags = split_flags(raw)
    return " ".join(sorted(tags | flags))


def tags_changed(ref: str, folder: str, raw_flags: Iterable[Any]) -> TagsChanged:
    tags, flags = split_flags(raw_flags)
    return TagsChanged(ref=ref, folder=folder, tags=tags, flags=flags)


def header_block(row: dict[bytes, Any]) -> bytes | None:
    for key, value in row.items():
        # Both FETCH parsers hand over item names in capitals.
        if key.startswith(b"BODY[HEADER"):
            if value is None:
                return b""
            return value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")
    return None


def to_message(
    row: dict[bytes, Any],
    *,
    uid: int,
    uidvalidity: int,
    folder: str,
    role: FolderRole,
) -> MailMessage | Skipped:
    ref = make_ref(uidvalidity, uid, folder)
    try:
        return _build(row, ref=ref, folder=folder, role=role)
    except Exception as exc:  # one bad message must not cost the batch
        return Skipped(ref=ref, folder=folder, reason=f"cannot normalize: {type(exc).__name__}")


def _build(
    row: dict[bytes, Any], *, ref: str, folder: str, role: FolderRole
) -> MailMessage | Skipped:
    raw = header_block(row)
    if raw is None:
        return Skipped(ref=ref, folder=folder, reason="the server returned no header block")
    tags, flags = split_flags(row.get(b"FLAGS") or ())
    received = row.get(b"INTERNALDATE")
    problems: tuple[str, ...] = ()
    if not isinstance(received, datetime):
        received = None
        problems = ("no INTERNALDATE",)
    elif type(received.tzinfo) is not timezone:
        # imapclient's parser attaches its own FixedOffset (fetchparse does not, unless
        # it fell back to imapclient); the model carries no library types.
        offset = received.utcoffset()
        received = received.replace(tzinfo=UTC if offset is None else timezone(offset))
    thread = row.get(b"X-GM-THRID")
    size = row.get(b"RFC822.SIZE")
    # The FETCH asked for the wanted fields only; tags are keywords, not a header.
    return build_message(
        raw,
        ref=ref,
        folder=folder,
        role=role,
        received=received,
        flags=flags,
        tags=tags,
        header_tags=False,
        size=size if isinstance(size, int) else None,
        provider_thread_id=str(thread) if thread is not None else None,
        problems=problems,
    )
