"""The classifier's shortcuts (header-only fast path, caches) give the verdicts of the long way."""

from __future__ import annotations

import itertools
import random

import pytest

from connectors.headers import clean_text, decode_words
from daemon import classify
from daemon.classify import autoreply, bounce, bulk
from daemon.classify.evidence import _RARE_HEADERS, Evidence, gather
from daemon.classify.message import MailView, content_type_of, first_address, header_text, view_of


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
    *((f"{name}: {value}",) for name in sorted(_RARE_HEADERS) for value in ("yes", "bulk", "no")),
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
