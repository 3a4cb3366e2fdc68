"""Issue 9.5: what a deeply nested part or a bounce inside a bounce says is found, within
a bound, and a quoted original still never counts as evidence."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.message import EmailMessage

from daemon.classify import classify
from daemon.classify.body import MAX_PARTS, body_of
from daemon.classify.message import view_of

RECEIVED = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _report(sender: str, recipient: str, attached: bytes, attached_type: str) -> bytes:
    """A multipart/report as MTAs write it, with `attached` as its third part."""
    b = f"b-{abs(hash((sender, recipient)))}"
    return (
        (
            f"From: Mail Delivery System <{sender}>\r\nTo: li.lei@hunter.example\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            "Date: Mon, 02 Nov 2026 10:05:00 +0800\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{b}"\r\n\r\n'
            f"--{b}\r\nContent-Type: text/plain\r\n\r\n"
            "Your message could not be delivered.\r\n"
            f"--{b}\r\nContent-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; {sender.split('@')[1]}\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
            f"--{b}\r\nContent-Type: {attached_type}\r\n\r\n"
        ).encode()
        + attached
        + f"\r\n--{b}--\r\n".encode()
    )


def test_a_bounce_attached_inside_another_bounce_links_the_inner_recipient() -> None:
    outreach = (
        b"From: li.lei@hunter.example\r\nTo: carl@candidate.example\r\nSubject: A role\r\n"
        b"Message-ID: <o1@hunter.example>\r\n\r\nHi Carl, about the role ...\r\n"
    )
    inner = _report("MAILER-DAEMON@mx.candidate.example", "carl@candidate.example",
                    outreach, "message/rfc822")  # fmt: skip
    # The outer report names only the relay that could not hand the inner one back.
    outer = _report("MAILER-DAEMON@mx.hunter.example", "bounces@relay.example",
                    inner, "message/rfc822")  # fmt: skip
    verdict = classify(outer, has_body=True, received=RECEIVED)
    assert verdict.kind == "bounce"
    assert verdict.bounce is not None and "carl@candidate.example" in verdict.bounce.recipients
    # The quoted outreach inside still never reads as notice text.
    assert "about the role" not in body_of(view_of(outer)).text


def _nest(part: EmailMessage, depth: int) -> EmailMessage:
    for _ in range(depth):
        wrapper = EmailMessage()
        wrapper.make_mixed()
        wrapper.attach(part)
        part = wrapper
    return part


def test_a_return_date_in_a_deeply_nested_part_is_found() -> None:
    leaf = EmailMessage()
    leaf.set_content("I am out of the office and will return on 16 November 2026.\n")
    body = _nest(leaf, 14)
    msg = EmailMessage()
    for name, value in (
        ("From", "Carl <carl@candidate.example>"),
        ("To", "li.lei@hunter.example"),
        ("Subject", "Automatic reply: A role"),
        ("Auto-Submitted", "auto-replied"),
        ("Date", "Mon, 02 Nov 2026 10:00:00 +0800"),
    ):
        msg[name] = value
    msg.make_mixed()
    first = EmailMessage()
    first.set_content("Thank you for your message.\n")
    msg.attach(first)
    for part in body.iter_parts():
        msg.attach(part)
    verdict = classify(msg.as_bytes(), has_body=True, received=RECEIVED)
    assert verdict.kind == "auto_reply"
    assert verdict.return_date == date(2026, 11, 16)


def test_a_bomb_of_parts_stays_bounded() -> None:
    msg = EmailMessage()
    msg["From"] = "Carl <carl@candidate.example>"
    msg["Subject"] = "Automatic reply"
    msg["Auto-Submitted"] = "auto-replied"
    msg.make_mixed()
    for i in range(MAX_PARTS * 3):
        part = EmailMessage()
        part.set_content(f"part {i}\n")
        msg.attach(_nest(part, 3) if i % 2 else part)
    text = body_of(view_of(msg.as_bytes())).text
    assert "part 0" in text
    assert text.count("part ") <= MAX_PARTS
