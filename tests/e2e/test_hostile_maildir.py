"""Issue 9, items 1-4 on a real Maildir through the CLI: bad headers never misdirect a draft.

Each message is written as raw bytes (a mail client's bytes, or an attacker's),
with the file's mtime as the time it arrived: that is the receipt time the
Maildir connector reads.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

from connectors.header_text import decode_words
from daemon.demo import mail as sample
from tests.e2e.conftest import Desk

WANG = sample.OUTREACH[0]
FANG = sample.WANG[1]
T1 = "2026-11-03T10:00+08:00"


def drop(desk: Desk, folder: str, raw: bytes, arrived: str) -> Path:
    """A message file in `folder` ("" is INBOX) that arrived at `arrived`."""
    base = desk.root / "Mail" / (f".{folder}" if folder else "")
    name = f"{time.time_ns()}.hostile{os.getpid()}.test:2,S"
    path = base / "cur" / name
    path.write_bytes(raw)
    stamp = datetime.fromisoformat(arrived).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def message(*lines: str, body: str = "Thanks, let us talk.") -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode("utf-8")


def drafts_to(desk: Desk) -> list[str]:
    return [decode_words(m["To"] or "") for m in desk.drafts()]


# --- item 1: the Date header is not trusted past the receipt time ------------------


def test_a_reply_dated_2031_ends_the_sequence_and_no_draft_is_written(desk: Desk) -> None:
    desk.deliver(WANG)
    reply = message(
        f"From: =?utf-8?b?546L6Iqz?= <{FANG}>",
        "To: li.lei@hunter.example",
        f"Subject: Re: {WANG.subject}",
        "Date: Mon, 03 Nov 2031 09:00:00 +0800",
        "Message-ID: <future-reply@candidate.example>",
        f"In-Reply-To: <{WANG.msgid}>",
        f"References: <{WANG.msgid}>",
        "Content-Type: text/plain; charset=utf-8",
    )
    drop(desk, "", reply, "2026-11-02T16:00+08:00")
    code, _ = desk.gw("once", now=T1)
    assert code == 0
    assert desk.drafts() == []
    (row,) = [r for r in desk.status(T1) if r["contact"] == FANG]
    assert row["state"] == "replied"
    code, out = desk.gw("explain", FANG, now=T1)
    assert code == 0
    assert "receipt time used" in out and "2031" in out


def test_a_reply_without_a_date_counts_at_its_receipt_time(desk: Desk) -> None:
    desk.deliver(WANG)
    reply = message(
        f"From: {FANG}",
        "To: li.lei@hunter.example",
        f"Subject: Re: {WANG.subject}",
        "Date: not a date at all",
        f"In-Reply-To: <{WANG.msgid}>",
    )
    drop(desk, "", reply, "2026-11-02T16:00+08:00")
    desk.gw("once", now=T1)
    assert desk.drafts() == []
    (row,) = [r for r in desk.status(T1) if r["contact"] == FANG]
    assert row["state"] == "replied"


def test_an_outreach_dated_in_the_future_is_tracked_from_its_receipt(desk: Desk) -> None:
    outreach = message(
        "From: =?utf-8?b?5p2O6Zu3?= <li.lei@hunter.example>",
        "To: Carl Jensen <carl.jensen@candidate.example>",
        "Subject: A platform role",
        "Date: Thu, 01 Jan 2032 09:00:00 +0800",
        "Message-ID: <future-outreach@hunter.example>",
    )
    drop(desk, "Sent", outreach, "2026-11-02T09:30+08:00")
    desk.gw("once", now="2026-11-02T18:00+08:00")
    (row,) = [r for r in desk.status("2026-11-02T18:00+08:00") if "carl" in str(r["contact"])]
    assert (row["state"], row["next_step"]) == ("waiting", 1)
    desk.gw("once", now=T1)
    assert drafts_to(desk) == ["Carl Jensen <carl.jensen@candidate.example>"]


# --- item 2: a CR in a display name never redirects the draft ----------------------


def test_a_cr_in_the_display_name_never_makes_a_draft_to_the_smuggled_address(
    desk: Desk,
) -> None:
    outreach = message(
        "From: li.lei@hunter.example",
        'To: "Carl\rBcc: attacker@x.example" <c9e@candidate.example>',
        "Subject: A platform role",
        "Date: Mon, 02 Nov 2026 09:30:00 +0800",
        "Message-ID: <cr-outreach@hunter.example>",
    )
    drop(desk, "Sent", outreach, "2026-11-02T09:30+08:00")
    code, _ = desk.gw("once", now=T1)
    assert code == 0
    log = desk.err
    assert not any("attacker" in to for to in drafts_to(desk))
    assert all(r["contact"] != "attacker@x.example" for r in desk.status(T1))
    # Untrackable, never a guess: no draft at all, and the log says why (and names nobody).
    assert desk.drafts() == []
    (line,) = [line for line in log.splitlines() if "never followed up" in line]
    assert "ambiguous To" in line and "attacker" not in line and "c9e" not in line


def test_an_undecodable_display_name_keeps_the_real_address(desk: Desk) -> None:
    outreach = message(
        "From: li.lei@hunter.example",
        "To: =?utf-8?b?!!!not-base64?= <c9e@candidate.example>",
        "Subject: A platform role",
        "Date: Mon, 02 Nov 2026 09:30:00 +0800",
        "Message-ID: <b64-outreach@hunter.example>",
    )
    drop(desk, "Sent", outreach, "2026-11-02T09:30+08:00")
    desk.gw("once", now=T1)
    (draft,) = desk.drafts()
    # The addr-spec alone: the undecodable name would be decoded again by the reader's client.
    assert draft["To"] == "c9e@candidate.example"
    assert "=?utf-8?b?!!!" not in (draft.get_payload(decode=True) or b"").decode()


# --- item 4: a display name that is template syntax ------------------------------


def test_template_syntax_as_a_name_gets_the_neutral_greeting_rendered_literally(
    desk: Desk,
) -> None:
    outreach = message(
        "From: li.lei@hunter.example",
        'To: "{% for x %}" <tpl@candidate.example>',
        "Subject: A platform role",
        "Date: Mon, 02 Nov 2026 09:30:00 +0800",
        "Message-ID: <tpl-outreach@hunter.example>",
    )
    drop(desk, "Sent", outreach, "2026-11-02T09:30+08:00")
    desk.gw("once", now=T1)
    (draft,) = desk.drafts()
    body = (draft.get_payload(decode=True) or b"").decode()
    # The neutral greeting, in the outreach's language (English subject, issue 8.3).
    assert body.startswith("Hello,")
    assert "{%" not in body.splitlines()[0]


# --- item 5: a bounce forwarded inside another bounce -------------------------------


def _report(sender: str, recipient: str, attached: bytes) -> bytes:
    b = f"b-{recipient.split('@')[0]}"
    return (
        (
            f"From: Mail Delivery System <{sender}>\r\nTo: li.lei@hunter.example\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            "Date: Mon, 02 Nov 2026 11:05:00 +0800\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{b}"\r\n\r\n'
            f"--{b}\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            f"--{b}\r\nContent-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; {sender.split('@')[1]}\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
            f"--{b}\r\nContent-Type: message/rfc822\r\n\r\n"
        ).encode()
        + attached
        + f"\r\n--{b}--\r\n".encode()
    )


def test_a_bounce_inside_a_bounce_makes_the_contact_undeliverable(desk: Desk) -> None:
    desk.deliver(WANG)
    original = (
        f"From: li.lei@hunter.example\r\nTo: {FANG}\r\nSubject: {WANG.subject}\r\n"
        f"Message-ID: <{WANG.msgid}>\r\n\r\n...\r\n"
    ).encode()
    inner = _report("MAILER-DAEMON@mx.candidate.example", FANG, original)
    # The relay that could not hand the first report back wraps it in a report of its own.
    outer = _report("MAILER-DAEMON@mx.hunter.example", "bounces@relay.example", inner)
    drop(desk, "", outer, "2026-11-02T11:05+08:00")
    desk.gw("once", now=T1)
    (row,) = [r for r in desk.status(T1) if r["contact"] == FANG]
    assert row["state"] == "undeliverable"
    assert desk.drafts() == []
