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
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple, TypeVar

from connectors.addresses import has_line_controls, read_address_list
from connectors.model import Address
from connectors.tags import split_tag_header

# The fields every connector keeps in MailMessage.headers, whatever else the daemon
# asks for: threading and ghostwatch's own markers depend on them.
ALWAYS_KEEP = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
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
    m: f"{i + 1:02d}"
    for i, m in enumerate(re.findall("...", "janfebmaraprmayjunjulaugsepoctnovdec"))
}
_CODECS: dict[str | None, str] = {}

# The fields parse_header_block reads; the rest stays in the raw block for the classifier.
_READ_FIELDS = frozenset(
    {
        "message-id",
        "date",
        "in-reply-to",
        "references",
        "subject",
        "from",
        "to",
        "cc",
        "bcc",
        "x-ghostwatch-tags",
    }
)
# For a block with LF put in front: each field (a printable-ASCII name, which the line
# splitter takes as it stands, and the value with its continuation lines), or an empty
# match at a line that is neither a field nor a continuation of one.
_ANY_FIELD = re.compile(r"\n(?:([!-9;-~]+):(.*(?:\n[ \t].*)*))?")


def _only_fields(names: frozenset[str]) -> re.Pattern[str]:
    """Like _ANY_FIELD for `names` only: other good fields match nothing at all.
    ASCII case folding: under Unicode rules "ſubject" would pass for "subject"."""
    return re.compile(
        r"\n(?:((?ai:"
        + "|".join(map(re.escape, sorted(names)))
        + r")):(.*(?:\n[ \t].*)*)|(?![ \t]|[!-9;-~]+:))"
    )


_NAMES: dict[str, str] = {}  # field name as spelt -> lower case: the same few names recur
# Contacts and newsletter subjects repeat across a mailbox: decoded results keyed by the
# raw field value. FIFO-bounded, and the values are immutable, so sharing them is safe.
_CACHE_SIZE = 8192  # per cache; about 4 MB for both when full
_ADDRESS_CACHE: dict[tuple[str, ...], AddressField] = {}
_TEXT_CACHE: dict[str, str] = {}
_NO_TAGS: frozenset[str] = frozenset()
_K = TypeVar("_K")
_V = TypeVar("_V")

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


class ParsedHeaders(NamedTuple):
    """What parse_header_block found. A named tuple: built once per message on the sync
    path, and a frozen dataclass costs twice as much to construct."""

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
    bcc: tuple[Address, ...] = ()


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
    whole = _ENCODED_WORD.fullmatch(value)
    if whole is not None:  # one word and nothing else, as most encoded display names
        payload = _word_bytes(whole)
        if payload is not None:
            return _unfold(decode_bytes(payload, whole.group(1).split("*", 1)[0].lower()))
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
    return _split(raw, None)


