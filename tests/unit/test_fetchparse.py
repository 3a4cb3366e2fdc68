"""connectors.imap.fetchparse against imapclient's parser, on bytes Dovecot sent and
on generated responses: same rows, same Python values, or a clear error."""

from __future__ import annotations

import imaplib
import io
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imapclient.datetime_util import parse_to_datetime
from imapclient.response_parser import parse_fetch_response

from connectors.imap.fetchparse import internaldate, parse_fetches, read_tagged

TAG = b"MDMI17"
FIELDS = b"BODY[HEADER.FIELDS (DATE FROM MESSAGE-ID SUBJECT TO)]"

# Captured from Dovecot 2.3.19 (bench mailbox, then the awkward cases by hand).
DOVECOT_HEADERS = (
    b'* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) INTERNALDATE "12-Dec-2025 09:31:29 +0000" '
    b"RFC822.SIZE 8685 " + FIELDS + b" {147}\r\n"
    b"Date: Fri, 12 Dec 2025 17:30:53 +0800\r\n"
    b"From: =?UTF-8?B?5ZOI5L2b?= <hbrc@hbrchina-mail.cn>\r\n"
    b"Message-ID: <fe7c.7185@hbrchina-mail.cn>\r\nSubject: x\r\n\r\n"
    b")\r\n"
    b'* 2 FETCH (UID 7 FLAGS (\\Recent $Forwarded gw:stop) INTERNALDATE " 2-Mar-2026 09:00:00 '
    b'+0800" RFC822.SIZE 3634 ' + FIELDS + b' "")\r\n'
    b"MDMI17 OK Fetch completed (0.001 + 0.000 secs).\r\n"
)
DOVECOT_FLAGS = (
    b"* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) MODSEQ (2))\r\n"
    b"* 2 FETCH (UID 2 FLAGS () MODSEQ (12))\r\n"
    b"* 3 EXISTS\r\n"
    b"* VANISHED (EARLIER) 4:6,9\r\n"
    b"MDMI17 OK Fetch completed (0.003 + 0.000 + 0.002 secs).\r\n"
)
DOVECOT_BODY = (
    b"* 1 FETCH (UID 1 BODY[]<0> {30}\r\nSubject: hi\r\n\r\n) {5}\r\nbody )\r\n)\r\n"
    b"MDMI17 OK Fetch completed (0.001 + 0.000 secs).\r\n"
)


def fake_imap(raw: bytes, tag: bytes = TAG) -> imaplib.IMAP4:
    """An imaplib.IMAP4 reading `raw` as if the server had sent it after a command."""
    imap = object.__new__(imaplib.IMAP4)
    imap.file = io.BufferedReader(io.BytesIO(raw))  # type: ignore[attr-defined]
    imap.tagged_commands = {tag: None}
    imap.untagged_responses = {}
    imap.debug = 0
    imap._cmd_log_len, imap._cmd_log_idx, imap._cmd_log = 10, 0, {}  # type: ignore[attr-defined]
    imap.tagpre = tag.rstrip(b"0123456789")
    imap.tagre = re.compile(
        rb"(?P<tag>" + imap.tagpre + rb"\d+) (?P<type>[A-Z]+) (?P<data>.*)", re.ASCII
    )
    imap.Untagged_status = imaplib.Untagged_status
    imap.Literal = imaplib.Literal
    imap._encoding = "ascii"
    return imap


def ours(raw: bytes) -> tuple[str, dict[int, dict[bytes, Any]], list[bytes], imaplib.IMAP4]:
    imap = fake_imap(raw)
    typ, _text, fetches, vanished = read_tagged(imap, TAG)
    return typ, parse_fetches(fetches), vanished, imap


def reference(raw: bytes) -> dict[int, dict[bytes, Any]]:
    """What Wire.fetch returned before fetchparse: imaplib reads, imapclient parses."""
    imap = fake_imap(raw)
    typ, data = imap._command_complete("FETCH", TAG)
    typ, data = imap._untagged_response(typ, data, "FETCH")
    rows = [d for d in data if d is not None]
    parsed = parse_fetch_response(rows, False, True) if rows else {}
    return {int(uid): dict(row) for uid, row in parsed.items()}


def assert_same(got: dict[int, dict[bytes, Any]], want: dict[int, dict[bytes, Any]]) -> None:
    assert list(got) == list(want)
    for uid, row in want.items():
        assert list(got[uid]) == list(row), uid
        for key, value in row.items():
            mine = got[uid][key]
            assert mine == value, (uid, key)
            assert type(mine) is type(value), (uid, key)
            if isinstance(value, tuple):
                assert [type(v) for v in mine] == [type(v) for v in value]
            if isinstance(value, datetime):
                assert mine.utcoffset() == value.utcoffset()


