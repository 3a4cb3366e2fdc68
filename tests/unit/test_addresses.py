"""connectors/addresses.py: the address is the addr-spec, and a field that reads two ways
names nobody (issue 9.2)."""

from __future__ import annotations

import pytest

from connectors.addresses import read_address_list
from connectors.header_values import parse_address_field
from connectors.headers import parse_header_block
from daemon.classify.message import first_address


def specs(value: str) -> tuple[str, ...] | str:
    read = read_address_list([value], "To")
    return read.ambiguous or tuple(m.addr for m in read.mailboxes)


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("w@x.org", ("w@x.org",)),
        ("Wang Fang <w@x.org>", ("w@x.org",)),
        ('"Li, Lei" <li@x.org>, a@b.example', ("li@x.org", "a@b.example")),
        ("w@x.org (Wang Fang)", ("w@x.org",)),
        ('"w@x.org" <w@x.org>', ("w@x.org",)),  # the address as its own name is common
        ("undisclosed-recipients:;", ()),
        ("team: a@x.org, B <b@x.org>;, c@y.org", ("a@x.org", "b@x.org", "c@y.org")),
        ("<@relay.example:u@h.org>", ("u@h.org",)),
        ("=?utf-8?b?!!!not-base64?= <c9e@c.example>", ("c9e@c.example",)),
        # An encoded word is opaque to every parser: its text never becomes an address.
        ("=?utf-8?q?evil=40x.example?= <c9e@c.example>", ("c9e@c.example",)),
        ("Na.me w@x.org", ()),  # no one address: skipped, as before
    ],
)
def test_ordinary_address_lists(value: str, want: tuple[str, ...]) -> None:
    assert specs(value) == want


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ('"Carl\rBcc: attacker@x.example" <c9e@c.example>', "only inside a display name"),
        ('"Carl\nBcc: attacker@x.example" <c9e@c.example>', "only inside a display name"),
        ("alice@x.example <c9e@c.example>", "outside the angle brackets"),
        ('"x" (evil@x.example) <c9e@c.example>', "only inside a display name"),
        ("A <a@x.org> <b@y.org>", "two addresses in one mailbox"),
        ('"unclosed <a@x.org>', "unclosed quote"),
        ("(unclosed <a@x.org>", "unclosed comment"),
        ("A <a@x.org", "angle brackets"),
        ("A a@x.org> b", "angle brackets"),
        ("A <a@x.org> trailing", "text after an address"),
    ],
)
def test_what_reads_two_ways_names_nobody(value: str, why: str) -> None:
    found = specs(value)
    assert isinstance(found, str) and why in found


def test_cr_lf_nul_are_neutralised_before_reading() -> None:
    read = read_address_list(["Carl\x00 Jensen <c@x.org>"], "To")
    assert [m.addr for m in read.mailboxes] == ["c@x.org"]
    assert read.problems == ("CR, LF or NUL in To replaced by spaces",)


def test_header_block_marks_the_message_untrackable_with_the_reason() -> None:
    raw = (
        b"From: li@hunter.example\r\n"
        b'To: "Carl\rBcc: attacker@x.example" <c9e@c.example>\r\n'
        b"Subject: hi\r\n\r\n"
    )
    parsed = parse_header_block(raw)
    assert parsed.to == ()
    assert "untrackable: ambiguous To: an address appears only inside a display name" in (
        parsed.problems
    )


def test_two_from_addresses_are_more_than_a_from_should_hold() -> None:
    parsed = parse_header_block(b"From: a@x.org, b@y.org\r\nTo: c@z.org\r\n\r\n")
    assert parsed.sender is None
    assert "untrackable: ambiguous From: 2 addresses" in parsed.problems


def test_an_encoded_name_holding_an_address_keeps_the_addr_spec() -> None:
    field = parse_address_field(["=?utf-8?q?evil=40x.example?= <c9e@c.example>"], "To")
    assert [a.addr for a in field.addresses] == ["c9e@c.example"]
    assert field.addresses[0].name == "evil@x.example"  # the composer writes it bare


def test_the_classifier_reads_from_with_the_same_rules() -> None:
    assert first_address('"Carl\rBcc: attacker@x.example" <c9e@c.example>') == ("", "")
    assert first_address("Wang <W@X.org>") == ("Wang", "w@x.org")
    assert first_address("MAILER-DAEMON") == ("", "mailer-daemon")
