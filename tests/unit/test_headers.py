"""connectors/headers.py: real-world header mess in, normalized fields out, never a crash."""

from __future__ import annotations

import base64
import email.utils
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import header_split, header_values, headers
from connectors.addresses import read_address_list
from connectors.header_split import MAX_HEADER_VALUE, split_header_block
from connectors.header_text import clean_text, codec_for, decode_words
from connectors.header_values import parse_addresses, parse_date, parse_tags
from connectors.headers import parse_header_block
from connectors.model import Address


def b_word(text: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def q_word(text: str, charset: str) -> str:
    raw = text.encode(charset)
    return f"=?{charset}?Q?{''.join(f'={b:02X}' for b in raw)}?="


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        (b_word("高级工程师职位", "gbk"), "高级工程师职位"),
        (b_word("高级工程师职位", "gb2312"), "高级工程师职位"),
        (b_word("𠀀 扩展字符", "gb18030"), "𠀀 扩展字符"),
        (b_word("面試時間確認", "big5"), "面試時間確認"),
        (q_word("面試", "big5"), "面試"),
        (b_word("offer 确认", "utf-8"), "offer 确认"),
        (q_word("录用通知", "UTF-8"), "录用通知"),
        ("=?utf-8?q?Senior_Python_role?=", "Senior Python role"),
        ("=?utf-8*zh?B?5L2g5aW9?=", "你好"),  # RFC 2231 language suffix
        ("=?utf-8?B?5L2g5aW9?=", "你好"),  # already padded
        ("=?utf-8?B?5L2g5aW9", "=?utf-8?B?5L2g5aW9"),  # unterminated: left alone
        ("=?utf-8?B?5L2g?= =?utf-8?B?5aW9?=", "你好"),  # space between words dropped
        ("Re: " + b_word("你好", "utf-8") + " again", "Re: 你好 again"),
        ("李雷 " + b_word("你好", "utf-8"), "李雷 你好"),  # raw text next to a word
        ("Café " + b_word("ok", "utf-8"), "Café ok"),
        ("=?x-klingon?Q?Qapla=27?= offer", "Qapla' offer"),  # unknown charset label
        ("plain\r\n folded", "plain folded"),
    ],
)
def test_decode_words(encoded: str, expected: str) -> None:
    assert decode_words(encoded) == expected


def test_gbk_character_split_across_two_words_is_joined() -> None:
    raw = "你好".encode("gbk")
    split = [base64.b64encode(raw[:1]).decode(), base64.b64encode(raw[1:]).decode()]
    assert decode_words(f"=?gbk?B?{split[0]}?= =?gbk?B?{split[1]}?=") == "你好"


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ('"utf-8"', "utf-8"),
        ("big5", "big5hkscs"),
        ("no-such-charset", "utf-8"),
        (None, "utf-8"),
        ("ks_c_5601-1987", "cp949"),
    ],
)
def test_codec_for(label: str | None, codec: str) -> None:
    assert codec_for(label) == codec


def test_raw_8bit_gb2312_headers_next_to_utf8_ones() -> None:
    raw = (
        b"From: " + "王芳".encode("gb2312") + b" <wang@example.org>\r\n"
        b"Subject: " + "你好世界".encode() + b"\r\n"
        b"To: li@example.com\r\n\r\nbody"
    )
    parsed = parse_header_block(raw)
    assert parsed.sender is not None and parsed.sender.name == "王芳"
    assert parsed.subject == "你好世界"


def test_encoded_comma_in_a_display_name_does_not_split_the_address() -> None:
    found = parse_addresses(["=?utf-8?q?Wang=2C_Fang?= <W.Fang@Example.org>, li@example.com"])
    assert [(a.name, a.addr) for a in found] == [
        ("Wang, Fang", "w.fang@example.org"),
        ("", "li@example.com"),
    ]


def test_control_characters_never_survive_into_names_or_subjects() -> None:
    raw = (
        "Subject: a\x85Bcc: evil@example.net\u2028X\r\nFrom: =?utf-8?q?x=0D=0ABcc=3A_y?= "
        "<a@example.org>\r\n\r\n"
    )
    fields = split_header_block(raw.encode())
    assert "bcc" not in fields
    parsed = parse_header_block(raw.encode())
    assert parsed.subject == "a Bcc: evil@example.net X"
    assert parsed.sender is not None and parsed.sender.name == "x Bcc: y"


