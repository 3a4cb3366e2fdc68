"""Classifier rules, one crafted message per rule, including the tricky cases.

The messages are small hand-made imitations of what real MTAs and responders
send; the real-mail evaluation lives in test_classify_corpus.py.
"""

from __future__ import annotations

import base64
import email
import time
from datetime import UTC, date, datetime

import pytest

from daemon.classify import HEADER_FIELDS, BounceInfo, Classification, classification_json, classify

Header = tuple[str, str | bytes]


def encoded_word(text: str, charset: str) -> str:
    return f"=?{charset}?b?{base64.b64encode(text.encode(charset)).decode()}?="


def build(headers: list[Header], body: str | bytes = "Hello,\n\nThanks.\n") -> bytes:
    lines: list[bytes] = []
    for name, value in headers:
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        lines.append(name.encode("ascii") + b": " + raw)
    payload = body if isinstance(body, bytes) else body.encode("utf-8")
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload


BASE = [
    ("From", "Wang Fang <wang.fang@candidate.example>"),
    ("To", "li.lei@example.com"),
    ("Subject", "Re: Senior Backend Engineer role"),
    ("Date", "Fri, 20 Nov 2026 10:00:00 +0800"),
    ("Message-ID", "<abc@candidate.example>"),
]


def human(*extra: Header, body: str = "Sounds good, let's talk Monday.\n") -> bytes:
    return build([*BASE, *extra], body)


def dsn(
    *,
    status: str = "5.1.1",
    action: str = "failed",
    recipient: str = "gone@candidate.example",
    extra: tuple[tuple[str, str], ...] = (),
    notice: str = "This is the mail system at host mx.example.com.\n\nI'm sorry to have to "
    "inform you that your message could not be delivered.\n",
    sender: str = "MAILER-DAEMON@mx.example.com (Mail Delivery System)",
) -> bytes:
    headers = [
        ("From", sender),
        ("To", "li.lei@example.com"),
        ("Subject", "Undelivered Mail Returned to Sender"),
        ("Date", "Fri, 20 Nov 2026 10:00:00 +0800"),
        ("Message-ID", "<dsn1@mx.example.com>"),
        ("Return-Path", "<>"),
        *extra,
        ("MIME-Version", "1.0"),
        ("Content-Type", 'multipart/report; report-type=delivery-status; boundary="B"'),
    ]
    body = (
        "--B\r\nContent-Type: text/plain\r\n\r\n" + notice + "\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} sorry\r\n\r\n"
        "--B\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: li.lei@example.com\r\nTo: someone-else@example.org\r\nSubject: hi\r\n\r\nhi\r\n"
        "--B--\r\n"
    )
    return build(headers, body)


