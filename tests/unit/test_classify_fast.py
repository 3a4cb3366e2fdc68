"""The classifier's shortcuts (header-only fast path, caches) give the verdicts of the long way."""

from __future__ import annotations

import itertools
import random

import pytest

from connectors.header_split import MAX_HEADER_VALUE, split_header_block
from connectors.header_text import clean_text, decode_words
from daemon import classify
from daemon.classify import HEADER_PASS_FIELDS, autoreply, bounce, bulk
from daemon.classify.evidence import RARE_HEADERS, Evidence, gather
from daemon.classify.message import (
    FieldSplitter,
    MailView,
    content_type_of,
    first_address,
    header_text,
    view_of,
)


def _reference_gather(view: MailView) -> Evidence:
    """Evidence computed rule by rule, with no fast path and no cache."""
    name, addr = first_address.__wrapped__(clean_text(decode_words(view.fields["from"][0])))
    ctype, params = content_type_of(view.value("content-type"))
    return_path = view.value("return-path").replace(" ", "").lower()
    failed = tuple(
        a.strip().strip("<>").lower()
        for v in view.all_values("x-failed-recipients")
        for a in v.split(",")
        if "@" in a
    )
    return Evidence(
        sender_name=name,
        sender=addr,
        mta_sender=bounce.is_mta_sender(name, addr),
        null_return_path=return_path in ("<>", "<mailer-daemon>", "mailer-daemon"),
        bounce_subject=bounce.bounce_subject(view.subject),
        failed_recipients=failed,
        content_type=ctype,
        report_type=params.get("report-type", "") if ctype == "multipart/report" else "",
        auto_header=autoreply.header_evidence(view),
        auto_weak=autoreply.weak_evidence(view),
        auto_generated=autoreply.auto_generated(view),
        auto_subject=autoreply.subject_marks(view.subject),
        list_header=bulk.list_evidence(view),
        precedence_bulk=bulk.precedence_bulk(view),
        automated_sender=bulk.automated_sender(addr),
        verp=bulk.verp_return_path(view),
    )


_SENDERS = (
    "Wang Fang <wang@client.cn>",
    "=?UTF-8?B?5p2O5aic?= <li.na@talentbridge.cn>",
    "MAILER-DAEMON@mx.example",
    "noreply@jobs.example",
    '"Smith, J." <j.smith@corp.example>',
    "<>",
)
_SUBJECTS = (
    "Quick question",
    "Re: Data Scientist",
    "Automatic reply: Data Scientist",
    "Undelivered Mail Returned to Sender",
    "=?GBK?B?19S2r7vYuLQ=?=",
    "自动回复: 你好",
)
_EXTRAS = (
    (),
    ("Return-Path: <>",),
    ("Return-Path: <bounces+123@mailer.example>",),
    ("Content-Type: multipart/report; report-type=delivery-status; boundary=x",),
    *((f"{name}: {value}",) for name in sorted(RARE_HEADERS) for value in ("yes", "bulk", "no")),
    ("Precedence: bulk", "List-Unsubscribe: <mailto:u@x>"),
    ("X-Auto-Response-Suppress: All", "X-MS-Exchange-Inbox-Rules-Loop: a@b"),
)


def _blocks() -> list[bytes]:
    blocks = []
    for sender, subject, extra in itertools.product(_SENDERS, _SUBJECTS, _EXTRAS):
        lines = [f"From: {sender}", "To: li.na@talentbridge.cn", f"Subject: {subject}", *extra]
        blocks.append(("\r\n".join(lines) + "\r\n\r\n").encode())
    return blocks


@pytest.mark.parametrize("block", _blocks())
def test_evidence_fast_path_matches_every_rule(block: bytes) -> None:
    view = view_of(block)
    assert gather(view) == _reference_gather(view_of(block))


@pytest.mark.parametrize("block", _blocks()[::7])
def test_a_prepared_view_classifies_like_the_bytes(block: bytes) -> None:
    by_view = classify.classify(view_of(block), has_body=False)
    assert by_view == classify.classify(block, has_body=False)