@pytest.mark.parametrize(
    ("raw", "message_id", "problem"),
    [
        (b"Message-ID: <a@b>\r\n\r\n", "a@b", None),
        (b"Message-Id:\r\n <folded@b>\r\n\r\n", "folded@b", None),
        (b"Message-ID: bare@example.org\r\n\r\n", "bare@example.org", "angle brackets"),
        (b"Subject: x\r\n\r\n", None, "no Message-ID"),
        (b"Message-ID: <>\r\n\r\n", None, "unparsable Message-ID"),
    ],
)
def test_message_id(raw: bytes, message_id: str | None, problem: str | None) -> None:
    parsed = parse_header_block(raw)
    assert parsed.message_id == message_id
    if problem is None:
        assert not [p for p in parsed.problems if "Message-ID" in p]
    else:
        assert any(problem in p for p in parsed.problems)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 6 May 2024 09:30:00 +0800", datetime(2024, 5, 6, 1, 30, tzinfo=UTC)),
        ("6 May 2024 09:30:00 -0000", datetime(2024, 5, 6, 9, 30, tzinfo=UTC)),
        ("Mon, 6 May 2024 09:30:00 +0800 (CST)", datetime(2024, 5, 6, 1, 30, tzinfo=UTC)),
        ("Mon, 6 May 2024 09:30:00 GMT", datetime(2024, 5, 6, 9, 30, tzinfo=UTC)),
        ("2024年5月6日", None),
        ("Mon, 1 Jan 99999 00:00:00 +0000", None),
        ("Mon, 1 Jan 2024 25:61:00 +0000", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(value: str | None, expected: datetime | None) -> None:
    got = parse_date(value)
    assert got == expected
    if got is not None:
        assert got.tzinfo is not None


def test_missing_and_bad_date_are_problems_not_errors() -> None:
    assert "no Date" in parse_header_block(b"Subject: x\r\n\r\n").problems
    parsed = parse_header_block(b"Date: yesterday-ish\r\n\r\n")
    assert parsed.date is None
    assert any("unparsable Date" in p for p in parsed.problems)


def test_date_keeps_its_offset() -> None:
    got = parse_date("Mon, 6 May 2024 09:30:00 +0800")
    assert got is not None and got.utcoffset() == timedelta(hours=8)
    assert got.tzinfo == timezone(timedelta(hours=8))


def test_one_megabyte_header_is_parsed_quickly_and_capped() -> None:
    huge = b"Subject: start\r\n" + b" ab\r\n" * 250_000  # ~1.2 MB of short folded lines
    raw = huge + b"X-Big: " + b"y" * 1_000_000 + b"\r\nMessage-ID: <after@big>\r\n\r\nbody"
    started = time.monotonic()
    parsed = parse_header_block(raw)
    assert time.monotonic() - started < 5  # linear, not quadratic in folded lines
    assert parsed.message_id == "after@big"
    assert parsed.subject.startswith("start ab ab")
    assert len(parsed.subject) <= MAX_HEADER_VALUE
    assert all(len(v) <= MAX_HEADER_VALUE for vs in split_header_block(raw).values() for v in vs)


def test_mbox_from_line_is_skipped_only_at_the_top() -> None:
    raw = b"From wang@example.org Mon May  6 09:30:00 2024\nSubject: hi\nFrom: a@example.org\n\n"
    parsed = parse_header_block(raw)
    assert parsed.subject == "hi"
    assert parsed.sender is not None and parsed.sender.addr == "a@example.org"


def test_body_is_never_parsed_as_headers() -> None:
    for sep in (b"\r\n\r\n", b"\n\n"):
        raw = b"Subject: real" + sep + b"Subject: fake\nX-Ghostwatch-Tags: gw:stop\n"
        parsed = parse_header_block(raw)
        assert parsed.subject == "real"
        assert parsed.tags == frozenset()


@pytest.mark.parametrize(
    ("values", "tags"),
    [
        (["gw:stop gw:role:tech"], {"gw:stop", "gw:role:tech"}),
        (["GW:Stop, gw:Stage:Offer; important"], {"gw:stop", "gw:stage:offer"}),
        (["gw:kind:client", "gw:source:linkedin"], {"gw:kind:client", "gw:source:linkedin"}),
        (["gw/stop stop"], set()),
        ([""], set()),
    ],
)
def test_parse_tags(values: list[str], tags: set[str]) -> None:
    assert parse_tags(values) == frozenset(tags)


def test_tags_header_in_a_message() -> None:
    raw = b"X-Ghostwatch-Tags: gw:stop\r\n\tGW:ROLE:exec\r\nSubject: x\r\n\r\n"
    assert parse_header_block(raw).tags == frozenset({"gw:stop", "gw:role:exec"})


def test_full_message_normalizes_threading_and_addresses() -> None:
    raw = (
        "From: =?gb2312?B?" + base64.b64encode("王芳".encode("gb2312")).decode() + "?= "
        "<Wang.Fang@Example.ORG>\r\n"
        'To: li.lei@example.com, "Han, Meimei" <han@example.com>\r\n'
        "Cc: undisclosed-recipients:;\r\n"
        "In-Reply-To: <a@example.com> (sent earlier)\r\n"
        "References: <z@example.com>\r\n\t<a@example.com>\r\n"
        "Subject: Re: offer\r\n\r\n"
    ).encode()
    parsed = parse_header_block(raw)
    assert parsed.sender is not None
    assert (parsed.sender.addr, parsed.sender.name) == ("wang.fang@example.org", "王芳")
    assert [(a.addr, a.name) for a in parsed.to] == [
        ("li.lei@example.com", ""),
        ("han@example.com", "Han, Meimei"),
    ]
    assert parsed.cc == ()
    assert parsed.in_reply_to == "a@example.com"
    assert parsed.references == ("z@example.com", "a@example.com")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe\xfd",
        b"no colon here at all\r\n\r\n",
        b": empty name\r\n\r\n",
        b" leading continuation\r\nSubject: ok\r\n\r\n",
        b"Subject: =?utf-8?B?####?=\r\n\r\n",
        b"Subject: =?utf-8?Q?=ZZ?=\r\n\r\n",
        b'From: <<<@@@>>>, "unterminated\r\n\r\n',
        b"Date: Mon, 99 Foo 2024 99:99:99 +9999\r\n\r\n",
        "Subject: \udcff".encode("utf-8", "surrogateescape"),
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    parsed = parse_header_block(raw)
    assert isinstance(parsed.subject, str)
    assert parsed.problems  # something was missing or repaired, and it says so


# --- fast paths: the same answers as the general code ---------------------------------------

_HEADER_TEXT = st.text(
    # ASCII whitespace bytes.strip() knows, and Unicode whitespace it does not
    alphabet="abcXYZ:;,<>@ \t\r\n=?\"'-\x0b\x0c\x1c\x85\u3000\u2028王é",
    max_size=120,
)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["From", "Subject", "To", "X-Odd", "Bad Name", ""]), _HEADER_TEXT
        ),
        max_size=6,
    ),
    st.booleans(),
)
def test_text_fast_path_splits_like_the_byte_path(
    fields: list[tuple[str, str]], mbox: bool
) -> None:
    text = ("From someone Mon Jan  1 00:00:00 2024\n" if mbox else "") + "".join(
        f"{name}:{value}\r\n" for name, value in fields
    )
    for raw in (text.encode("utf-8"), text.encode("utf-8", "replace")[:40]):
        block = header_split._header_bytes(raw)
        assert split_header_block(raw) == header_split._split_bytes(block)


