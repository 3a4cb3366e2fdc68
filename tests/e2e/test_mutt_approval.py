"""Issue 'Staged follow-up drafts', part 7: the consultant approves in a real mail client.

ghostwatch writes its drafts into a real Dovecot's Drafts folder; neomutt (mutt
if neomutt is missing), driven through tmux, recalls a draft as a postponed
message and sends it to a real SMTP server (aiosmtpd) on loopback, filing the
copy in Sent as a consultant's client does. ghostwatch must see that as the
approval and go on with the playbook, and must withdraw only what it wrote,
untouched, when the contact answers.

neomutt runs under `faketime` starting at the story's instant, so the Date it
puts on what it sends fits the `--now` steps (an ordinary week, no holidays).
"""

from __future__ import annotations

import base64
import email
import re
import time
from collections.abc import Iterator
from datetime import datetime
from email.policy import default as default_policy
from pathlib import Path

import pytest

from tests.e2e.imap_desk import ME, ImapDesk, Stored, mail, running_dovecot
from tests.servers import servers_required
from tests.servers.dovecot import Dovecot
from tests.servers.mutt import Mutt, MuttAccount, faketime_binary, mutt_binary, muttrc, tmux_binary
from tests.servers.smtp_sink import Received, SmtpSink

WANG = ("王芳", "wang.fang@candidate.example")
EMMA = ("Emma Clarke", "emma@mail.example")
SUBJECT = "高级Go工程师机会"
OUTREACH_AT = "2026-11-02T09:30+08:00"  # Monday of an ordinary week
T1 = "2026-11-03T10:00+08:00"
T3 = "2026-11-05T10:00+08:00"
T6 = "2026-11-10T10:00+08:00"

pytestmark = pytest.mark.dovecot


def _need_client() -> None:
    missing = [
        name
        for name, found in (
            ("neomutt/mutt", mutt_binary()),
            ("tmux", tmux_binary()),
            ("faketime", faketime_binary()),
        )
        if found is None
    ]
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        missing.append("aiosmtpd (pip)")
    if missing:
        reason = f"a real mail client test needs {', '.join(missing)}"
        if servers_required():
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture
def desk(dovecot: Dovecot, tmp_path: Path) -> ImapDesk:
    return ImapDesk.create(dovecot, tmp_path)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    _need_client()
    with SmtpSink() as server:
        yield server


def send_with_mutt(desk: ImapDesk, sink: SmtpSink, at: str) -> Received:
    """Open the mailbox in neomutt at `at`, recall the one postponed draft, send it."""
    before_sink = len(sink.messages)
    before_sent = len(desk.messages("Sent"))
    home = desk.root / f"mutt-{time.monotonic_ns()}"
    account = MuttAccount(
        imap_port=desk.server.port,
        username=desk.user.name,
        password=desk.user.password,
        smtp_port=sink.port,
        sender=ME,
        realname="李雷",
    )
    clock = datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M:%S %z")
    with Mutt(home, muttrc(account, home), clock_start=clock) as client, client.screen_on_failure():
        client.wait_for(r"Post:1\b")  # the index sees exactly one postponed message: our draft
        client.keys("R")  # recall-message
        client.wait_for(r"Compose")
        client.keys("y")  # send
        got = sink.wait_for(before_sink + 1)
        deadline = time.monotonic() + 15  # the Fcc copy lands in Sent after the SMTP send
        while len(desk.messages("Sent")) <= before_sent and time.monotonic() < deadline:
            time.sleep(0.1)
        client.wait_for(r"NeoMutt: \+INBOX|Mutt: \+INBOX|\bINBOX\b")
    assert len(got) == before_sink + 1, "the client sent more than one message"
    return got[-1]


def by_key_step(drafts: list[Stored], step: int) -> Stored:
    found = [d for d in drafts if d.key and d.key.endswith(f".{step}")]
    assert len(found) == 1, [d.key for d in drafts]
    return found[0]


# ---- part 7, story 1: approval in the real client, to ghosted ------------------------------