def headers_only(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"


# --- auto-replies: header evidence decides --------------------------------

AUTO_HEADER_CASES = [
    ("auto-submitted", [("Auto-Submitted", "auto-replied (vacation)")], "Auto-Submitted"),
    ("x-autoreply", [("X-Autoreply", "yes")], "X-Autoreply"),
    ("x-autorespond", [("X-Autorespond", "Thanks")], "X-Autorespond"),
    ("precedence", [("Precedence", "auto_reply")], "Precedence: auto_reply"),
    ("qq holiday", [("X-QQ-HolidayReply", "true")], "X-QQ-HolidayReply"),
    ("apple vacation", [("X-Apple-Action", "VACATION")], "X-Apple-Action"),
]


@pytest.mark.parametrize(
    ("extra", "evidence"), [c[1:] for c in AUTO_HEADER_CASES], ids=[c[0] for c in AUTO_HEADER_CASES]
)
def test_auto_reply_headers(extra: list[tuple[str, str]], evidence: str) -> None:
    raw = human(*extra, body="I am out of the office.\n")
    verdict = classify(headers_only(raw), has_body=False)
    assert verdict.kind == "auto_reply"
    assert evidence in verdict.reason
    assert verdict.needs_body  # the body may state a return date
    assert classify(raw).kind == "auto_reply"


def test_auto_submitted_no_is_not_evidence() -> None:
    assert classify(human(("Auto-Submitted", "no"))).kind == "human"


SUBJECT_CASES = [
    "自动回复: Re: 高级后端工程师",
    "自动答复: 面试安排",
    "Automatic reply: Senior Backend Engineer role",
    "Out of Office: Senior Backend Engineer role",
    "Abwesenheitsnotiz: Ihre Bewerbung",
    "Réponse automatique : votre candidature",
    "Respuesta automática: su candidatura",
    "自動応答: ご連絡",
    "자동 회신: 채용 건",
]


@pytest.mark.parametrize("subject", SUBJECT_CASES)
def test_auto_reply_subjects_with_null_sender(subject: str) -> None:
    raw = build([("Subject", subject), ("Return-Path", "<>"), *BASE[:2], *BASE[3:]])
    verdict = classify(raw)
    assert verdict.kind == "auto_reply", verdict.reason
    assert "subject" in verdict.reason


def test_exchange_oof_marker_with_subject() -> None:
    raw = human(
        ("X-Auto-Response-Suppress", "All"),
        ("X-MS-Exchange-Inbox-Rules-Loop", "wang.fang@candidate.example"),
    )
    raw = raw.replace(b"Re: Senior Backend", b"Automatic reply: Senior Backend")
    assert classify(raw).kind == "auto_reply"


def test_precedence_junk_alone_needs_the_body() -> None:
    responder = human(("Precedence", "junk"), body="I am on vacation and will reply later.\n")
    assert classify(headers_only(responder), has_body=False).needs_body
    assert classify(responder).kind == "auto_reply"
    mailing = human(("Precedence", "bulk"), body="Our autumn catalogue is out.\n")
    assert classify(mailing).kind == "bulk"


def test_auto_reply_return_date_from_body() -> None:
    raw = human(("Auto-Submitted", "auto-replied"), body="您好，我正在休假，将于12月1日返回。\n")
    verdict = classify(raw, received=datetime(2026, 11, 20, 9, tzinfo=UTC))
    assert verdict.return_date == date(2026, 12, 1)


def test_return_date_locale_from_content_language() -> None:
    raw = human(
        ("Auto-Submitted", "auto-replied"),
        ("Content-Language", "en-US"),
        body="I am out of the office until 01/12/2027.\n",
    )
    assert classify(raw).return_date == date(2027, 1, 12)
    assert classify(raw, locale="en-GB").return_date == date(2027, 12, 1)


def test_challenge_response_multipart_report_is_auto_reply() -> None:
    raw = dsn(
        status="4.7.0",
        notice="Your message has been waitlisted. Please add yourself to "
        "my guest list so your messages reach my inbox.\n",
        sender="noreply@screen.example",
    )
    verdict = classify(raw)
    assert verdict.kind == "auto_reply"
    assert "challenge" in verdict.reason


# --- bounces ----------------------------------------------------------------


def test_dsn_with_auto_submitted_auto_replied_is_bounce() -> None:
    raw = dsn(extra=(("Auto-Submitted", "auto-replied"),))
    verdict = classify(raw)
    assert verdict.kind == "bounce"
    assert verdict.bounce == BounceInfo(
        ("gone@candidate.example",), "5.1.1", True, "smtp; 550 5.1.1 sorry", "userunknown"
    )
    assert "5.1.1" in verdict.reason


def test_dsn_headers_only_asks_for_body() -> None:
    raw = dsn(extra=(("Auto-Submitted", "auto-replied"),))
    first = classify(headers_only(raw), has_body=False)
    assert (first.kind, first.needs_body) == ("bounce", True)
    assert classify(raw, has_body=True).needs_body is False


@pytest.mark.parametrize(
    ("status", "action", "hard", "reason"),
    [
        ("5.1.1", "failed", True, "userunknown"),
        ("5.2.2", "failed", False, "mailboxfull"),  # mailbox full: may clear up
        ("4.4.7", "delayed", False, "expired"),
        ("4.2.2", "failed", False, "mailboxfull"),
        # Issue 8: a 5.7.1 refusal is the server's policy, not a dead address.
        ("5.7.1", "failed", False, "securityerror"),
    ],
)
def test_hard_and_soft(status: str, action: str, hard: bool, reason: str) -> None:
    verdict = classify(dsn(status=status, action=action))
    assert verdict.kind == "bounce"
    assert verdict.bounce is not None
    assert (verdict.bounce.status, verdict.bounce.hard) == (status, hard)
    assert verdict.bounce.reason == reason


def test_bounce_relayed_through_a_list_is_still_bounce() -> None:
    raw = build(
        [
            ("From", "Mail Delivery System <MAILER-DAEMON@lists.example.org>"),
            ("To", "li.lei@example.com"),
            ("Subject", "Mail delivery failed: returning message to sender"),
            ("List-Id", "<jobs.lists.example.org>"),
            ("List-Unsubscribe", "<mailto:leave@lists.example.org>"),
            ("Precedence", "bulk"),
        ],
        "This message was created automatically by mail delivery software.\n\nA message that "
        "you sent could not be delivered to one or more of its recipients. This is a permanent "
        "error. The following address(es) failed:\n\n  gone@candidate.example\n    SMTP error "
        "from remote mail server after RCPT TO:<gone@candidate.example>:\n    550 5.1.1 User "
        "unknown\n\n------ This is a copy of the message, including all the headers. ------\n"
        "To: other@example.org\n",
    )
    verdict = classify(raw)
    assert verdict.kind == "bounce"
    assert verdict.bounce is not None
    assert verdict.bounce.recipients == ("gone@candidate.example",)
    assert verdict.bounce.hard


def test_qmail_text_bounce() -> None:
    raw = build(
        [
            ("From", "MAILER-DAEMON@mail.example.net"),
            ("To", "li.lei@example.com"),
            ("Subject", "failure notice"),
        ],
        "Hi. This is the qmail-send program at mail.example.net.\nI'm afraid I wasn't "
        "able to deliver your message to the following addresses.\n\n"
        "<gone@candidate.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n",
    )
    verdict = classify(raw)
    assert verdict.kind == "bounce"
    assert verdict.bounce is not None
    assert verdict.bounce.recipients == ("gone@candidate.example",)


def test_x_failed_recipients_header() -> None:
    raw = human(("X-Failed-Recipients", "gone@candidate.example"))
    verdict = classify(headers_only(raw), has_body=False)
    assert verdict.kind == "bounce" and verdict.needs_body
    assert verdict.bounce is not None and verdict.bounce.recipients == ("gone@candidate.example",)


def test_gb2312_raw_subject_bounce() -> None:
    raw = build(
        [
            ("From", "MAILER-DAEMON@sina.example"),
            ("To", "li.lei@example.com"),
            ("Subject", "邮件传输失败！".encode("gb2312")),
            ("Content-Type", "text/plain; charset=gb2312"),
        ],
        "您的邮件无法送达以下地址：gone@candidate.example\n".encode("gb2312"),
    )
    verdict = classify(raw)
    assert verdict.kind == "bounce"
    assert verdict.bounce is not None and "gone@candidate.example" in verdict.bounce.recipients


def test_big5_encoded_subject_auto_reply() -> None:
    subject = encoded_word("自動回覆: 面試", "big5")
    raw = build([("Subject", subject), ("Return-Path", "<>"), *BASE[:2]])
    assert classify(raw).kind == "auto_reply"


def test_gbk_encoded_word_subject_qq_reply() -> None:
    subject = encoded_word("自动回复:hello", "gbk")
    raw = build([("Subject", subject), ("X-QQ-HolidayReply", "true"), *BASE[:2]])
    verdict = classify(raw)
    assert verdict.kind == "auto_reply"


# --- bulk -------------------------------------------------------------------

BULK_CASES = [
    ("list-id", [("List-Id", "<news.example.org>")], "List-Id"),
    ("list-unsubscribe", [("List-Unsubscribe", "<https://example.org/u>")], "List-Unsubscribe"),
    ("precedence list", [("Precedence", "list")], "Precedence"),
]


@pytest.mark.parametrize(
    ("extra", "evidence"), [c[1:] for c in BULK_CASES], ids=[c[0] for c in BULK_CASES]
)
def test_bulk_headers(extra: list[tuple[str, str]], evidence: str) -> None:
    verdict = classify(human(*extra, body="This week's digest.\n"))
    assert verdict.kind == "bulk"
    assert evidence in verdict.reason


@pytest.mark.parametrize(
    "sender",
    [
        "noreply@jobs.example",
        "no-reply@jobs.example",
        "donotreply@bank.example",
        "notifications@tracker.example",
        "mailer@shop.example",
    ],
)
def test_noreply_senders_are_bulk(sender: str) -> None:
    raw = build([("From", sender), *BASE[1:]], "Your order has shipped.\n")
    verdict = classify(raw)
    assert verdict.kind == "bulk"
    assert sender in verdict.reason


def test_notification_that_is_a_bounce_report() -> None:
    raw = build(
        [("From", "no-reply@sns.example"), *BASE[1:]],
        '{"notificationType":"Bounce","bounce":{"bounceType":"Permanent",'
        '"bouncedRecipients":[{"emailAddress":"gone@candidate.example","status":"5.1.1"}]}}',
    )
    verdict = classify(raw)
    assert verdict.kind == "bounce"
    assert verdict.bounce is not None and verdict.bounce.recipients == ("gone@candidate.example",)


# --- human and robustness ---------------------------------------------------


def test_plain_reply_is_human_without_body() -> None:
    verdict = classify(headers_only(human()), has_body=False)
    assert verdict == Classification("human", verdict.reason, needs_body=False)


def test_human_mentioning_undeliverable_stays_human() -> None:
    raw = human(body="My last mail was undeliverable, user unknown 5.1.1 - new address below.\n")
    assert classify(raw).kind == "human"


def test_no_message_id_no_date() -> None:
    raw = build([("From", "wang.fang@candidate.example"), ("Subject", "hi")])
    verdict = classify(raw, received=None)
    assert verdict.kind == "human"


def test_one_megabyte_header_is_fast_and_safe() -> None:
    big = [("X-Junk", "a" * 1000) for _ in range(1100)]
    raw = build([*BASE, *big, ("Auto-Submitted", "auto-replied")])
    start = time.perf_counter()
    verdict = classify(raw)
    assert time.perf_counter() - start < 2.0
    assert verdict.kind == "auto_reply"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage without headers",
        b"Subject: =?unknown-charset?q?=E4=BD?=\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\n",
        b'From: MAILER-DAEMON@x\r\nContent-Type: multipart/report; boundary="Z"\r\n\r\n--Z\r\n'
        b"Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!",
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n\xa4\xa4\xa4\xe5",
    ],
)
def test_bad_input_never_raises(raw: bytes) -> None:
    for has_body in (False, True):
        verdict = classify(raw, has_body=has_body)
        assert verdict.kind in ("human", "auto_reply", "bounce", "bulk")
        assert verdict.reason