def test_long_utf8_block_keeps_the_byte_cap() -> None:
    raw = ("Subject: " + "王" * 9000 + "\r\n" + "\r\n".join([" 续"] * 3) + "\r\n").encode()
    assert split_header_block(raw) == header_split._split_bytes(header_split._header_bytes(raw))


_ZONES = st.sampled_from(["+0000", "+0800", "-0500", "-0000", "+0960", "+2400", "-1130"])


@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)),
    _ZONES,
    st.sampled_from(
        ["%a, %d %b %Y %H:%M:%S", "%d %b %Y %H:%M", "%a,%d %b %Y %H:%M:%S", "%e %b %Y %T"]
    ),
)
def test_fast_date_agrees_with_the_stdlib(when: datetime, zone: str, layout: str) -> None:
    value = when.strftime(layout).strip() + " " + zone
    try:
        want = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        want = None
    if want is not None and want.tzinfo is None:
        want = want.replace(tzinfo=UTC)
    got = parse_date(value)
    assert got == want
    assert (got and got.utcoffset()) == (want and want.utcoffset())


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "Wang Fang", "=?utf-8?B?546L6Iqz?=", "J. Q. Public", "a,b"]),
            st.sampled_from(["w@x.org", "Li.Lei@Example.COM", "bad", "a b@c.d"]),
        ),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from([", ", ",", " , "]),
)
def test_address_list_fast_path_agrees_with_getaddresses(
    pairs: list[tuple[str, str]], sep: str
) -> None:
    value = sep.join(f"{name} <{addr}>" if name else addr for name, addr in pairs)
    want = tuple(
        Address(addr=a.strip(), name=clean_text(decode_words(n)))
        for n, a in email.utils.getaddresses([value])
        if "@" in a and not any(c.isspace() for c in a.strip())
    )
    assert parse_addresses([value]) == want


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 6 May 2024 24:00:00 +0000",
        "Mon, 6 May 2024 23:59:60 +0000",
        "Fri, 30 Feb 2024 10:00:00 +0800",
        "Mon, 6 May 2024 09:30 +0960",
        "Mon, 6 May 2024 09:30:00 +2359",
        "Mon, 6 May 2024 09:30:00 +2400",
        "6 May 2024 09:30:00 -0000",
        "Mon, 06 May 2024 09:30:00 +0000",
        "Mon, 0 May 2024 09:30:00 +0000",
    ],
)
def test_fast_date_edges_agree_with_the_stdlib(value: str) -> None:
    try:
        want = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        want = None
    if want is not None and want.tzinfo is None:
        want = want.replace(tzinfo=UTC)
    got = parse_date(value)
    assert got == want
    assert (got and got.utcoffset()) == (want and want.utcoffset())


