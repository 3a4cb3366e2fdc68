"""The whole story through the CLI on a Maildir: outreach to ghosted, and to replied."""

from __future__ import annotations

import json
from collections.abc import Callable
from email.message import Message

from connectors.header_text import decode_words
from daemon.demo import mail as sample
from tests.e2e.conftest import Desk

WANG = sample.OUTREACH[0]
EMMA = sample.OUTREACH[1]
T1 = "2026-11-03T10:00+08:00"
T3 = "2026-11-05T10:00+08:00"
T6 = "2026-11-10T10:00+08:00"


def hdr(msg: Message, name: str) -> str:
    return decode_words(msg[name] or "")


def by_contact(rows: list[dict[str, object]], contact: str) -> dict[str, object]:
    (row,) = [r for r in rows if r["contact"] == contact]
    return row


def test_silent_thread_from_outreach_to_ghosted(desk: Desk) -> None:
    desk.deliver(WANG)
    code, out = desk.gw("once", now="2026-11-02T18:00+08:00")
    assert code == 0 and desk.drafts() == []
    assert "0 draft(s) written" in out
    row = by_contact(desk.status("2026-11-02T18:00+08:00"), sample.WANG[1])
    assert (row["state"], row["steps_done"], row["next_step"]) == ("waiting", 0, 1)
    assert row["next_due"] == "2026-11-03T09:30:00+08:00"

    desk.gw("once", now=T1)
    (draft,) = desk.drafts()
    assert hdr(draft, "To").endswith(f"<{sample.WANG[1]}>")
    assert hdr(draft, "Subject") == f"Re: {WANG.subject}"
    assert draft["In-Reply-To"] == f"<{WANG.msgid}>"
    assert draft["X-Ghostwatch-Key"].endswith(".1")
    assert "D" in draft.get_flags()
    desk.gw("once", now=T1)
    assert len(desk.drafts()) == 1  # never a second draft for the same key
    assert by_contact(desk.status(T1), sample.WANG[1])["state"] == "draft_pending"

    desk.send_draft(sample.WANG[1], at="2026-11-03T10:40+08:00")
    desk.gw("once", now="2026-11-03T11:00+08:00")
    row = by_contact(desk.status("2026-11-03T11:00+08:00"), sample.WANG[1])
    assert (row["state"], row["steps_done"], row["next_step"]) == ("waiting", 1, 2)

    desk.gw("once", now=T3)
    (draft,) = desk.drafts()
    assert draft["X-Ghostwatch-Key"].endswith(".2")
    assert hdr(draft, "Subject") == f"Re: {WANG.subject}"  # no "Re: Re:"
    desk.send_draft(sample.WANG[1], at="2026-11-05T10:40+08:00")
    desk.gw("once", now="2026-11-05T11:00+08:00")
    desk.gw("once", now=T6)
    (draft,) = desk.drafts()
    assert draft["X-Ghostwatch-Key"].endswith(".3")
    desk.send_draft(sample.WANG[1], at="2026-11-10T11:00+08:00")
    desk.gw("once", now="2026-11-10T11:00+08:00")
    row = by_contact(desk.status("2026-11-12T10:00+08:00"), sample.WANG[1])
    assert (row["state"], row["steps_done"], row["next_step"]) == ("waiting", 3, None)
    assert row["next_due"] == "2026-11-13T11:00:00+08:00"
    desk.gw("once", now="2026-11-13T12:00+08:00")
    row = by_contact(desk.status("2026-11-13T12:00+08:00"), sample.WANG[1])
    assert row["state"] == "ghosted"
    assert desk.drafts() == []
    code, out = desk.gw("report", "--format", "json", now="2026-11-13T12:00+08:00")
    (case,) = json.loads(out)["cases"]
    assert (case["outcome"], case["step_reached"], case["source"]) == ("ghosted", 3, "linkedin")


