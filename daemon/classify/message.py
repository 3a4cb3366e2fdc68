"""A read-only view of one message's headers, built without the email parser.

Ingest classifies ~100k header blocks per mailbox, so the header view is a
plain dict from `connectors.header_split.split_header_block`; the MIME parser runs
only when a body is really needed (see `body.py`).
"""

from __future__ import annotations

import email.message
import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from connectors.addresses import read_address_list
from connectors.header_split import MAX_HEADER_VALUE, split_header_block
from connectors.header_split import FieldSplitter as HeaderFieldSplitter
from connectors.header_text import clean_text, decode_bytes, decode_words

# Entries per memo of a pure per-header function. Small on purpose: the hits come
# from values a mailbox repeats all the time (newsletter senders, colleagues, a
# campaign's subject), and a bigger memo only adds memory at 100k messages.
MEMO_SIZE = 1024
MAX_RAW = 2 * 1024 * 1024  # bytes we ever look at; enough for a 1 MB header plus a 256 KB body
_PARAM = re.compile(r';\s*([\w.-]+)\s*=\s*"?([^";]*)"?')


@dataclass(frozen=True)
class MailView:
    """Header fields (lower-case name -> raw values) plus the source for the body."""

    fields: dict[str, list[str]]
    raw: bytes | None = None
    parsed: email.message.Message | None = None
    # Set when `fields` holds only these names (FieldSplitter): enough for the header pass.
    only: frozenset[str] | None = None
    _cache: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def has(self, name: str) -> bool:
        return bool(self.fields.get(name.lower()))

    def value(self, name: str) -> str:
        """First value of a header, RFC 2047 decoded and cleaned; "" when absent."""
        found = self._cache.get(name)
        if found is None:
            values = self.fields.get(name.lower())
            found = self._cache[name] = header_text(values[0]) if values else ""
        return found

    def all_values(self, name: str) -> list[str]:
        return [header_text(v) for v in self.fields.get(name.lower(), [])]

    @property
    def subject(self) -> str:
        return self.value("subject")

    def sender(self) -> tuple[str, str]:
        """(display name, lower-case address) of From; ("", "") when missing."""
        return first_address(self.value("from"))

    def content_type(self) -> tuple[str, dict[str, str]]:
        return content_type_of(self.value("content-type"))


def main_type(raw: str) -> str:
    """The type/subtype of a decoded Content-Type value, lower case; text/plain when empty."""
    return raw.split(";", 1)[0].strip().lower() or "text/plain"


def content_type_of(raw: str) -> tuple[str, dict[str, str]]:
    """(main type, lower-case parameters) of a decoded Content-Type value."""
    main = main_type(raw)
    params = {k.lower(): v.strip().lower() for k, v in _PARAM.findall(raw)}
    return main, params


@lru_cache(maxsize=MEMO_SIZE)  # senders and subjects repeat across a mailbox; pure function
def header_text(raw: str) -> str:
    """`clean_text(decode_words(raw))`, skipping the regex passes a plain value does not need."""
    # Without a line break, unfolding is only the strip (decode_words' own shortcut).
    text = raw.strip() if "=?" not in raw and "\n" not in raw else decode_words(raw)
    # No control or line-separator character is printable, so there is nothing to replace.
    return text.strip() if text.isprintable() else clean_text(text)


@lru_cache(maxsize=MEMO_SIZE)  # a mailbox repeats its senders; the stdlib parser is slow
def first_address(value: str) -> tuple[str, str]:
    if not value:
        return "", ""
    # The connectors' strict reader: a CR-smuggled or ambiguous From names nobody.
    read = read_address_list([value])
    if read.mailboxes:
        first = read.mailboxes[0]
        return first.name.strip(), first.addr.lower()
    if read.ambiguous is not None:
        return "", ""
    # No addr-spec, nothing ambiguous: "MAILER-DAEMON" or "<postmaster>" still says
    # who sent it, which is all the classifier asks.
    try:
        pairs = email.utils.getaddresses([" ".join(value.split())])
    except (ValueError, IndexError, TypeError):
        return value, ""
    for name, addr in pairs:
        if name or addr:
            return name.strip(), addr.strip().strip("<>").lower()
    return "", ""


def view_of(message: bytes | bytearray | memoryview | str | email.message.Message) -> MailView:
    if isinstance(message, email.message.Message):
        return MailView(fields=_fields_of_message(message), parsed=message)
    if isinstance(message, str):
        message = message.encode("utf-8", "surrogateescape")
    raw = bytes(message[:MAX_RAW])
    return MailView(fields=split_header_block(raw), raw=raw)


class FieldSplitter:
    """Views holding only some header fields: enough for the header-only pass.

    The splitting itself is `connectors.header_split.FieldSplitter` (one regex pass
    over the fields asked for), shared with the connector's own header parsing.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self._splitter = HeaderFieldSplitter(names)
        self.names = self._splitter.names

    def split(self, raw: bytes) -> dict[str, list[str]]:
        """`split_header_block(raw)` with only the wanted names, in the same order."""
        return self._splitter.split(raw)

    def view(self, raw: bytes) -> MailView:
        """`view_of(raw)` holding only the wanted fields (header blocks up to MAX_RAW)."""
        raw = bytes(raw[:MAX_RAW])
        return MailView(fields=self.split(raw), raw=raw, only=self.names)


def _fields_of_message(msg: email.message.Message) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for name, value in msg.items():
        fields.setdefault(str(name).strip().lower(), []).append(_header_text(value))
    return fields


def _header_text(value: object) -> str:
    text = str(value)
    # compat32 keeps raw 8-bit header bytes as surrogates: recover the bytes and
    # decode them the way the byte path does (UTF-8, then GB18030).
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        text = decode_bytes(text.encode("utf-8", "surrogateescape"))
    return text[:MAX_HEADER_VALUE]
