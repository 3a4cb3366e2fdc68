"""Header parsing shared by every connector that sees raw RFC 5322 bytes.

Real mail is messy: raw 8-bit GBK subjects, RFC 2047 words in charsets Python
does not know by their label, missing Message-IDs, 1 MB headers. Nothing here
raises; what had to be repaired is listed in `problems` for `explain`.
"""

from __future__ import annotations

import codecs
import email.header
import email.utils
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.model import Address

MAX_HEADER_VALUE = 16_384  # longer values are cut: nobody's subject needs more
_MSGID = re.compile(r"<([^<>\s]+)>")
_TAG_SPLIT = re.compile(r"[\s,;]+")

# Labels mail software uses that Python's codec registry spells differently or
# that are supersets in practice (a "gb2312" label usually means GBK bytes).
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "x-mac-chinesesimp": "gb18030",
    "big5": "big5hkscs",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
}


@dataclass(frozen=True, slots=True)
class ParsedHeaders:
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None
    tags: frozenset[str]
    problems: tuple[str, ...]


def codec_for(charset: str | None) -> str:
    """A Python codec name for a MIME charset label, utf-8 when unknown."""
    label = (charset or "utf-8").strip().strip('"').lower()
    label = _CHARSET_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return "utf-8"


def decode_bytes(raw: bytes, charset: str | None = None) -> str:
    """Bytes of unknown provenance to text: declared charset, UTF-8, then GB18030."""
    for codec in (codec_for(charset) if charset else None, "utf-8", "gb18030"):
        if codec is None:
            continue
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def decode_words(value: str) -> str:
    """Undo RFC 2047 encoded-words, tolerating unknown charsets and bad padding."""
    if "=?" not in value:
        return _unfold(value)
    try:
        parts = email.header.decode_header(value)
    except (ValueError, email.errors.HeaderParseError):  # type: ignore[attr-defined]
        return _unfold(value)
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset))
        else:
            out.append(chunk)
    return _unfold("".join(out))


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]*", " ", value).strip()


def split_header_block(raw: bytes) -> dict[str, list[str]]:
    """Header name (lower case) -> raw values as text, in order of appearance."""
    text = decode_bytes(raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0])
    fields: dict[str, list[str]] = {}
    name: str | None = None
    buf: list[str] = []

    def flush() -> None:
        if name is not None:
            fields.setdefault(name, []).append("".join(buf)[:MAX_HEADER_VALUE])

    for line in text.splitlines():
        if line[:1] in (" ", "\t") and name is not None:
            if sum(len(b) for b in buf) < MAX_HEADER_VALUE:
                buf.append(" " + line.strip())
            continue
        if line.startswith("From ") and name is None and not fields:
            continue  # mbox separator line
        flush()
        head, sep, rest = line.partition(":")
        if not sep or not head or " " in head.strip():
            name = None
            buf = []
            continue
        name = head.strip().lower()
        buf = [rest.strip()]
    flush()
    return fields


def parse_addresses(values: list[str]) -> tuple[Address, ...]:
    result: list[Address] = []
    for name, addr in email.utils.getaddresses([decode_words(v) for v in values]):
        addr = addr.strip()
        if "@" not in addr:
            continue
        result.append(Address(addr=addr, name=clean_text(name)))
    return tuple(result)


def clean_text(value: str) -> str:
    """Text safe to show and to reuse in a header: no control characters."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", value).strip()


def parse_msgids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(_MSGID.findall(value))


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # RFC 5322 "-0000": time is UTC, zone unknown
    return parsed


def parse_tags(values: list[str]) -> frozenset[str]:
    tags = set()
    for value in values:
        for token in _TAG_SPLIT.split(value):
            token = token.strip().lower()
            if token.startswith("gw:"):
                tags.add(token)
    return frozenset(tags)


def parse_header_block(raw: bytes) -> ParsedHeaders:
    """Parse the header block of a message (or the whole message); never raises."""
    fields = split_header_block(raw)
    problems: list[str] = []

    def first(name: str) -> str | None:
        values = fields.get(name)
        return values[0] if values else None

    ids = parse_msgids(first("message-id"))
    message_id = ids[0] if ids else None
    if message_id is None:
        problems.append("no Message-ID")
    raw_date = first("date")
    date = parse_date(raw_date)
    if date is None:
        problems.append("no Date" if raw_date is None else f"unparsable Date {raw_date[:60]!r}")
    in_reply = parse_msgids(first("in-reply-to"))
    senders = parse_addresses(fields.get("from", []))
    if not senders:
        problems.append("no usable From")
    return ParsedHeaders(
        message_id=message_id,
        in_reply_to=in_reply[0] if in_reply else None,
        references=parse_msgids(" ".join(fields.get("references", []))),
        subject=clean_text(decode_words(first("subject") or "")),
        sender=senders[0] if senders else None,
        to=parse_addresses(fields.get("to", [])),
        cc=parse_addresses(fields.get("cc", [])),
        date=date,
        tags=parse_tags(fields.get("x-ghostwatch-tags", [])),
        problems=tuple(problems),
    )
