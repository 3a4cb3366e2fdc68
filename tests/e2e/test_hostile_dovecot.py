"""Issue 9, items 1 and 3 on a real Dovecot through the CLI: a future Date and a reused
Message-ID never drop an outreach or bring a follow-up to someone who answered.

Messages are APPENDed with an explicit INTERNALDATE: that is the server's receipt time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.imap_desk import LI, ME, ImapDesk, mail, running_dovecot
from tests.servers.dovecot import Dovecot

pytestmark = pytest.mark.dovecot

CARL = ("Carl Jensen", "carl.jensen@candidate.example")
DANA = ("Dana Park", "dana.park@candidate.example")
STRANGER = ("Some One", "stranger@elsewhere.example")
T0 = "2026-11-02T09:30+08:00"
T1 = "2026-11-03T10:00+08:00"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def put(desk: ImapDesk, folder: str, raw: bytes, arrived: str, flags: tuple[str, ...] = ()) -> int:
    return desk.user.append(folder, raw, flags=flags, when=datetime.fromisoformat(arrived))


def test_a_reply_dated_2031_ends_the_sequence(dovecot: Dovecot, tmp_path: Path) -> None:
    desk = ImapDesk.create(dovecot, tmp_path)
    put(
        desk,
        "Sent",
        mail(LI, CARL, "A platform role", T0, "o-carl@hunter.example"),
        T0,
        ("\\Seen",),
    )
    reply = mail(
        CARL, LI, "Re: A platform role", "2031-11-03T09:00+08:00", "r-carl@candidate.example",
        reply_to="o-carl@hunter.example",
    )  # fmt: skip
    put(desk, "INBOX", reply, "2026-11-02T16:00+08:00")
    desk.ok("once", now=T1)
    assert desk.drafts() == []
    assert desk.row(T1, CARL[1])["state"] == "replied"
    out = desk.ok("explain", CARL[1], now=T1)
    assert "receipt time used" in out


def test_a_future_dated_outreach_is_tracked(dovecot: Dovecot, tmp_path: Path) -> None:
    desk = ImapDesk.create(dovecot, tmp_path)
    outreach = mail(LI, DANA, "A platform role", "2032-01-01T09:00+08:00", "o-dana@hunter.example")
    put(desk, "Sent", outreach, T0, ("\\Seen",))
    desk.ok("once", now="2026-11-02T18:00+08:00")
    row = desk.row("2026-11-02T18:00+08:00", DANA[1])
    assert (row["state"], row["next_step"]) == ("waiting", 1)
    desk.ok("once", now=T1)
    (draft,) = desk.drafts()
    assert DANA[1] in draft.header("To")


def test_two_outreaches_sharing_one_message_id_are_both_tracked(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    desk = ImapDesk.create(dovecot, tmp_path)
    same = "reused@hunter.example"
    put(desk, "Sent", mail(LI, CARL, "A platform role", T0, same), T0, ("\\Seen",))
    put(
        desk, "Sent", mail(LI, DANA, "A data role", "2026-11-02T09:40+08:00", same), T0, ("\\Seen",)
    )
    desk.ok("once", now=T1)
    assert desk.row(T1, CARL[1])["state"] in ("waiting", "draft_pending")
    assert desk.row(T1, DANA[1])["state"] in ("waiting", "draft_pending")
    assert sorted(CARL[1] in d.header("To") for d in desk.drafts()) == [False, True]
    assert "reused Message-ID <reused@hunter.example>" in desk.ok("explain", DANA[1], now=T1)


def test_a_strangers_mail_reusing_the_outreach_id_stays_out_of_the_draft(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    desk = ImapDesk.create(dovecot, tmp_path)
    put(desk, "Sent", mail(LI, CARL, "A platform role", T0, "o-c2@hunter.example"), T0, ("\\Seen",))
    # Someone else's message carrying the outreach's own Message-ID, in a thread of theirs.
    spoof = mail(
        STRANGER, (ME, ME), "hello", "2026-11-02T11:00+08:00", "o-c2@hunter.example",
        extra=(("References", "<s-root@elsewhere.example>"),),
    )  # fmt: skip
    put(desk, "INBOX", spoof, "2026-11-02T11:00+08:00")
    desk.ok("once", now=T1)
    draft = desk.draft_to(CARL[1])
    assert "elsewhere.example" not in draft.header("References")
    assert draft.header("In-Reply-To").strip() == "<o-c2@hunter.example>"
    assert desk.row(T1, CARL[1])["state"] == "draft_pending"