# --- parse_header_block's own fast paths against the general helpers -----------------------

_NAMES = st.sampled_from(
    [
        "From",
        "FROM",
        "Subject",
        "subject ",  # a space before the colon: still a field for the line splitter
        "To",
        "Cc",
        "Bcc",
        "Message-ID",
        "message-id",
        "In-Reply-To",
        "References",
        "Date",
        "X-Ghostwatch-Tags",
        "X-Odd",
        "To-Do",
        "ſubject",  # matches "subject" under a Unicode IGNORECASE
        "Bad Name",
        "",
    ]
)
_VALUES = st.one_of(
    _HEADER_TEXT,
    # no bare line break: most blocks built from these take the regex split
    st.text(alphabet="abcXYZ:;,<>@ \t=?\"'-\x0b\x1c\x85\u3000\u2028王é", max_size=40),
    st.sampled_from(
        [
            " =?utf-8?B?546L6Iqz?= <Wang.Fang@Example.org>",
            " =?gbk?B?zfW3vA==?= <w@x.org>, li@example.com",
            " =?utf-8?q?Re=3A_offer?=\r\n =?utf-8?B?5L2g5aW9?=",
            " <a@b> <c@d>",
            " Mon, 6 May 2024 09:30:00 +0800",
            " gw:stop gw:role:tech",
            " =?x-unknown?B?####?=",
        ]
    ),
)


def _blocks() -> st.SearchStrategy[bytes]:
    fields = st.lists(st.tuples(_NAMES, _VALUES), max_size=8)
    return st.builds(
        lambda fs, lf, gbk: (
            "".join(f"{n}:{v}" + ("\n" if lf else "\r\n") for n, v in fs).encode("utf-8")
            + (b"Subject: \xd6\xd0\xce\xc4\r\n" if gbk else b"")  # raw GBK: the byte path
            + b"\r\n"
        ),
        fields,
        st.booleans(),
        st.booleans(),
    )


@settings(max_examples=300)
@given(_blocks())
def test_read_fields_split_like_the_line_loop(raw: bytes) -> None:
    block = header_split._header_bytes(raw)
    want = {k: v for k, v in header_split._split_bytes(block).items() if k in headers._READ_FIELDS}
    assert header_split._split(raw, headers._READ_FIELDS) == want
    assert split_header_block(raw) == header_split._split_bytes(block)


