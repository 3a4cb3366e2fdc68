"""connectors/compose.py: drafts that mail clients thread and nobody can inject into."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest

from connectors.compose import build_draft, content_hash, reply_subject
from connectors.errors import Permanent
from connectors.header_split import split_header_block
from connectors.headers import parse_header_block
from connectors.model import Address, DraftSpec

NOW = datetime(2024, 5, 6, 9, 30, tzinfo=UTC)


def spec(**overrides: object) -> DraftSpec:
    fields: dict[str, object] = {
        "key": "seq7.2",
        "message_id": "gw.seq7.2@ghostwatch.invalid",
        "sender": Address("li.lei@example.com", "李雷"),
        "to": (Address("wang.fang@example.org", "Wang Fang"),),
        "subject": "Re: Senior Python role",
        "body": "Hi Fang,\n\nany news?\n\n李雷\n",
        "in_reply_to": "orig@example.com",
        "references": ("root@example.com", "orig@example.com"),
    }
    fields.update(overrides)
    return DraftSpec(**fields)  # type: ignore[arg-type]


def header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def test_draft_has_every_header_a_client_needs_to_thread_it() -> None:
    raw = build_draft(spec(), now=NOW)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Message-ID"] == "<gw.seq7.2@ghostwatch.invalid>"
    assert msg["In-Reply-To"] == "<orig@example.com>"
    assert msg["References"] == "<root@example.com> <orig@example.com>"
    assert msg["X-Ghostwatch-Key"] == "seq7.2"
    assert msg["Date"] == "Mon, 06 May 2024 09:30:00 +0000"
    assert msg["Subject"] == "Re: Senior Python role"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content().replace("\r\n", "\n") == "Hi Fang,\n\nany news?\n\n李雷\n"
    parsed = parse_header_block(raw)
    assert parsed.sender == Address("li.lei@example.com", "李雷")
    assert parsed.to == (Address("wang.fang@example.org", "Wang Fang"),)
    assert parsed.problems == ()


def test_output_is_crlf_7bit_and_within_line_limits() -> None:
    raw = build_draft(spec(subject="Re: " + "很长的主题 long subject " * 100), now=NOW)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.isascii()  # non-ASCII travels as RFC 2047 words and a transfer encoding
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


@pytest.mark.parametrize(
    "subject",
    [
        "Re: " + "很长的主题 long subject " * 100,
        "Re: " + "word " * 400,  # 2,000 ASCII characters
        "Re: " + "x" * 2000,  # one unbreakable token
        "Re: offer 录用 letter",
        "  Re:   spaced    out  ",
    ],
)
def test_long_and_mixed_subjects_round_trip(subject: str) -> None:
    raw = build_draft(spec(subject=subject), now=NOW)
    expected = " ".join(subject.split())
    assert parse_header_block(raw).subject == expected
    assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"] == expected
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


@pytest.mark.parametrize(
    "hostile",
    [
        "Fang\r\nBcc: evil@example.net",
        "Fang\nBcc: evil@example.net",
        "Fang\rBcc: evil@example.net",
        "Fang\x85Bcc: evil@example.net",
        "Fang\u2028Bcc: evil@example.net",
        "王芳\r\nBcc: evil@example.net",
        "Fang\x00\x1b[31m",
    ],
)
def test_no_input_can_add_a_header(hostile: str) -> None:
    raw = build_draft(
        spec(
            sender=Address("li.lei@example.com", hostile),
            to=(Address("wang.fang@example.org", hostile),),
            subject=hostile,
            key="seq7.2\r\nBcc: evil@example.net",
            message_id="gw@x\r\nBcc: evil@example.net",
            in_reply_to="a@b>\r\nBcc: evil@example.net",
            references=("c@d\r\nBcc: evil@example.net",),
        ),
        now=NOW,
    )
    fields = split_header_block(raw)
    assert "bcc" not in fields
    assert all(b"Bcc:" not in line[:4] for line in header_lines(raw))
    for line in header_lines(raw):
        assert not any(c < 0x20 and c != 0x09 for c in line)


def test_names_with_specials_are_quoted() -> None:
    raw = build_draft(spec(to=(Address("han@example.com", 'Han, "Mei" <boss>'),)), now=NOW)
    assert parse_header_block(raw).to == (Address("han@example.com", 'Han, "Mei" <boss>'),)


def test_several_recipients_and_long_non_ascii_names_fold() -> None:
    to = (Address("a@example.org", "欧阳" * 40), Address("b@example.org", "B"))
    raw = build_draft(spec(to=to), now=NOW)
    assert parse_header_block(raw).to == to
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


def test_international_domain_is_punycoded() -> None:
    raw = build_draft(spec(to=(Address("hr@例子.中国", ""),)), now=NOW)
    assert parse_header_block(raw).to[0].addr == "hr@xn--fsqu00a.xn--fiqs8s"


@pytest.mark.parametrize(
    "bad",
    [
        {"to": ()},
        {"to": (Address("not-an-address", "x"),)},
        {"to": (Address("a@b@", "x"),)},
        {"to": (Address("a<b>@example.org", "x"),)},
        {"to": (Address("王@example.org", "x"),)},
        {"message_id": "<>"},
        {"message_id": "x" * 2000},
    ],
)
def test_unusable_input_is_a_permanent_error(bad: dict[str, object]) -> None:
    with pytest.raises(Permanent):
        build_draft(spec(**bad), now=NOW)


def test_references_without_parent_gain_it_and_bad_ids_are_dropped() -> None:
    raw = build_draft(spec(references=("", "  ", "root@example.com")), now=NOW)
    assert parse_header_block(raw).references == ("root@example.com", "orig@example.com")
    raw = build_draft(spec(in_reply_to=None, references=()), now=NOW)
    fields = split_header_block(raw)
    assert "in-reply-to" not in fields and "references" not in fields


def test_many_references_fold_and_stay_whole() -> None:
    refs = tuple(f"ref{i}.some-long-identifier@mail.example.com" for i in range(30))
    raw = build_draft(spec(references=refs, in_reply_to=refs[-1]), now=NOW)
    assert parse_header_block(raw).references == refs
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


def test_same_spec_same_time_same_bytes() -> None:
    assert build_draft(spec(), now=NOW) == build_draft(spec(), now=NOW)


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Senior Python role", "Re: Senior Python role"),
        ("Re: Senior Python role", "Re: Senior Python role"),
        ("RE: re: Re: x", "Re: x"),
        ("Aw: AW: x", "Re: x"),
        ("SV: x", "Re: x"),
        ("Antw: x", "Re: x"),
        ("VS: x", "Re: x"),
        ("Re[2]: x", "Re: x"),
        ("Re(3): x", "Re: x"),
        ("回复: x", "Re: x"),
        ("回复：面试安排", "Re: 面试安排"),
        ("回覆：面試", "Re: 面試"),
        ("答复: Re: 回复：x", "Re: x"),
        ("Fwd: x", "Re: Fwd: x"),
        ("Re: Fwd: Re: x", "Re: Fwd: Re: x"),
        ("Research update", "Re: Research update"),
        ("Area: Beijing", "Re: Area: Beijing"),
        ("  Re:x  ", "Re: x"),
        ("Re:\r\n line", "Re: line"),
        ("", "Re:"),
        ("Re:", "Re:"),
    ],
)
def test_reply_subject(original: str, expected: str) -> None:
    assert reply_subject(original) == expected


def test_content_hash_ignores_line_endings_and_trailing_space_only() -> None:
    raw = build_draft(spec(), now=NOW)
    assert content_hash(raw) == content_hash(raw.replace(b"\r\n", b"\n"))
    assert content_hash(raw) == content_hash(raw + b"\r\n\r\n")
    assert content_hash(raw) == content_hash(raw.replace(b"\r\n", b" \r\n", 1))
    edited = build_draft(spec(body="Hi Fang,\n\nany news? I called too.\n"), now=NOW)
    assert content_hash(raw) != content_hash(edited)
    assert len(content_hash(raw)) == 64