def test_dovecot_header_fetch() -> None:
    typ, rows, vanished, _ = ours(DOVECOT_HEADERS)
    assert typ == "OK" and vanished == []
    assert_same(rows, reference(DOVECOT_HEADERS))
    assert rows[1][FIELDS].startswith(b"Date: Fri, 12 Dec 2025")
    assert rows[1][b"INTERNALDATE"] == datetime(2025, 12, 12, 9, 31, 29, tzinfo=UTC)
    assert rows[7][b"FLAGS"] == (b"\\Recent", b"$Forwarded", b"gw:stop")
    assert rows[7][FIELDS] == b""
    when = rows[7][b"INTERNALDATE"]
    assert when == datetime(2026, 3, 2, 9, tzinfo=timezone(timedelta(hours=8)))
    assert type(when.tzinfo) is timezone  # no imapclient type for normalize to replace


def test_dovecot_flags_fetch_keeps_other_untagged() -> None:
    typ, rows, vanished, imap = ours(DOVECOT_FLAGS)
    assert typ == "OK"
    assert_same(rows, reference(DOVECOT_FLAGS))
    assert rows[2] == {b"SEQ": 2, b"FLAGS": (), b"MODSEQ": (12,)}
    assert vanished == [b"(EARLIER) 4:6,9"]
    assert imap.untagged_responses["EXISTS"] == [b"3"]
    assert "FETCH" not in imap.untagged_responses
    assert TAG not in imap.tagged_commands


def test_literal_with_items_after_it_and_literal_looking_bytes() -> None:
    _, rows, _, _ = ours(DOVECOT_BODY)
    assert_same(rows, reference(DOVECOT_BODY))
    assert rows[1][b"BODY[]<0>"] == b"Subject: hi\r\n\r\n) {5}\r\nbody )\r\n"


@pytest.mark.parametrize(
    "response",
    [
        # items in another order, lower-case names, literal first (Gmail-like)
        b"* 4 FETCH (" + FIELDS + b" {6}\r\nX: y\r\n X-GM-THRID 1 uid 9 flags (\\Seen))\r\n",
        # quoted strings with escapes, and NIL instead of a header block
        b'* 4 FETCH (UID 9 BODY[HEADER] "a \\"b\\" \\\\ c" BODY[TEXT] NIL)\r\n',
        b'* 4 FETCH (UID 9 INTERNALDATE NIL RFC822.SIZE 0 BODY[HEADER] "")\r\n',
        # unusual INTERNALDATE forms: unknown zone, impossible day, garbage
        b'* 4 FETCH (UID 9 INTERNALDATE "01-Jan-2026 00:00:00 -0000")\r\n',
        b'* 4 FETCH (UID 9 INTERNALDATE "31-Feb-2026 00:00:00 +0100")\r\n',
        b'* 4 FETCH (UID 9 INTERNALDATE "1-jan-2026 23:59:59 -0930")\r\n',
        b'* 4 FETCH (UID 9 INTERNALDATE "yesterday")\r\n',
        # what the fast path leaves to imapclient: quoted lists, numeric keywords, nesting
        b'* 4 FETCH (UID 9 X-GM-LABELS ("\\\\Inbox" "Jobs 2026") FLAGS (123 NIL))\r\n',
        b"* 4 FETCH (UID 9 FLAGS (\\Seen) BODY (TEXT PLAIN NIL NIL NIL 7BIT 5 1))\r\n",
        b"* 4 FETCH (UID 9 RFC822.SIZE 007)\r\n",
        # one UID twice: the second response's items are merged in
        b"* 4 FETCH (UID 9 FLAGS (\\Seen))\r\n* 4 FETCH (UID 9 RFC822.SIZE 12)\r\n",
    ],
)
def test_awkward_responses_agree_with_imapclient(response: bytes) -> None:
    raw = response + TAG + b" OK done\r\n"
    _, rows, _, _ = ours(raw)
    assert_same(rows, reference(raw))


def test_unsolicited_fetch_without_uid_is_not_taken_for_a_uid() -> None:
    raw = (
        b"* 3 FETCH (FLAGS (\\Deleted))\r\n"  # another message's flags changed meanwhile
        b"* 5 FETCH (UID 40 FLAGS (\\Seen))\r\n"
        b"* 6 FETCH (UID 77 FLAGS (\\Flagged))\r\n"  # not asked for, still reported
        + TAG
        + b" OK done\r\n"
    )
    _, rows, _, _ = ours(raw)
    assert rows == {
        40: {b"SEQ": 5, b"FLAGS": (b"\\Seen",)},
        77: {b"SEQ": 6, b"FLAGS": (b"\\Flagged",)},
    }
    assert 3 in reference(raw)  # imapclient files it under its sequence number


@pytest.mark.parametrize(("status", "text"), [(b"NO", b"[SERVERBUG] oops"), (b"BAD", b"syntax")])
def test_tagged_failure_is_returned_with_its_code(status: bytes, text: bytes) -> None:
    typ, text_back, fetches, _ = read_tagged(
        fake_imap(TAG + b" " + status + b" " + text + b"\r\n"), TAG
    )
    assert (typ, text_back, fetches) == (status.decode(), text, [])


