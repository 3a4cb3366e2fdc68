"""Issue 9.12, pure paths: address and header parsing, compose and the greeting, fed
hostile values (CR, LF, NUL, bidi controls, bad encoded words, 10,000-character names,
template syntax)."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from connectors.compose import build_draft
from connectors.errors import Permanent
from connectors.header_split import split_header_block
from connectors.header_values import parse_addresses
from connectors.headers import parse_header_block
from connectors.model import Address, DraftSpec
from daemon.act.wording import salutation
from tests.fuzz.strategies import (
    BIDI,
    FUZZ,
    addr_specs,
    address_headers,
    dates,
    display_names,
    hostile_text,
    message_ids,
    quoted,
)

ADDR_SPEC = re.compile(r"[^\s\x00-\x1f\x7f<>()\[\],;:\"\\@]+@[^\s\x00-\x1f\x7f<>()\[\],;:\"\\@]+")
LINE_BREAKERS = ("\r", "\n", "\x00")


def _block(fields: list[tuple[str, str | None]]) -> bytes:
    lines = [f"{name}: {value}" for name, value in fields if value is not None]
    return ("\r\n".join(lines) + "\r\n\r\nbody\r\n").encode("utf-8", "surrogatepass")


@FUZZ
@given(address_headers, address_headers, dates, message_ids)
def test_every_parsed_address_is_an_addr_spec_written_in_its_own_field(
    to: str, sender: str, date: str | None, message_id: str | None
) -> None:
    raw = _block([("From", sender), ("To", to), ("Date", date), ("Message-ID", message_id)])
    parsed = parse_header_block(raw)  # never raises
    fields = split_header_block(raw)
    for field, found in (("to", parsed.to), ("from", (parsed.sender,) if parsed.sender else ())):
        text = " ".join(fields.get(field, [])).lower()
        for address in found:
            assert ADDR_SPEC.fullmatch(address.addr), address
            assert address.addr in text
            assert not any(c in address.name for c in LINE_BREAKERS)
    if parsed.date is not None:
        assert parsed.date.tzinfo is not None


@FUZZ
@given(st.lists(st.tuples(display_names, addr_specs), min_size=1, max_size=4))
def test_a_quoted_display_name_never_adds_or_changes_an_address(
    pairs: list[tuple[str, str]],
) -> None:
    value = ", ".join(f"{quoted(name)} <{addr}>" for name, addr in pairs)
    found = [a.addr for a in parse_addresses([value])]
    meant = [addr for _, addr in pairs]
    assert set(found) <= set(meant)  # never an address from inside a name
    tame = all(
        not any(c in name for c in (*LINE_BREAKERS, "@", "=?")) and "\\" not in name
        for name, _ in pairs
    )
    if tame:
        assert found == meant  # and nothing lost when no name is suspicious


@FUZZ
@given(display_names, addr_specs, hostile_text, st.lists(hostile_text, max_size=4), hostile_text)
def test_compose_never_injects_a_header(
    name: str, addr: str, subject: str, references: list[str], body: str
) -> None:
    spec = DraftSpec(
        key="s0123456789abcde.1",
        message_id="gw.s0123456789abcde.1@hunter.example",
        sender=Address("li.lei@hunter.example", "李雷"),
        to=(Address(addr, name),),
        subject=subject,
        body=body,
        in_reply_to=references[0] if references else None,
        references=tuple(references),
    )
    try:
        raw = build_draft(spec, now=datetime(2026, 11, 3, tzinfo=UTC))
    except Permanent:
        return  # refused with a reason: fine, never a broken draft
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in head.replace(b"\r\n", b"")  # no bare LF
    assert b"\r" not in head.replace(b"\r\n", b"")  # no bare CR
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    names = [n.lower() for n in msg]
    allowed = {
        *("from", "to", "subject", "date", "message-id", "in-reply-to", "references"),
        *("x-ghostwatch-key", "mime-version", "content-type", "content-transfer-encoding"),
    }
    assert set(names) <= allowed and len(names) == len(set(names))
    assert [a.addr for a in parse_addresses([msg.get("To", "")])] == [addr]


@FUZZ
@given(display_names, st.sampled_from(["en", "zh-CN"]))
def test_the_greeting_is_one_clean_line_and_never_template_syntax(name: str, locale: str) -> None:
    line = salutation(name, locale)
    assert line.isprintable() and not any(c in line for c in BIDI)
    assert "{%" not in line and "{{" not in line and "@" not in line
    assert len(line) < 80
