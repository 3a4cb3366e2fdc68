"""A read-only view of one message's headers, built without the email parser.

Ingest classifies ~100k header blocks per mailbox, so the header view is a
plain dict from `connectors.headers.split_header_block`; the MIME parser runs
only when a body is really needed (see `body.py`).
"""

from __future__ import annotations

import email.message
import email.utils
import re
from dataclasses import dataclass, field

from connectors.headers import (
    MAX_HEADER_VALUE,
    clean_text,
    decode_bytes,
    decode_words,
    split_header_block,
)

MAX_RAW = 2 * 1024 * 1024  # bytes we ever look at; enough for a 1 MB header plus a 256 KB body
_PARAM = re.compile(r';\s*([\w.-]+)\s*=\s*"?([^";]*)"?')


@dataclass(frozen=True)
class MailView:
    """Header fields (lower-case name -> raw values) plus the source for the body."""

    fields: dict[str, list[str]]
    raw: bytes | None = None
    parsed: email.message.Message | None = None
    _cache: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def has(self, name: str) -> bool:
        return bool(self.fields.get(name.lower()))

    def value(self, name: str) -> str:
        """First value of a header, RFC 2047 decoded and cleaned; "" when absent."""
        key = name.lower()
        if key not in self._cache:
            values = self.fields.get(key)
            self._cache[key] = clean_text(decode_words(values[0])) if values else ""
        return self._cache[key]

    def all_values(self, name: str) -> list[str]:
        return [clean_text(decode_words(v)) for v in self.fields.get(name.lower(), [])]

    @property
    def subject(self) -> str:
        return self.value("subject")

    def sender(self) -> tuple[str, str]:
        """(display name, lower-case address) of From; ("", "") when missing."""
        return first_address(self.value("from"))

    def content_type(self) -> tuple[str, dict[str, str]]:
        raw = self.value("content-type")
        main = raw.split(";", 1)[0].strip().lower() or "text/plain"
        params = {k.lower(): v.strip().lower() for k, v in _PARAM.findall(raw)}
        return main, params


def first_address(value: str) -> tuple[str, str]:
    if not value:
        return "", ""
    try:
        pairs = email.utils.getaddresses([value])
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
