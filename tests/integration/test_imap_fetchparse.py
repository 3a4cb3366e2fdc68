"""Wire.fetch (fetchparse) against imapclient's own FETCH on a real Dovecot: the same
rows for header, flags-only, CHANGEDSINCE and body fetches, keywords included."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from connectors.imap.client import Wire
from connectors.imap.normalize import to_message
from connectors.model import FolderRole, MailMessage
from tests.contract.mail_source_suite import b_word, make_raw
from tests.servers.dovecot import PASSWORD, MailUser

pytestmark = pytest.mark.dovecot

HEADERS = "BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID X-GHOSTWATCH-TAGS)]"


def _reference(user: MailUser, uids: list[int], items: list[str], **kw: Any) -> dict[int, Any]:
    with user.client() as client:
        client.normalise_times = False
        client.select_folder("INBOX", readonly=True)
        return {int(u): dict(r) for u, r in client.fetch(uids, items, **kw).items()}


def _same(got: dict[int, dict[bytes, Any]], want: dict[int, dict[bytes, Any]]) -> None:
    assert sorted(got) == sorted(want)
    for uid, row in want.items():
        assert set(got[uid]) == set(row), uid
        for key, value in row.items():
            assert got[uid][key] == value, (uid, key)
            if isinstance(value, datetime):
                assert got[uid][key].utcoffset() == value.utcoffset()


def test_wire_fetch_matches_imapclient_on_dovecot(
    mail_user: MailUser, make_settings: Callable[..., Any]
) -> None:
    plus8 = timezone(timedelta(hours=8))
    uids = [
        mail_user.append(
            "INBOX",
            make_raw("plain@example.org", subject='Quotes "here" and \\ there'),
            flags=["\\Seen", "$Forwarded", "gw:stop"],
            when=datetime(2026, 3, 2, 9, 0, 5, tzinfo=plus8),
        ),
        mail_user.append(
            "INBOX",
            make_raw("cjk@example.org", subject=b_word("面试安排", "gbk")),
            when=datetime(2025, 12, 2, 23, 59, tzinfo=timezone(timedelta(hours=-5))),
        ),
        mail_user.append("INBOX", b"X-Nothing: here\r\n\r\nbody\r\n"),  # no requested field
    ]
    wire = Wire.connect(make_settings(mail_user), PASSWORD)
    try:
        wire.examine("INBOX")
        items = ["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", HEADERS]
        rows, vanished = wire.fetch("INBOX", f"{uids[0]}:{uids[-1]}", items)
        assert vanished == set()
        want = _reference(mail_user, uids, items)
        _same(rows, want)
        assert {b"\\Seen", b"$Forwarded", b"gw:stop"} <= set(rows[uids[0]][b"FLAGS"])
        assert rows[uids[0]][b"INTERNALDATE"] == datetime(2026, 3, 2, 9, 0, 5, tzinfo=plus8)

        msg = to_message(
            rows[uids[0]], uid=uids[0], uidvalidity=1, folder="INBOX", role=FolderRole.INBOX
        )
        assert isinstance(msg, MailMessage)
        assert msg.subject == 'Quotes "here" and \\ there'
        assert msg.tags == frozenset({"gw:stop"}) and "$Forwarded" in msg.flags
        assert type(msg.received.tzinfo) is timezone  # type: ignore[union-attr]

        flags, _ = wire.fetch("INBOX", "1:*", ["UID", "FLAGS"])
        assert {u: r[b"FLAGS"] for u, r in flags.items()} == {
            u: r[b"FLAGS"] for u, r in _reference(mail_user, uids, ["FLAGS"]).items()
        }
        if wire.condstore:
            changed, _ = wire.fetch("INBOX", "1:*", ["UID", "FLAGS"], ["CHANGEDSINCE 1"])
            assert all(isinstance(r[b"MODSEQ"][0], int) for r in changed.values())

        body, _ = wire.fetch("INBOX", str(uids[2]), ["BODY.PEEK[]<0.1000>"])
        assert body[uids[2]][b"BODY[]<0>"] == b"X-Nothing: here\r\n\r\nbody\r\n"
    finally:
        wire.close()