@pytest.mark.parametrize(
    "raw",
    [
        b"* 1 FETCH (UID 1 FLAGS ())\r\n",  # connection closed before the tagged line
        b"* 1 FETCH (UID 1 BODY[] {10}\r\nshort",  # closed inside a literal
        b"* BYE shutting down\r\n",
        b"OTHER1 OK done\r\n",  # somebody else's tag
    ],
)
def test_broken_connection_raises_abort(raw: bytes) -> None:
    with pytest.raises(imaplib.IMAP4.abort):
        read_tagged(fake_imap(raw), TAG)


def test_unparsable_response_raises_instead_of_dropping() -> None:
    raw = b"* 1 FETCH (UID 1 FLAGS (\\Seen)\r\n" + TAG + b" OK done\r\n"
    imap = fake_imap(raw)
    _, _, fetches, _ = read_tagged(imap, TAG)
    with pytest.raises(imaplib.IMAP4.error):
        parse_fetches(fetches)


def test_internaldate_matches_imapclient_forms() -> None:
    plus8 = timezone(timedelta(hours=8))
    assert internaldate(b" 2-Mar-2026 09:00:00 +0800") == datetime(2026, 3, 2, 9, tzinfo=plus8)
    assert internaldate(b"02-Mar-2026 09:00:00 +0800") == datetime(2026, 3, 2, 9, tzinfo=plus8)
    unknown_zone = b"02-Mar-2026 09:00:00 -0000"  # left to imapclient, whatever it makes of it
    assert internaldate(unknown_zone) == parse_to_datetime(unknown_zone, normalise=False)
    assert internaldate(b"02-Mar-2026 9a:00:00 +0800") is None


# --- generated responses: the fast path and imapclient must agree --------------------------

_ATOM = st.text(
    alphabet=st.sampled_from("abcXYZ019$-_.:!#&'+,/;<=>?@^`|~*"), min_size=1, max_size=8
)
_FLAG = st.one_of(
    st.sampled_from(["\\Seen", "\\Answered", "\\Recent", "$Forwarded", "gw:stop", "NIL", "42"]),
    _ATOM,
)
_ZONE = st.sampled_from(["+0000", "+0800", "-0500", "+0530", "-0000", "+1400"])


@st.composite
def _internaldate(draw: st.DrawFn) -> bytes:
    when = draw(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
    day = draw(st.sampled_from(["%d", "%e"]))
    text = when.strftime(f"{day}-%b-%Y %H:%M:%S ") + draw(_ZONE)
    return b'"' + text.encode() + b'"'


def _quoted(value: bytes) -> bytes:
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


@st.composite
def _item(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["flags", "date", "size", "modseq", "thrid", "body"]))
    if kind == "flags":
        flags = draw(st.lists(_FLAG, max_size=5))
        return b"FLAGS (" + " ".join(flags).encode() + b")"
    if kind == "date":
        value = draw(st.one_of(_internaldate(), st.just(b"NIL"), st.just(b'"bad date"')))
        return b"INTERNALDATE " + value
    if kind == "size":
        return b"RFC822.SIZE " + str(draw(st.integers(0, 2**40))).encode()
    if kind == "modseq":
        return b"MODSEQ (" + str(draw(st.integers(1, 2**63))).encode() + b")"
    if kind == "thrid":
        return b"X-GM-THRID " + str(draw(st.integers(0, 2**64))).encode()
    data = draw(st.binary(max_size=60))
    form = draw(st.sampled_from(["literal", "quoted", "nil", "empty"]))
    if form == "literal":
        value = b"{%d}\r\n" % len(data) + data
    elif form == "quoted":
        value = _quoted(bytes(b for b in data if b not in b"\r\n\x00"))
    else:
        value = b"NIL" if form == "nil" else b'""'
    return FIELDS + b" " + value


@st.composite
def _response(draw: st.DrawFn) -> bytes:
    out = []
    for _ in range(draw(st.integers(1, 4))):
        items = draw(st.lists(_item(), max_size=5, unique_by=lambda b: b.split(b" ", 1)[0]))
        at = draw(st.integers(0, len(items)))
        items.insert(at, b"UID " + str(draw(st.integers(1, 2**32 - 1))).encode())
        seq = draw(st.integers(1, 10**6))
        out.append(b"* %d FETCH (" % seq + b" ".join(items) + b")\r\n")
        if draw(st.booleans()):
            out.append(draw(st.sampled_from([b"* 9 EXISTS\r\n", b"* 2 RECENT\r\n"])))
    return b"".join(out) + TAG + b" OK done\r\n"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_response())
def test_generated_responses_agree_with_imapclient(raw: bytes) -> None:
    _, rows, _, _ = ours(raw)
    assert_same(rows, reference(raw))


def test_a_parse_error_carries_no_header_text() -> None:
    # The error becomes a log line ("skipping folder ..."): no subject or address in it.
    raw = (
        b'* 1 FETCH (UID 1 BODY[HEADER] "Subject: secret offer" FLAGS (\\Seen)\r\n'
        + TAG
        + b" OK done\r\n"
    )
    _, _, fetches, _ = read_tagged(fake_imap(raw), TAG)
    with pytest.raises(imaplib.IMAP4.error) as caught:
        parse_fetches(fetches)
    assert "secret" not in str(caught.value)