def test_neomutt_sends_the_draft_and_the_playbook_goes_on_to_ghosted(
    desk: ImapDesk, sink: SmtpSink
) -> None:
    desk.outreach(WANG, SUBJECT, OUTREACH_AT, "o1@h")
    desk.ok("once", now="2026-11-02T18:00+08:00")
    assert desk.drafts() == []  # not due yet

    out = desk.ok("once", now=T1)
    assert "draft step 1" in out
    (draft,) = desk.drafts()
    assert draft.key and draft.key.endswith(".1")
    assert "\\Draft" in draft.flags
    assert desk.row(T1, WANG[1])["state"] == "draft_pending"

    # The consultant opens the draft in neomutt and sends it: that is the approval.
    sent = send_with_mutt(desk, sink, "2026-11-03T10:40+08:00")
    msg = sent.message
    assert sent.rcpt_tos == (WANG[1],)
    assert str(msg["Subject"]) == f"Re: {SUBJECT}"
    assert msg["In-Reply-To"] == "<o1@h>"
    assert WANG[1] in str(msg["To"])
    assert "<o1@h>" in str(msg["References"])
    copies = [m for m in desk.messages("Sent") if m.header("In-Reply-To") == "<o1@h>"]
    assert len(copies) == 1, "neomutt files exactly one copy in Sent"
    assert desk.drafts() == []

    desk.ok("once", now="2026-11-03T11:00+08:00")
    row = desk.row("2026-11-03T11:00+08:00", WANG[1])
    assert (row["state"], row["steps_done"], row["next_step"]) == ("waiting", 1, 2)
    assert desk.drafts() == []  # step 2 is not due before T+3

    desk.ok("once", now=T3)
    step2 = by_key_step(desk.drafts(), 2)
    assert step2.header("Subject") == f"Re: {SUBJECT}"  # no "Re: Re:"
    assert len(desk.drafts()) == 1
    # Approve step 2 in the client as well.
    sent = send_with_mutt(desk, sink, "2026-11-05T10:40+08:00")
    assert sent.rcpt_tos == (WANG[1],)
    assert sent.message["X-Ghostwatch-Key"] == step2.key
    desk.ok("once", now="2026-11-05T11:00+08:00")
    row = desk.row("2026-11-05T11:00+08:00", WANG[1])
    assert (row["steps_done"], row["next_step"]) == (2, 3)

    desk.ok("once", now=T6)
    by_key_step(desk.drafts(), 3)
    desk.send_draft(WANG[1], at="2026-11-10T11:00+08:00")  # the last one by IMAP, for speed
    desk.ok("once", now="2026-11-10T11:00+08:00")
    row = desk.row("2026-11-12T10:00+08:00", WANG[1])
    assert (row["state"], row["steps_done"], row["next_step"]) == ("waiting", 3, None)
    desk.ok("once", now="2026-11-13T12:00+08:00")
    assert desk.row("2026-11-13T12:00+08:00", WANG[1])["state"] == "ghosted"
    assert desk.drafts() == []
    assert len(sink.messages) == 2


# ---- part 7, story 2: a reply withdraws the untouched draft, nothing else ------------------


def test_a_reply_withdraws_the_untouched_draft_and_touches_nothing_else(desk: ImapDesk) -> None:
    desk.outreach(WANG, SUBJECT, OUTREACH_AT, "o1@h")
    desk.outreach(EMMA, "Staff engineer role", "2026-11-02T11:00+08:00", "o2@h")
    # The consultant's own mail around it: a draft of their own, read and unread inbox mail.
    own = mail(("李雷", ME), ("", "hr@client.example"), "Shortlist", T1, "mine@h")
    desk.append("Drafts", own, ("\\Draft", "\\Seen"))
    desk.append("INBOX", mail(("HR", "hr@client.example"), ("", ME), "Shortlist?", T1, "i1@c"))
    desk.append(
        "INBOX",
        mail(("HR", "hr@client.example"), ("", ME), "Re: x", T1, "i2@c"),
        ("\\Seen", "\\Flagged"),
    )
    desk.append("Trash", mail(("", ME), ("", "old@x.example"), "old", T1, "t1@h"), ("\\Seen",))

    desk.ok("once", now="2026-11-03T12:00+08:00")  # both step-1 drafts are due
    keys = desk.keys()
    assert len(keys) == 2
    desk.append(
        "INBOX",
        mail(WANG, ("李雷", ME), f"Re: {SUBJECT}", "2026-11-03T13:00+08:00", "r1@c",
             reply_to="o1@h", body="可以，周四下午聊。"),
    )  # fmt: skip
    before = desk.snapshot()
    wang_draft = desk.draft_to(WANG[1])

    code, out = desk.gw("once", now="2026-11-03T16:00+08:00")
    assert code == 0
    assert "withdrew untouched draft" in out
    after = desk.snapshot()
    expected = {f: rows for f, rows in before.items()}
    expected["Drafts"] = [r for r in before["Drafts"] if r[0] != wang_draft.uid]
    assert after == expected, "only ghostwatch's own draft may go; no other UID or flag changes"
    remaining = desk.drafts()
    assert [d.header("Message-ID") for d in remaining if d.key is None] == ["<mine@h>"]
    assert [d.key for d in remaining if d.key] == [k for k in keys if k != wang_draft.key]
    assert desk.row("2026-11-03T16:00+08:00", WANG[1])["state"] == "replied"
    assert desk.row("2026-11-03T16:00+08:00", EMMA[1])["state"] == "draft_pending"


# ---- part 7, story 3: an edited draft is the consultant's, and stays -----------------------


