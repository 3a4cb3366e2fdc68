"""The values of single header fields: address lists (with display names decoded
and remembered, since contacts repeat across a mailbox), dates, Message-IDs and
ghostwatch's tags. Nothing here raises.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime
from typing import NamedTuple, TypeVar

from connectors.addresses import has_line_controls, read_address_list
from connectors.header_text import clean_text, decode_words
from connectors.model import Address
from connectors.tags import split_tag_header

MSGID = re.compile(r"<([^<>\s]+)>")
_SIMPLE_MAILBOX = re.compile(
    r'\s*(?:([^"(),;:\\<>@\[\]]*?)\s*<([^<>\s"(),;:@]+@[^<>\s"(),;:@]+)>|([^<>\s"(),;:@]+@[^<>\s"(),;:@]+))\s*'
)
BARE_MSGID = re.compile(r"[^<>\s@]+@[^<>\s@]+")
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
# Contacts and newsletter subjects repeat across a mailbox: decoded results keyed by the
# raw field value. FIFO-bounded, and the values are immutable, so sharing them is safe.
_CACHE_SIZE = 8192  # per cache; about 4 MB for both when full
_ADDRESS_CACHE: dict[tuple[str, ...], AddressField] = {}
_TEXT_CACHE: dict[str, str] = {}
_K = TypeVar("_K")
_V = TypeVar("_V")


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
            tuple(Address(addr=a, name=display_text(n) if n else "") for n, a in simple)
        )
    read = read_address_list(values, field)
    if read.ambiguous is not None:
        return AddressField((), read.problems, read.ambiguous)
    return AddressField(
        tuple(Address(addr=m.addr, name=display_text(m.name)) for m in read.mailboxes),
        read.problems,
    )


def cached_addresses(values: list[str] | None, field: str) -> AddressField:
    """parse_address_field, remembered per raw field value(s)."""
    if not values:
        return _NO_ADDRESSES
    key = (field, *values)
    found = _ADDRESS_CACHE.get(key)
    if found is None:
        found = parse_address_field(values, field)
        _remember(_ADDRESS_CACHE, key, found)
    return found


def display_text(value: str) -> str:
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


def parse_msgids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(MSGID.findall(value))


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