def test_accepts_a_parsed_message() -> None:
    msg = email.message_from_bytes(dsn())
    verdict = classify(msg)
    assert verdict.kind == "bounce"


def test_classification_json_shape() -> None:
    bounced = classification_json("a.eml", classify(dsn(status="5.2.2")))
    assert bounced == {
        "file": "a.eml",
        "kind": "bounce",
        "reason": bounced["reason"],
        "bounce": {
            "recipients": ["gone@candidate.example"],
            "status": "5.2.2",
            "hard": False,
            "reason": "mailboxfull",
            "family": "mailbox",
        },
    }
    away = classify(human(("Auto-Submitted", "auto-replied"), body="Back on 3 December 2026.\n"))
    assert classification_json("b.eml", away)["return_date"] == "2026-12-03"
    assert set(classification_json("c.eml", classify(human()))) == {"file", "kind", "reason"}


def test_header_fields_cover_what_the_rules_read() -> None:
    wanted = {name.lower() for name in HEADER_FIELDS}
    for name in (
        "from",
        "subject",
        "return-path",
        "content-type",
        "auto-submitted",
        "list-id",
        "list-unsubscribe",
        "precedence",
        "x-failed-recipients",
        "x-qq-holidayreply",
        "x-apple-action",
        "x-auto-response-suppress",
        "x-autoreply",
        "x-autorespond",
    ):
        assert name in wanted
    assert len(HEADER_FIELDS) == len(wanted) < 30  # ingest fetches these for every message
