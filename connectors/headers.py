"""Header parsing shared by every connector that sees raw RFC 5322 bytes.

Real mail is messy: raw 8-bit GBK subjects, RFC 2047 words in charsets Python
does not know by their label, missing Message-IDs, 1 MB headers. Nothing here
raises; what had to be repaired is listed in `problems` for `explain`.
"""

from __future__ import annotations

import binascii
import codecs
import email.utils
import quopri
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.model import Address

# The fields every connector keeps in MailMessage.headers, whatever else the daemon
# asks for: threading and ghostwatch's own markers depend on them.
ALWAYS_KEEP = frozenset(
    {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "x-ghostwatch-tags",
        "x-ghostwatch-key",
    }
)
MAX_HEADER_VALUE = 16_384  # longer values are cut: nobody's subject needs more
_MSGID = re.compile(r"<([^<>\s]+)>")
_SIMPLE_MAILBOX = re.compile(
    r'\s*(?:([^"(),;:\\<>@\[\]]*?)\s*<([^<>\s"(),;:@]+@[^<>\s"(),;:@]+)>|([^<>\s"(),;:@]+@[^<>\s"(),;:@]+))\s*'
)
_BARE_MSGID = re.compile(r"[^<>\s@]+@[^<>\s@]+")
_TAG_SPLIT = re.compile(r"[\s,;]+")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")

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
    """Undo RFC 2047 encoded-words, tolerating unknown charsets and bad padding.

    Hand-written rather than email.header.decode_header, which re-encodes the
    plain text between encoded words as raw-unicode-escape ("李雷" became
    "\\u674e\\u96f7"). Adjacent words in one charset are joined before
    decoding because some encoders split a multi-byte character across two.
    """
    if "=?" not in value:
        return _unfold(value)
    parts: list[tuple[str | None, bytes | str]] = []  # (charset, bytes) or (None, text)
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        text, payload = value[pos : match.start()], _word_bytes(match)
        pos = match.end()
        if payload is None:  # not decodable: keep the word as it stands
            parts.append((None, text + match.group(0)))
            continue
        after_word = bool(parts) and parts[-1][0] is not None
        if text and not (after_word and text.isspace()):
            parts.append((None, text))
        charset = match.group(1).split("*", 1)[0].lower()  # RFC 2231 "utf-8*en"
        if parts and parts[-1][0] == charset:
            parts[-1] = (charset, parts[-1][1] + payload)  # type: ignore[operator]
        else:
            parts.append((charset, payload))
    parts.append((None, value[pos:]))
    out = [decode_bytes(p, c) if isinstance(p, bytes) else p for c, p in parts]
    return _unfold("".join(out))


def _word_bytes(match: re.Match[str]) -> bytes | None:
    encoding, text = match.group(2).lower(), match.group(3)
    try:
        if encoding == "b":
            return binascii.a2b_base64(text + "=" * (-len(text) % 4))
        return quopri.decodestring(text.replace("_", " ").encode("ascii"), header=False)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]*", " ", value).strip()


def split_header_block(raw: bytes) -> dict[str, list[str]]:
    """Header name (lower case) -> raw values as text, in order of appearance.

    Lines are split on LF only (never on NEL or U+2028, which would let a
    value smuggle in a header of its own), and each field is decoded on its
    own so one GBK header does not garble a UTF-8 neighbour.
    """
    block = _header_bytes(raw)
    fields: dict[str, list[str]] = {}
    name: str | None = None
    buf: list[bytes] = []
    size = 0

    def flush() -> None:
        if name is not None:
            value = decode_bytes(b" ".join(buf))[:MAX_HEADER_VALUE]
            fields.setdefault(name, []).append(value)

    for number, line in enumerate(block.split(b"\n")):
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if name is not None and size < MAX_HEADER_VALUE:
                buf.append(line.strip())
                size += len(line)
            continue
        if number == 0 and line.startswith(b"From "):
            continue  # mbox separator line
        flush()
        head, sep, rest = line.partition(b":")
        head = head.strip()
        if not sep or not head or b" " in head or b"\t" in head:
            name, buf = None, []
            continue
        name = head.decode("ascii", "replace").lower()
        buf = [rest.strip()]
        size = len(rest)
    flush()
    return fields


def _header_bytes(raw: bytes) -> bytes:
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return raw[: min(ends)] if ends else raw


def parse_addresses(values: list[str]) -> tuple[Address, ...]:
    # Split first, decode names after: an encoded name may hide a comma
    # ("=?utf-8?q?Wang=2C_Fang?=") that must not split the list.
    result: list[Address] = []
    simple = [_SIMPLE_MAILBOX.fullmatch(v) for v in values]
    if all(simple):  # the common single "Name <addr>": skip the slow stdlib parser
        pairs = [(m.group(1) or "", m.group(2) or m.group(3)) for m in simple if m]
    else:
        pairs = email.utils.getaddresses(values)
    for name, addr in pairs:
        addr = addr.strip()
        if "@" not in addr or any(c.isspace() for c in addr):
            continue  # no usable mailbox ("Na.me w@x.org" is not one address)
        result.append(Address(addr=addr, name=clean_text(decode_words(name))))
    return tuple(result)


def clean_text(value: str) -> str:
    """Text safe to show and to reuse in a header: no control characters."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", value).strip()


def parse_msgids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(_MSGID.findall(value))


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
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

    raw_id = first("message-id")
    ids = parse_msgids(raw_id)
    message_id = ids[0] if ids else None
    if message_id is None and raw_id and _BARE_MSGID.fullmatch(raw_id.strip()):
        message_id = raw_id.strip()  # some mailers forget the angle brackets
        problems.append("Message-ID without angle brackets")
    elif message_id is None:
        problems.append("no Message-ID" if not raw_id else "unparsable Message-ID")
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