class FieldSplitter:
    """`split_header_block` restricted to some fields, without building the others.

    Reading a handful of fields from 100k header blocks: one regex pass finds
    them and stops at any line that is neither a well-formed field nor a
    continuation of one; such blocks, and blocks that are not plain UTF-8 or
    too long for the uncapped path, go through the general splitter.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(n.lower() for n in names)
        self._pattern = _only_fields(self.names)

    def split(self, raw: bytes) -> dict[str, list[str]]:
        """`split_header_block(raw)` with only the wanted names, in the same order."""
        return _split(raw, self.names, self._pattern)


def _split(
    raw: bytes, wanted: frozenset[str] | None, pattern: re.Pattern[str] = _ANY_FIELD
) -> dict[str, list[str]]:
    """split_header_block, keeping only the `wanted` fields when given; `pattern`
    either finds every field or (a FieldSplitter's) only the wanted ones."""
    block = _header_bytes(raw)
    text = _clean_text_block(block)
    if text is not None and len(text) < MAX_HEADER_VALUE:
        tiled = _split_regex(text, wanted if pattern is _ANY_FIELD else None, pattern)
        if tiled is not None:
            return tiled
    fields = _split_bytes(block) if text is None else _split_text(text)
    if wanted is None:
        return fields
    return {name: values for name, values in fields.items() if name in wanted}


def _split_regex(
    text: str, wanted: frozenset[str] | None, pattern: re.Pattern[str]
) -> dict[str, list[str]] | None:
    """_split_text in one regex pass, or None when some line is not a well-formed field.

    A bad field, a stray continuation or an mbox "From " line leaves an empty match
    and goes to the line loop, which knows what to do with it. Below MAX_HEADER_VALUE
    characters no cap can apply.
    """
    ws = _ASCII_WS
    lower = _NAMES
    fields: dict[str, list[str]] = {}
    for name, value in pattern.findall("\n" + text):
        key = lower.get(name)
        if key is None:
            if not name:
                return None
            key = name.lower()
            if len(lower) < 1024:  # names come from mail
                lower[name] = key
        if wanted is not None and key not in wanted:
            continue
        if "\n" in value:
            value = " ".join([line.strip(ws) for line in value.split("\n")])
        else:
            value = value.strip(ws)
        if key in fields:
            fields[key].append(value)
        else:
            fields[key] = [value]
    return fields


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
    crlf = raw.find(b"\r\n\r\n")
    # An LF LF ahead of the first CRLF CRLF lies wholly before it (its second byte
    # would otherwise be the CR), so the second search can stop there.
    lf = raw.find(b"\n\n", 0, crlf) if crlf >= 0 else raw.find(b"\n\n")
    if lf >= 0:
        return raw[:lf]
    return raw[:crlf] if crlf >= 0 else raw


class AddressField(NamedTuple):
    """The addresses of one field, what was repaired, and whether it may be used at all."""

    addresses: tuple[Address, ...]
    problems: tuple[str, ...] = ()
    ambiguous: str | None = None  # set: the field names nobody (see connectors.addresses)


_NO_ADDRESSES = AddressField(())


def parse_addresses(values: list[str]) -> tuple[Address, ...]:
    """The addresses of an address field; none when it reads ambiguously."""
    return parse_address_field(values).addresses


def parse_address_field(values: list[str], field: str = "address") -> AddressField:
    # Split first, decode names after: an encoded name may hide a comma
    # ("=?utf-8?q?Wang=2C_Fang?=") that must not split the list.
    simple = None if any(map(has_line_controls, values)) else _simple_pairs(values)
    if simple is not None:  # plain "Name <addr>" lists: skip the general parser
        return AddressField(
            tuple(Address(addr=a, name=_display_text(n) if n else "") for n, a in simple)
        )
    read = read_address_list(values, field)
    if read.ambiguous is not None:
        return AddressField((), read.problems, read.ambiguous)
    return AddressField(
        tuple(Address(addr=m.addr, name=_display_text(m.name)) for m in read.mailboxes),
        read.problems,
    )


def _cached_addresses(values: list[str] | None, field: str) -> AddressField:
    """parse_address_field, remembered per raw field value(s)."""
    if not values:
        return _NO_ADDRESSES
    key = (field, *values)
    found = _ADDRESS_CACHE.get(key)
    if found is None:
        found = parse_address_field(values, field)
        _remember(_ADDRESS_CACHE, key, found)
    return found


def _display_text(value: str) -> str:
    """clean_text(decode_words(value)), skipping the regex passes a plain value needs not."""
    if "=?" not in value:
        # Printable text holds no control character, no line break and no Unicode
        # space, so unfolding and cleaning come down to the strip.
        return value.strip() if value.isprintable() else clean_text(decode_words(value))
    found = _TEXT_CACHE.get(value)
    if found is None:
        text = decode_words(value)
        found = text.strip() if text.isprintable() else clean_text(text)
        _remember(_TEXT_CACHE, value, found)
    return found


def _remember(cache: dict[_K, _V], key: _K, value: _V) -> None:
    if len(cache) >= _CACHE_SIZE:
        try:
            del cache[next(iter(cache))]  # the oldest entry
        except (KeyError, RuntimeError, StopIteration):  # another thread got there first
            cache.clear()
    cache[key] = value


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
    if month is None or (zh == "00" and zm == "00" and sign == "-"):
        return None  # "-0000" is "zone unknown": left to the stdlib and its naive datetime
    # The C ISO parser checks the same ranges as datetime() and reads the offset with
    # the stdlib's arithmetic (minutes >= 60 too), at a third of the cost of six int().
    try:
        return datetime.fromisoformat(
            f"{year}-{month}-{day:0>2}T{hour}:{minute}:{second or '00'}{sign}{zh}:{zm}"
        )
    except ValueError:
        return None


def parse_tags(values: list[str]) -> frozenset[str]:
    # Decoded first: a non-ASCII company ("gw:company:示例科技") arrives RFC 2047 encoded.
    return frozenset(tag for value in values for tag in split_tag_header(decode_words(value)))


_READ = FieldSplitter(_READ_FIELDS)
# Problems starting with this make the message unusable for follow-ups; ingest logs them.
UNTRACKABLE = "untrackable: "


def _one_sender(senders: AddressField) -> Address | None:
    """The From mailbox, when there is exactly one: two are more than a From should hold."""
    return senders.addresses[0] if len(senders.addresses) == 1 else None


def parse_header_block(raw: bytes) -> ParsedHeaders:
    """Parse the header block of a message (or the whole message); never raises."""
    fields = _READ.split(raw)
    problems: list[str] = []
    values = fields.get("message-id")
    raw_id = values[0] if values else None
    found = _MSGID.search(raw_id) if raw_id else None
    message_id = found.group(1) if found is not None else None
    if message_id is None and raw_id and _BARE_MSGID.fullmatch(raw_id.strip()):
        message_id = raw_id.strip()  # some mailers forget the angle brackets
        problems.append("Message-ID without angle brackets")
    elif message_id is None:
        problems.append("no Message-ID" if not raw_id else "unparsable Message-ID")
    values = fields.get("date")
    raw_date = values[0] if values else None
    date = parse_date(raw_date)
    if date is None:
        problems.append("no Date" if raw_date is None else f"unparsable Date {raw_date[:60]!r}")
    values = fields.get("in-reply-to")
    found = _MSGID.search(values[0]) if values else None
    senders = _cached_addresses(fields.get("from"), "From")
    to = _cached_addresses(fields.get("to"), "To")
    cc = _cached_addresses(fields.get("cc"), "Cc")
    bcc = _cached_addresses(fields.get("bcc"), "Bcc")
    sender = _one_sender(senders)
    for part in (senders, to, cc, bcc):
        problems.extend(part.problems)
        if part.ambiguous is not None:
            problems.append(f"{UNTRACKABLE}{part.ambiguous}")
    if sender is None and senders.ambiguous is None:
        if len(senders.addresses) > 1:
            problems.append(f"{UNTRACKABLE}ambiguous From: {len(senders.addresses)} addresses")
        else:
            problems.append("no usable From")
    values = fields.get("references")
    subjects = fields.get("subject")
    tag_values = fields.get("x-ghostwatch-tags")
    return ParsedHeaders(
        message_id=message_id,
        in_reply_to=found.group(1) if found is not None else None,
        references=parse_msgids(" ".join(values)) if values else (),
        subject=_display_text(subjects[0]) if subjects else "",
        sender=sender,
        to=to.addresses,
        cc=cc.addresses,
        date=date,
        tags=parse_tags(tag_values) if tag_values else _NO_TAGS,
        problems=tuple(problems),
        bcc=bcc.addresses,
    )


def select_fields(block: bytes, wanted: frozenset[str]) -> bytes:
    """Only the header fields named in `wanted` (lower case), folding kept."""
    out: list[bytes] = []
    keep = False
    for line in block.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        keep = b":" in line and name.decode("ascii", "replace") in wanted
        if keep:
            out.append(line)
    return b"".join(out)
