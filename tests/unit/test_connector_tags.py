"""gw: tags as connectors hand them on: keys and selecting values folded, the job kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.memory import MemoryMailbox
from connectors.model import MailMessage
from connectors.tags import normalize_tag, split_tag_header


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("GW:Role:Exec", "gw:role:exec"),
        (" gw:STOP ", "gw:stop"),
        ("GW:Title:Senior  PM", "gw:title:Senior PM"),
        ("gw:company: ACME Labs ", "gw:company:ACME Labs"),
        ("gw:company:示例科技", "gw:company:示例科技"),
        ("Important", None),
    ],
)
def test_normalize_tag(raw: str, expected: str | None) -> None:
    assert normalize_tag(raw) == expected


def test_a_header_keeps_spaces_inside_a_title_but_not_inside_selecting_tags() -> None:
    header = "gw:stop gw:role:Tech, gw:title:Senior PM gw:company:ACME Labs; note GW:Stage:Offer"
    assert split_tag_header(header) == [
        "gw:stop",
        "gw:role:tech",
        "gw:title:Senior PM",
        "gw:company:ACME Labs",
        "gw:stage:offer",
    ]


def test_the_memory_mailbox_keeps_the_case_of_title_and_company() -> None:
    box = MemoryMailbox()
    raw = b"Message-ID: <a@example.org>\r\nDate: Mon, 2 Nov 2026 10:00 +0800\r\n\r\nbody\r\n"
    box.deliver("INBOX", raw, tags=["GW:Role:Exec", "gw:Company:ACME Labs"])
    since = datetime(2026, 1, 1, tzinfo=UTC)
    changes = [c for b in box.fetch_changes(None, since=since, header_fields=()) for c in b.changes]
    (msg,) = changes
    assert isinstance(msg, MailMessage)
    assert msg.tags == frozenset({"gw:role:exec", "gw:company:ACME Labs"})


def test_the_maildir_header_keeps_case_spaces_and_encoded_text() -> None:
    from email.header import Header

    from connectors.header_values import parse_tags

    encoded = Header("gw:company:示例科技集团, gw:title:Senior PM", "utf-8").encode()
    assert "=?utf-8?" in encoded
    assert parse_tags([encoded, "GW:Stop gw:Role:Exec"]) == {
        "gw:company:示例科技集团",
        "gw:title:Senior PM",
        "gw:stop",
        "gw:role:exec",
    }


def test_imap_keywords_keep_the_case_of_a_company_only() -> None:
    from connectors.imap.normalize import split_flags

    tags, flags = split_flags((b"GW:Role:Exec", b"gw:company:ACME", b"\\Seen", b"\\Recent"))
    assert tags == {"gw:role:exec", "gw:company:ACME"}
    assert flags == {"\\Seen"}
