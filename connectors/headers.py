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
from datetime import UTC, datetime, timedelta, timezone

from connectors.model import Address
from connectors.tags import split_tag_header

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
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(r"\r?\n[ \t]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACE = re.compile(r"\s")
_ASCII_WS = " \t\n\r\x0b\x0c"  # what bytes.strip() strips; str.strip() strips more
# The common RFC 5322 date, "Fri, 12 Dec 2025 17:30:53 +0800", read without the
# stdlib's general parser; anything else (2-digit years, zone names, comments...)
# still goes to email.utils. A year below 1000 is left to it as well (it maps
# "0099" to 1999).
_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ?)?(\d{1,2}) ([A-Za-z]{3}) ([1-9]\d{3}) "
    r"(\d\d):(\d\d)(?::(\d\d))? ([+-])(\d\d)(\d\d)"
)
_MONTHS = {
    m: i + 1 for i, m in enumerate(re.findall("...", "janfebmaraprmayjunjulaugsepoctnovdec"))
}
_DATE_ZONES: dict[str, timezone] = {}
_CODECS: dict[str | None, str] = {}

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
    known = _CODECS.get(charset)
    if known is not None:
        return known
    if len(_CODECS) > 256:
        _CODECS.clear()  # labels come from mail: do not let them grow the cache forever
    _CODECS[charset] = found = _codec_for(charset)
    return found


def _codec_for(charset: str | None) -> str:
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
    if "\n" not in value:
        return value.strip()
    return _FOLD.sub(" ", value).strip()


def split_header_block(raw: bytes) -> dict[str, list[str]]:
    """Header name (lower case) -> raw values as text, in order of appearance.

    Lines are split on LF only (never on NEL or U+2028, which would let a
    value smuggle in a header of its own), and each field is decoded on its
    own so one GBK header does not garble a UTF-8 neighbour.
    """
    block = _header_bytes(raw)
    text = _clean_text_block(block)
    if text is not None:
        return _split_text(text)
    return _split_bytes(block)


def _split_bytes(block: bytes) -> dict[str, list[str]]:
    """The general case: each field decoded on its own (mixed GBK / UTF-8 blocks)."""
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


def _clean_text_block(block: bytes) -> str | None:
    """The block as text when decoding it whole gives what decoding each field would.

    ASCII always does. Valid UTF-8 does too (fields split on ASCII bytes never cut a
    character), as long as the block is shorter than MAX_HEADER_VALUE: the cap counts
    bytes while the text loop counts characters, and below it neither ever cuts.
    """
    if block.isascii():
        return block.decode("ascii")
    if len(block) < MAX_HEADER_VALUE:
        try:
            return block.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _split_text(block: str) -> dict[str, list[str]]:
    """split_header_block on text already decoded: the same steps, one decode for all."""
    ws = _ASCII_WS
    fields: dict[str, list[str]] = {}
    name: str | None = None
    buf: list[str] = []
    size = 0
    lines = block.split("\n")
    if lines[0].startswith("From "):
        lines[0] = ""  # mbox separator line: like a line that is no field
    for line in lines:
        line = line.rstrip("\r")
        first = line[:1]
        if first == " " or first == "\t":
            if name is not None and size < MAX_HEADER_VALUE:
                buf.append(line.strip(ws))
                size += len(line)
            continue
        if name is not None:
            value = " ".join(buf) if len(buf) > 1 else buf[0]
            known = fields.get(name)
            if known is None:
                fields[name] = [value[:MAX_HEADER_VALUE]]
            else:
                known.append(value[:MAX_HEADER_VALUE])
        head, sep, rest = line.partition(":")
        head = head.strip(ws)
        if not sep or not head or " " in head or "\t" in head:
            name, buf = None, []
            continue
        if not head.isascii():
            head = head.encode("utf-8").decode("ascii", "replace")
        name = head.lower()
        buf = [rest.strip(ws)]
        size = len(rest)
    if name is not None:
        value = " ".join(buf)[:MAX_HEADER_VALUE]
        fields.setdefault(name, []).append(value)
    return fields


def _header_bytes(raw: bytes) -> bytes:
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return raw[: min(ends)] if ends else raw


def parse_addresses(values: list[str]) -> tuple[Address, ...]:
    # Split first, decode names after: an encoded name may hide a comma
    # ("=?utf-8?q?Wang=2C_Fang?=") that must not split the list.
    result: list[Address] = []
    simple = _simple_pairs(values)
    if simple is not None:  # plain "Name <addr>" lists: skip the slow stdlib parser
        for name, addr in simple:
            result.append(Address(addr=addr, name=clean_text(decode_words(name)) if name else ""))
        return tuple(result)
    for name, addr in email.utils.getaddresses(values):
        addr = addr.strip()
        if "@" not in addr or _SPACE.search(addr):
            continue  # no usable mailbox ("Na.me w@x.org" is not one address)
        result.append(Address(addr=addr, name=clean_text(decode_words(name))))
    return tuple(result)


def _simple_pairs(values: list[str]) -> list[tuple[str, str]] | None:
    """(name, addr) when every value is a comma-separated list of simple mailboxes.

    The mailbox pattern admits no quote, comment, comma or group syntax, so cutting
    at commas first cannot split what the stdlib parser would keep together; the
    addresses it admits hold no whitespace and always an "@".
    """
    pairs: list[tuple[str, str]] = []
    match = _SIMPLE_MAILBOX.fullmatch
    for value in values:
        for part in value.split(",") if "," in value else (value,):
            m = match(part)
            if m is None:
                return None
            addr = m.group(2)
            pairs.append((m.group(1) or "", addr) if addr else ("", m.group(3)))
    return pairs


def clean_text(value: str) -> str:
    """Text safe to show and to reuse in a header: no control characters."""
    return _CONTROL.sub(" ", value).strip()


def parse_msgids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(_MSGID.findall(value))


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    fast = _DATE.fullmatch(value.strip())
    if fast is not None:
        found = _fast_date(fast)
        if found is not None:
            return found
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # RFC 5322 "-0000": time is UTC, zone unknown
    return parsed


def _fast_date(m: re.Match[str]) -> datetime | None:
    """What email.utils.parsedate_to_datetime returns for the common form, or None."""
    day, month_name, year, hour, minute, second, sign, zh, zm = m.groups()
    month = _MONTHS.get(month_name.lower())
    if month is None:
        return None
    zone = sign + zh + zm
    tz = _DATE_ZONES.get(zone)
    if tz is None:
        if zone == "-0000":
            return None  # "zone unknown": left to the stdlib path and its naive datetime
        seconds = int(zh) * 3600 + int(zm) * 60  # the stdlib's arithmetic, minutes >= 60 too
        try:
            tz = timezone(timedelta(seconds=-seconds if sign == "-" else seconds))
        except ValueError:
            return None
        if len(_DATE_ZONES) < 256:
            _DATE_ZONES[zone] = tz
    try:
        return datetime(
            int(year), month, int(day), int(hour), int(minute), int(second or 0), tzinfo=tz
        )
    except ValueError:
        return None


def parse_tags(values: list[str]) -> frozenset[str]:
    # Decoded first: a non-ASCII company ("gw:company:示例科技") arrives RFC 2047 encoded.
    return frozenset(tag for value in values for tag in split_tag_header(decode_words(value)))


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