def test_an_edited_draft_is_left_alone_when_the_contact_replies(desk: ImapDesk) -> None:
    desk.outreach(WANG, SUBJECT, OUTREACH_AT, "o1@h")
    desk.ok("once", now=T1)
    original = desk.draft_to(WANG[1])

    def add_postscript(raw: bytes) -> bytes:
        msg = email.message_from_bytes(raw, policy=default_policy)
        body = msg.get_content() + "\nP.S. 我周四在上海，可以当面聊。\n"
        msg.set_content(body, subtype="plain", charset="utf-8")
        return msg.as_bytes()

    new_uid = desk.replace_draft(WANG[1], add_postscript)
    assert new_uid != original.uid
    desk.append(
        "INBOX",
        mail(WANG, ("李雷", ME), f"Re: {SUBJECT}", "2026-11-03T13:00+08:00", "r1@c",
             reply_to="o1@h", body="可以，周四下午聊。"),
    )  # fmt: skip
    code, out = desk.gw("once", now="2026-11-03T16:00+08:00")
    assert code == 0
    assert "left your edited draft" in out
    (kept,) = desk.drafts()
    assert kept.uid == new_uid and kept.key == original.key
    assert "P.S." in kept.message.get_content()
    assert desk.row("2026-11-03T16:00+08:00", WANG[1])["state"] == "replied"


# ---- part 8: bad input ----------------------------------------------------------------------


def _header_block(raw: bytes) -> list[str]:
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return head.decode("ascii", errors="replace").split("\n")


@pytest.mark.parametrize(
    "evil_name",
    [
        "Wang Fang\r\nBcc: spy@attacker.example\r\nX-Injected: yes",  # ASCII: a quoted name
        "王芳\r\nBcc: spy@attacker.example\r\nX-Injected: yes",  # non-ASCII: encoded words
    ],
    ids=["ascii", "chinese"],
)
def test_a_crlf_and_bcc_in_the_contacts_name_never_becomes_a_header(
    desk: ImapDesk, sink: SmtpSink, evil_name: str
) -> None:
    # One encoded word with the raw CR/LF inside (email.header.Header would fold them away).
    encoded = f"=?utf-8?b?{base64.b64encode(evil_name.encode()).decode()}?="
    desk.outreach(WANG, SUBJECT, OUTREACH_AT, "o1@h", raw_to=f"{encoded} <{WANG[1]}>")
    desk.ok("once", now=T1)
    (draft,) = desk.drafts()
    lines = _header_block(draft.raw)
    names = [line.split(":", 1)[0].lower() for line in lines if line and not line[0].isspace()]
    assert "bcc" not in names and "x-injected" not in names
    assert all(re.fullmatch(r"[A-Za-z0-9-]+", n) for n in names), names
    assert draft.message["Bcc"] is None
    to = draft.message["To"]
    assert [a.addr_spec for a in to.addresses] == [WANG[1]]
    assert "\n" not in str(to) and "\r" not in str(to)

    # And the real client, sending it, talks to the contact only.
    sent = send_with_mutt(desk, sink, "2026-11-03T10:40+08:00")
    assert sent.rcpt_tos == (WANG[1],)
    sent_names = [
        line.split(":", 1)[0].lower()
        for line in _header_block(sent.data)
        if line and not line[0].isspace()
    ]
    assert "bcc" not in sent_names and "x-injected" not in sent_names


@pytest.mark.parametrize(
    "subject",
    [
        ("Senior Go engineer role in Shanghai, hybrid " * 50)[:2000].strip(),
        ("高级Go工程师机会 上海 混合办公 " * 120)[:2000].strip(),
    ],
    ids=["ascii", "chinese"],
)
def test_a_2000_character_subject_is_kept_whole_and_folded(desk: ImapDesk, subject: str) -> None:
    assert len(subject) >= 1990
    desk.outreach(WANG, subject, OUTREACH_AT, "o1@h")
    desk.ok("once", now=T1)
    (draft,) = desk.drafts()
    assert str(draft.message["Subject"]) == f"Re: {subject}"
    lines = _header_block(draft.raw)
    start = next(i for i, line in enumerate(lines) if line.lower().startswith("subject:"))
    subject_lines = [lines[start]]
    for line in lines[start + 1 :]:
        if not line or line[0] not in " \t":
            break
        subject_lines.append(line)
    assert len(subject_lines) > 20, "a 2,000-character subject must be folded"
    assert all(len(line) <= 78 for line in subject_lines), max(map(len, subject_lines))
    assert all(len(line.encode()) <= 998 for line in lines)


def test_an_original_without_message_id_still_gets_a_draft_threaded_by_our_key(
    desk: ImapDesk,
) -> None:
    desk.outreach(WANG, SUBJECT, OUTREACH_AT, None)
    desk.ok("once", now=T1)
    (draft,) = desk.drafts()
    assert draft.message["In-Reply-To"] is None
    assert draft.key and draft.key.endswith(".1")
    assert draft.header("Subject") == f"Re: {SUBJECT}"
    desk.send_draft(WANG[1], at="2026-11-03T10:40+08:00")
    desk.ok("once", now="2026-11-03T11:00+08:00")
    row = desk.row("2026-11-03T11:00+08:00", WANG[1])
    assert (row["state"], row["steps_done"], row["next_step"]) == ("waiting", 1, 2)
    desk.ok("once", now=T3)
    step2 = by_key_step(desk.drafts(), 2)
    assert step2.key is not None and step2.key.rsplit(".", 1)[0] == draft.key.rsplit(".", 1)[0]