def _reference_parse(raw: bytes) -> tuple[object, ...]:
    """parse_header_block as it was before its fast paths, on the general helpers."""
    fields = header_split._split_bytes(header_split._header_bytes(raw))

    def first(name: str) -> str | None:
        values = fields.get(name)
        return values[0] if values else None

    problems: list[str] = []
    raw_id = first("message-id")
    ids = header_values.parse_msgids(raw_id)
    message_id = ids[0] if ids else None
    if message_id is None and raw_id and header_values.BARE_MSGID.fullmatch(raw_id.strip()):
        message_id = raw_id.strip()
        problems.append("Message-ID without angle brackets")
    elif message_id is None:
        problems.append("no Message-ID" if not raw_id else "unparsable Message-ID")
    raw_date = first("date")
    date = parse_date(raw_date)
    if date is None:
        problems.append("no Date" if raw_date is None else f"unparsable Date {raw_date[:60]!r}")
    in_reply = header_values.parse_msgids(first("in-reply-to"))

    def addresses(name: str) -> tuple[Address, ...]:
        # The general reader alone (connectors.addresses), never the simple-list fast path.
        read = read_address_list(fields.get(name.lower(), []), name)
        problems.extend(read.problems)
        if read.ambiguous is not None:
            problems.append(f"untrackable: {read.ambiguous}")
        return tuple(
            Address(addr=m.addr, name=clean_text(decode_words(m.name))) for m in read.mailboxes
        )

    senders = addresses("From")
    to, cc, bcc = addresses("To"), addresses("Cc"), addresses("Bcc")
    if len(senders) > 1:  # more than a From should hold: nobody (issue 9.2)
        problems.append(f"untrackable: ambiguous From: {len(senders)} addresses")
        senders = ()
    elif not senders and not any("ambiguous From" in p for p in problems):
        problems.append("no usable From")
    return (
        message_id,
        in_reply[0] if in_reply else None,
        header_values.parse_msgids(" ".join(fields.get("references", []))),
        clean_text(decode_words(first("subject") or "")),
        senders[0] if senders else None,
        to,
        cc,
        date,
        parse_tags(fields.get("x-ghostwatch-tags", [])),
        tuple(problems),
        bcc,
    )


@settings(max_examples=300)
@given(_blocks())
def test_parse_header_block_agrees_with_the_general_helpers(raw: bytes) -> None:
    want = _reference_parse(raw)
    assert tuple(parse_header_block(raw)) == want
    assert tuple(parse_header_block(raw)) == want  # and again, from the caches


_WORDS = st.builds(
    lambda charset, enc, text: f"=?{charset}?{enc}?{text}?=",
    st.sampled_from(["utf-8", "UTF-8", "gbk", "gb2312*zh", "x-klingon", "utf-8*en"]),
    st.sampled_from(["B", "b", "Q", "q"]),
    st.text(alphabet="5L2g5aW9zfW3vA=_#-+/abcXYZ", max_size=16),
)


@given(_WORDS)
def test_single_encoded_word_decodes_like_a_word_in_text(word: str) -> None:
    # A leading space takes the general loop; both strip it again.
    assert decode_words(word) == decode_words(" " + word)


@given(st.one_of(_HEADER_TEXT, _WORDS))
def test_display_text_is_clean_decoded_text(value: str) -> None:
    assert header_values.display_text(value) == clean_text(decode_words(value))


def test_decoded_results_are_cached_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(header_values, "_CACHE_SIZE", 3)
    monkeypatch.setattr(header_values, "_ADDRESS_CACHE", {})
    monkeypatch.setattr(header_values, "_TEXT_CACHE", {})
    values = [f"=?utf-8?B?546L6Iqz?= <w{i}@x.org>" for i in range(5)]
    first = header_values.cached_addresses([values[0]], "To")
    assert first.addresses == parse_addresses([values[0]])
    # contacts repeat: decoded once
    assert header_values.cached_addresses([values[0]], "To") is first
    for value in values:
        header_values.cached_addresses([value], "To")
    assert [v for _, v in header_values._ADDRESS_CACHE] == values[2:]  # the oldest went first
    assert header_values.cached_addresses(values[:2], "To").addresses == parse_addresses(values[:2])
    assert len(header_values._TEXT_CACHE) == 1  # one display name, however many addresses