def test_reply_withdraws_the_untouched_draft_and_nothing_else(desk: Desk) -> None:
    desk.deliver(EMMA)
    desk.deliver(WANG)
    desk.gw("once", now=T1)
    assert len(desk.drafts()) == 1  # Wang's is due at 09:30, Emma's only at 10:15
    desk.gw("once", now="2026-11-03T10:30+08:00")
    keys_before = sorted(m["X-Ghostwatch-Key"] for m in desk.drafts())
    desk.deliver(sample.EMMA_REPLY)
    code, out = desk.gw("once", now="2026-11-03T16:00+08:00")
    assert code == 0
    assert "withdrew" in out
    remaining = [m["To"] for m in desk.drafts()]
    assert all(sample.EMMA[1] not in to for to in remaining)
    assert any(sample.WANG[1] in to for to in remaining)
    assert len(keys_before) == 2
    assert by_contact(desk.status("2026-11-03T16:00+08:00"), sample.EMMA[1])["state"] == "replied"
    assert len(desk.folder("Sent")) == 2  # the outreach itself was never touched


def test_an_edited_draft_is_left_alone_when_the_contact_replies(desk: Desk) -> None:
    desk.deliver(EMMA)
    desk.gw("once", now="2026-11-03T10:30+08:00")
    desk.edit_draft(sample.EMMA[1])
    desk.deliver(sample.EMMA_REPLY)
    code, out = desk.gw("once", now="2026-11-03T16:00+08:00")
    assert code == 0
    assert "left your edited draft" in out
    assert len(desk.drafts()) == 1


def test_deleting_a_draft_skips_the_step(desk: Desk) -> None:
    desk.deliver(WANG)
    desk.gw("once", now=T1)
    desk.delete_draft(sample.WANG[1])
    desk.gw("once", now="2026-11-03T12:00+08:00")
    row = by_contact(desk.status("2026-11-03T12:00+08:00"), sample.WANG[1])
    # SPEC: steps_done counts follow-ups sent; the deleted step is skipped, not done.
    assert (row["state"], row["steps_done"], row["next_step"]) == ("waiting", 0, 2)
    assert desk.drafts() == []


def test_deleting_a_draft_stops_when_configured(desk_factory: Callable[..., Desk]) -> None:
    desk = desk_factory(on_deleted="stop")
    desk.deliver(WANG)
    desk.gw("once", now=T1)
    desk.delete_draft(sample.WANG[1])
    desk.gw("once", now="2026-11-03T12:00+08:00")
    assert by_contact(desk.status("2026-11-03T12:00+08:00"), sample.WANG[1])["state"] == "stopped"


def test_flood_guard_writes_the_oldest_due_first(desk_factory: Callable[..., Desk]) -> None:
    desk = desk_factory(max_drafts=2)
    for letter in sample.OUTREACH[:5]:
        desk.deliver(letter)
    code, out = desk.gw("once", now="2026-11-03T16:00+08:00")  # all five are due
    assert code == 0
    assert len(desk.drafts()) == 2
    assert "held by max_drafts_per_cycle" in out
    written = sorted(m["To"] for m in desk.drafts())
    assert any(sample.WANG[1] in t for t in written)  # 09:30, the oldest
    assert any(sample.EMMA[1] in t for t in written)  # 10:15, next


def test_dry_run_prints_the_draft_and_writes_nothing(desk: Desk) -> None:
    desk.deliver(WANG)
    code, out = desk.gw("once", "--dry-run", now=T1)
    assert code == 0
    assert "would write draft step 1" in out
    assert f"Subject: Re: {WANG.subject}" in out
    assert desk.drafts() == []


def test_an_accepted_invitation_by_mail_ends_the_sequence_met(desk: Desk) -> None:
    import mailbox
    from email.message import EmailMessage
    from email.utils import format_datetime

    desk.deliver(WANG)
    msg = EmailMessage()
    msg["From"] = f"王芳 <{sample.WANG[1]}>"
    msg["To"] = sample.ME[1]
    msg["Subject"] = "已接受: 面试 王芳"
    msg["Date"] = format_datetime(sample.at(1, 9))
    msg["Message-ID"] = "<accept-1@candidate.example>"
    msg.set_content("王芳 已接受此邀请。")
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\n"
        "UID:interview-wang\r\nDTSTAMP:20261103T010000Z\r\nDTSTART:20261106T060000Z\r\n"
        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{sample.WANG[1]}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    msg.add_attachment(
        ics.encode(), maintype="text", subtype="calendar", params={"method": "REPLY"}
    )
    inbox = mailbox.Maildir(desk.root / "Mail", create=False)
    inbox.add(mailbox.MaildirMessage(msg))
    desk.gw("once", now=T1)
    row = by_contact(desk.status(T1), sample.WANG[1])
    assert row["state"] == "met"
    assert desk.drafts() == []
