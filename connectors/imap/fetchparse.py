"""Read and parse a UID FETCH response without imaplib's line loop or imapclient's lexer.

imaplib (in the debug mode imapclient switches on) formats a repr of every line
and literal it reads, and imapclient's parser walks the response one byte at a
time in Python; together they cost several times what the sync does with the
data. This module reads the tagged response straight off the connection's
buffered file and parses the FETCH items the connector asks for (UID, FLAGS,
INTERNALDATE, RFC822.SIZE, MODSEQ, X-GM-*, BODY[...]) with one regex per item.

The result has the shape of imapclient's ``parse_fetch_response(..., uid_is_key)``:
``uid -> {b"SEQ": seq, b"FLAGS": (b"\\Seen",), b"INTERNALDATE": datetime, ...}``.
A response the fast path does not recognise in full (nested lists, quoted strings
in lists, odd numbers...) is handed to imapclient's parser on its own, so
unusual servers cost speed, never messages. Deliberate difference: a FETCH
response without a UID (an unsolicited flag update) is ignored instead of being
filed under its sequence number, which imapclient would pass off as a UID.
"""

from __future__ import annotations

import imaplib
import logging
import re
from datetime import date, datetime
from typing import Any

from imapclient.datetime_util import parse_to_datetime
from imapclient.response_parser import parse_fetch_response

log = logging.getLogger(__name__)

Row = dict[bytes, Any]
# One untagged FETCH as imaplib would hand it to imapclient: (line, literal) pairs
# for each literal, then the rest of the last line.
RawFetch = list[tuple[bytes, bytes] | bytes]

_MAXLINE = 1_000_000  # imaplib's limit for one line outside literals

_FETCH_LINE = re.compile(rb"\* (\d+) FETCH \(", re.I)
_LITERAL_END = re.compile(rb"\{(\d+)\}\Z")
# Name, one space, value; the lookaheads keep "123abc" or '"x"y' from half-matching.
# Each value form is one imapclient turns into the same Python value; anything else
# (nested lists, quoted strings in lists, numbers with a leading zero, which
# imapclient keeps as bytes) does not match and goes to imapclient.
_ITEM = re.compile(
    rb'([A-Za-z][A-Za-z0-9.\-]*(?:\[[^\]"\r\n{]*\](?:<\d+>)?)?) '
    rb"(?:"
    rb"(0|[1-9]\d*)(?=[ )])"  # 2: number
    rb'|\(([^\x00-\x1f()"{}\[\]%]*)\)(?=[ )])'  # 3: list of atoms (FLAGS, MODSEQ)
    rb'|"([^"\\\r\n]*(?:\\["\\][^"\\\r\n]*)*)"(?=[ )])'  # 4: quoted, \" and \\ only
    rb"|(NIL)(?=[ )])"  # 5: NIL in capitals only, as imapclient
    rb"|\{(\d+)\}\Z"  # 6: literal, always the end of its line
    rb")"
)
_UNESCAPE = re.compile(rb'\\(["\\])')
_DAY = re.compile(rb"([ \d]?\d)-([A-Za-z]{3})-(\d{4})\Z")
_ZONE = re.compile(rb"[+-]\d{4}\Z")
_MONTHS = {
    m: i + 1 for i, m in enumerate(re.findall(rb"...", b"janfebmaraprmayjunjulaugsepoctnovdec"))
}
# INTERNALDATE pieces seen before: few distinct days and zones per mailbox, and an
# ISO string for datetime.fromisoformat (C) beats a regex plus six int() calls.
_DAYS: dict[bytes, str] = {}
_ZONES: dict[bytes, str] = {}
_CACHE_MAX = 4096
# Items imapclient turns into its own types, or that never come as a simple value.
_NOT_FAST = frozenset({b"BODY", b"BODYSTRUCTURE", b"ENVELOPE"})


class FallbackNeeded(Exception):
    """The fast path does not parse this response; imapclient's parser will."""