def test_header_text_is_clean_text_of_decode_words() -> None:
    rng = random.Random(7)
    alphabet = [
        "a", " ", "\t", "\n", "\r", "=?", "?=", "=?utf-8?b?5Lit?=", "=?gbk?q?=D6=D0?=",
        "\u3000", "\u2028", "\x85", "\x00", "\x7f", "中", "<", "@", "\ufeff", "\xa0",
    ]  # fmt: skip
    for _ in range(20_000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        assert header_text(value) == clean_text(decode_words(value)), repr(value)
        assert first_address(value) == first_address.__wrapped__(value), repr(value)


def _odd_blocks() -> list[bytes]:
    """Header blocks with everything a line splitter can trip over, seeded."""
    rng = random.Random(11)
    names = [
        "From", "from", "FROM", "Subject", "Content-Type", "Return-Path", "List-Id",
        "List-Unsubscribe", "Precedence", "X-Failed-Recipients", "Auto-Submitted", "To",
        "Message-ID", "X-Other", "\u017fubject", "Subject ", " Subject", "Sub ject", "",
        "X-Autorespond", "X-Autoresponder", "x-autoreply", "Received",
    ]  # fmt: skip
    values = [
        " plain", "", ":", " =?UTF-8?B?5p2O5aic?= <a@b.c>", " 中文", " a\tb ", " \x0b",
        " <>", " multipart/report; report-type=delivery-status", " x" * 40,
    ]  # fmt: skip
    extras = ["From sender@x Mon Jan 1", " stray continuation", "\tfolded", "no colon", "\r"]
    blocks: list[bytes] = []
    for _ in range(3000):
        lines: list[str] = []
        for _ in range(rng.randint(0, 8)):
            if rng.random() < 0.1:
                lines.append(rng.choice(extras))
            else:
                lines.append(f"{rng.choice(names)}:{rng.choice(values)}")
                if rng.random() < 0.2:
                    lines.append(rng.choice([" more", "\tmore", "  "]))
        sep = rng.choice(["\r\n", "\n"])
        block = (sep.join(lines) + sep * rng.randint(0, 2) + rng.choice(["", "Body: x"])).encode()
        if rng.random() < 0.1:
            block = block.replace("中".encode(), "中".encode("gbk"))
        blocks.append(block)
    long_value = b"Subject: " + b"y" * (MAX_HEADER_VALUE + 10) + b"\r\nFrom: a@b.c\r\n\r\n"
    return [*blocks, long_value, b"", b"\r\n\r\n"]


@pytest.mark.parametrize("names", [HEADER_PASS_FIELDS, frozenset({"subject"}), frozenset()])
def test_the_field_splitter_splits_like_split_header_block(names: frozenset[str]) -> None:
    splitter = FieldSplitter(names)
    for block in [*_odd_blocks(), *_blocks()]:
        whole = split_header_block(block)
        assert splitter.split(block) == {k: v for k, v in whole.items() if k in names}, block


@pytest.mark.parametrize("block", _blocks())
def test_the_header_pass_view_gives_the_evidence_of_the_full_view(block: bytes) -> None:
    assert gather(classify.header_view(block)) == gather(view_of(block))
    assert classify.classify(classify.header_view(block), has_body=False) == classify.classify(
        block, has_body=False
    )


class _Recording(dict[str, list[str]]):
    """A fields dict that remembers every name looked up."""

    def __init__(self, fields: dict[str, list[str]], seen: set[str]) -> None:
        super().__init__(fields)
        self.seen = seen

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> list[str]:
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.seen.add(str(key))
        return super().__contains__(key)


def test_the_header_pass_reads_only_header_pass_fields() -> None:
    """A rule that starts reading another field must add it to HEADER_PASS_FIELDS."""
    seen: set[str] = set()
    for block in [*_blocks(), *_odd_blocks()[:500]]:
        view = view_of(block)
        recording = MailView(fields=_Recording(view.fields, seen), raw=view.raw)
        classify.classify(recording, has_body=False)
    assert seen, "the recording saw nothing: the test no longer observes the classifier"
    assert seen <= HEADER_PASS_FIELDS, sorted(seen - HEADER_PASS_FIELDS)


def test_a_header_pass_view_given_a_body_reads_every_field() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example\r\nTo: li.na@talentbridge.cn\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nDate: Fri, 12 Dec 2025 17:55:37 +0800\r\n"
        b"Content-Type: text/plain\r\n\r\n"
        b"This is the mail system. <bob@gone.example>: host said: 550 5.1.1 User unknown\r\n"
    )
    assert classify.classify(classify.header_view(raw), has_body=True) == classify.classify(raw)