def read_tagged(imap: imaplib.IMAP4, tag: bytes) -> tuple[str, bytes, list[RawFetch], list[bytes]]:
    """Read everything up to the tagged completion of `tag`.

    Returns (status, its text, the FETCH responses, the VANISHED data). Every other
    untagged response is filed in ``imap.untagged_responses`` as imaplib would, so
    EXISTS, FLAGS, response codes... stay visible to later commands; the command
    leaves ``imap.tagged_commands`` as imaplib's completion does.
    """
    readline = imap.file.readline
    read = imap.file.read
    fetches: list[RawFetch] = []
    vanished: list[bytes] = []
    is_fetch = _FETCH_LINE.match
    while True:
        line = readline(_MAXLINE + 1)
        if line[-2:] != b"\r\n" or len(line) > _MAXLINE:
            _bad_line(imap, line)
        line = line[:-2]
        if line[:2] != b"* ":
            typ, text = _finish(imap, tag, line)
            return typ, text, fetches, vanished
        parts: RawFetch = []
        while line[-1:] == b"}":
            literal = _LITERAL_END.search(line)
            if literal is None:
                break
            size = int(literal.group(1))
            data = read(size)
            if len(data) != size:
                raise imap.abort("socket error: EOF in a literal")
            parts.append((line, data))
            line = readline(_MAXLINE + 1)
            if line[-2:] != b"\r\n" or len(line) > _MAXLINE:
                _bad_line(imap, line)
            line = line[:-2]
        parts.append(line)
        head = parts[0]
        if is_fetch(head[0] if isinstance(head, tuple) else head):
            fetches.append(parts)
        else:
            _other_untagged(imap, parts, vanished)


def _bad_line(imap: imaplib.IMAP4, line: bytes) -> None:
    if len(line) > _MAXLINE:
        raise imap.error(f"got more than {_MAXLINE} bytes")
    raise imap.abort("socket error: EOF" if not line else "socket error: unterminated line")


def _finish(imap: imaplib.IMAP4, tag: bytes, line: bytes) -> tuple[str, bytes]:
    mo = imap.tagre.match(line)
    if mo is None or mo.group("tag") != tag:
        raise imap.abort(f"unexpected response: {line[:80]!r}")
    imap.tagged_commands.pop(tag, None)
    typ = mo.group("type").decode("ascii", "replace")
    dat = mo.group("data")
    code = imaplib.Response_code.match(dat) if typ in ("OK", "NO", "BAD") else None
    if code is not None:
        imap._append_untagged(code.group("type").decode("ascii", "replace"), code.group("data"))
    return typ, dat


def _other_untagged(imap: imaplib.IMAP4, parts: RawFetch, vanished: list[bytes]) -> None:
    """File a non-FETCH untagged response the way imaplib's _get_response does."""
    head = parts[0]
    first = head[0] if isinstance(head, tuple) else head
    mo = imaplib.Untagged_response.match(first) or imap.Untagged_status.match(first)
    if mo is None:
        raise imap.abort(f"unexpected response: {first[:80]!r}")
    typ = mo.group("type").decode("ascii", "replace")
    if typ == "BYE":
        raise imap.abort(f"server said BYE: {first[:120]!r}")
    dat = mo.group("data") or b""
    groups = mo.groupdict()
    if groups.get("data2"):
        dat = dat + b" " + groups["data2"]
    items: list[Any] = [(dat, head[1]) if isinstance(head, tuple) else dat, *parts[1:]]
    if typ == "VANISHED":
        vanished.extend(i for i in items if isinstance(i, bytes))
        return
    for item in items:
        imap._append_untagged(typ, item)
    last = items[-1]
    if typ in ("OK", "NO", "BAD") and isinstance(last, bytes):
        code = imaplib.Response_code.match(last)
        if code is not None:
            imap._append_untagged(code.group("type").decode("ascii", "replace"), code.group("data"))


def parse_fetches(fetches: list[RawFetch]) -> dict[int, Row]:
    """uid -> items for each FETCH response; merged when one UID comes twice."""
    rows: dict[int, Row] = {}
    for parts in fetches:
        try:
            uid, row = _parse_fast(parts)
        except FallbackNeeded:
            uid, row = _parse_slow(parts)
        if uid is None:
            log.debug("FETCH response without UID ignored (seq %s)", row.get(b"SEQ"))
            continue
        known = rows.get(uid)
        if known is None:
            rows[uid] = row
        else:
            known.update(row)
    return rows


def _parse_fast(parts: RawFetch) -> tuple[int | None, Row]:
    head = parts[0]
    text = head[0] if isinstance(head, tuple) else head
    mo = _FETCH_LINE.match(text)
    if mo is None:
        raise FallbackNeeded
    row: Row = {b"SEQ": int(mo.group(1))}
    uid: int | None = None
    pos = mo.end()
    last = len(parts) - 1
    index = 0
    match = _ITEM.match
    while True:
        m = match(text, pos)
        if m is None:
            raise FallbackNeeded
        name = m.group(1).upper()
        kind = m.lastindex
        value: Any
        if kind == 6:
            part = parts[index]
            if index == last or len(part[1]) != int(m.group(6)):  # type: ignore[arg-type]
                raise FallbackNeeded
            value = part[1]
            index += 1
            following = parts[index]
            text = following[0] if isinstance(following, tuple) else following
            pos = 0
        else:
            pos = m.end()
            if kind == 2:
                value = int(m.group(2))
            elif kind == 3:
                value = _atoms(m.group(3))
            elif kind == 4:
                value = m.group(4)
                if b"\\" in value:
                    value = _UNESCAPE.sub(rb"\1", value)
            else:
                value = None
        if name == b"UID":
            if kind != 2:
                raise FallbackNeeded
            uid = value
        elif name == b"INTERNALDATE":
            if kind != 4 and kind != 5:
                raise FallbackNeeded
            row[name] = None if value is None else internaldate(value)
        elif name in _NOT_FAST:
            raise FallbackNeeded
        else:
            row[name] = value
        sep = text[pos : pos + 1]
        if sep == b" ":
            pos += 1
        elif sep == b")" and pos + 1 == len(text) and index == last:
            return uid, row
        else:
            raise FallbackNeeded


def _atoms(body: bytes) -> tuple[Any, ...]:
    """A parenthesised list of atoms as imapclient returns it (FLAGS, MODSEQ)."""
    items = body.split()
    if len(items) == 1 and items[0].isdigit():
        token = items[0]
        if token[:1] != b"0" or len(token) == 1:
            return (int(token),)
    for token in items:
        if token[:1] != b"\\" and (token.isdigit() or token == b"NIL" or token[:1] == b"{"):
            raise FallbackNeeded  # imapclient makes ints / None of these: let it
    return tuple(items)


def internaldate(value: bytes) -> datetime | None:
    """INTERNALDATE as an aware datetime; imapclient's parser for any unusual form."""
    # "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " 2"): the layout is fixed, so slices
    # find the parts; the day and zone come from caches checked on first sight, and
    # fromisoformat validates the time digits.
    if len(value) == 26 and value[14:15] == b":" and value[17:18] == b":":
        day = _DAYS.get(value[:12])
        zone = _ZONES.get(value[20:])
        if day is None:
            day = _iso_day(value[:12])
        if zone is None:
            zone = _iso_zone(value[20:])
        if day and zone:
            try:
                return datetime.fromisoformat(day + value[12:20].decode("ascii") + zone)
            except ValueError:
                pass
    try:
        return parse_to_datetime(value, normalise=False)
    except (ValueError, TypeError, OverflowError):
        return None


def _iso_day(text: bytes) -> str:
    """b"12-Dec-2025 " -> "2025-12-12T", or "" when it is no valid day."""
    found = ""
    m = _DAY.match(text[:-1]) if text[-1:] == b" " else None
    month = _MONTHS.get(m.group(2).lower()) if m else None
    if m and month:
        try:
            found = date(int(m.group(3)), month, int(m.group(1))).isoformat() + "T"
        except ValueError:
            found = ""
    if len(_DAYS) >= _CACHE_MAX:
        _DAYS.clear()
    _DAYS[text] = found
    return found


def _iso_zone(text: bytes) -> str:
    """b" +0800" -> "+08:00"; "" for "-0000" (no known zone: imapclient makes that naive)."""
    found = ""
    if text[:1] == b" " and _ZONE.match(text, 1) and text != b" -0000":
        zone = text[1:].decode("ascii")
        found = f"{zone[:3]}:{zone[3:]}"
    if len(_ZONES) >= _CACHE_MAX:
        _ZONES.clear()
    _ZONES[text] = found
    return found


def _parse_slow(parts: RawFetch) -> tuple[int | None, Row]:
    """imapclient's parser on one response, keyed the way the fast path keys it."""
    head = parts[0]
    text = head[0] if isinstance(head, tuple) else head
    mo = _FETCH_LINE.match(text)
    if mo is None:
        # No excerpt: the line may carry header text, and this ends up in the log.
        raise imaplib.IMAP4.error("unparsable FETCH response (not '* <n> FETCH (')")
    # imaplib hands imapclient "<seq> (items..." without the "* " and the "FETCH".
    line = mo.group(1) + b" " + text[mo.end() - 1 :]
    fixed: list[Any] = [(line, head[1]) if isinstance(head, tuple) else line, *parts[1:]]
    try:
        parsed = parse_fetch_response(fixed, False, False)
    except Exception as exc:
        raise imaplib.IMAP4.error(f"unparsable FETCH response ({type(exc).__name__})") from None
    uid: int | None = None
    row: Row = {}
    for items in parsed.values():
        row = dict(items)
        found = row.pop(b"UID", None)
        uid = found if isinstance(found, int) else None
    return uid, row
