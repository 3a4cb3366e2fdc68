"""The MailSource contract: what every mail connector must do, whatever the server.

How to plug a connector in
--------------------------
Subclass `MailSourceContract` in a `test_<name>_contract.py` module and override
the `harness` fixture so it returns an object with these methods (the hook
interface; names and signatures are stable):

    open_source(*, batch_size: int = 500) -> MailSource
        A new, opened MailSource over the harness's mailbox (call it again for a
        "restarted daemon"). It must yield batches of at most `batch_size`
        changes, so the suite can force a multi-batch scan. The harness closes
        what it opened at teardown.

    deliver(folder, raw, *, flags=(), tags=(), received=None) -> None
        Put the RFC 5322 bytes `raw` into `folder`. `folder` is a FolderRole
        value ("inbox", "sent", "drafts") that the harness maps to the real
        folder. `flags` are IMAP system flag names ("\\Seen", "\\Answered",
        "\\Flagged", "\\Draft"); `tags` are gw:* tags in any case, written in
        the connector's native form (IMAP keyword, Gmail label, Maildir
        X-Ghostwatch-Tags header). `received` (tz-aware) is the arrival time
        (IMAP INTERNALDATE, file mtime); None means now.

    remove(folder, message_id) -> None
        Delete the message with that Message-ID (no angle brackets) from folder.

    set_tags(folder, message_id, tags) -> None
        Replace the message's gw:* tags with `tags` (same spelling as deliver).

    set_flags(folder, message_id, flags) -> None
        Replace the message's system flags with `flags` (IMAP names).

The suite only removes or re-tags messages it delivered with a unique
Message-ID. What the suite holds every connector to is in each test's name.

Set `declaration` to the connector's registry entry (`connectors.base.MailConnector`):
the folder-role test then asks for the Inbox plus the roles it declares it
needs, and the entry itself is checked (its opener gives this kind of source).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, Protocol

import pytest

from connectors.base import Capability, MailConnector, MailSource, PushSource, Scope
from connectors.model import (
    ChangeBatch,
    FolderRole,
    MailMessage,
    MessageGone,
    Skipped,
    TagsChanged,
)

HEADER_FIELDS: tuple[str, ...] = (
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "Precedence",
    "List-Id",
    "X-Ghostwatch-Tags",
    "X-Ghostwatch-Key",
)
LOOKBACK = timedelta(days=90)


class MailHarness(Protocol):
    def open_source(self, *, batch_size: int = 500) -> MailSource: ...

    def deliver(
        self,
        folder: str,
        raw: bytes,
        *,
        flags: Iterable[str] = (),
        tags: Iterable[str] = (),
        received: datetime | None = None,
    ) -> None: ...

    def remove(self, folder: str, message_id: str) -> None: ...

    def set_tags(self, folder: str, message_id: str, tags: Iterable[str]) -> None: ...

    def set_flags(self, folder: str, message_id: str, flags: Iterable[str]) -> None: ...


def make_raw(
    message_id: str | None = "m1@example.org",
    *,
    subject: str = "Senior Python role",
    sender: str = "Wang Fang <wang.fang@example.org>",
    to: str = "Li Lei <li.lei@example.com>",
    date: datetime | None = None,
    extra: Sequence[str] = (),
    body: str = "Hello,\r\n\r\nare you still interested?\r\n",
) -> bytes:
    """A small valid message; `date=None` means an hour ago."""
    when = date or datetime.now(UTC) - timedelta(hours=1)
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    lines.append(f"Date: {format_datetime(when)}")
    if message_id is not None:
        lines.append(f"Message-ID: <{message_id}>")
    lines += [*extra, "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def b_word(text: str, charset: str) -> str:
    """`text` as one RFC 2047 B encoded-word in `charset`."""
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def scan(
    source: MailSource,
    cursor: str | None,
    *,
    since: datetime | None = None,
    scope: Scope = "all",
) -> tuple[list[Any], str, list[ChangeBatch]]:
    """Run fetch_changes to the end: (changes, last cursor, batches)."""
    batches = list(
        source.fetch_changes(
            cursor,
            since=since or datetime.now(UTC) - LOOKBACK,
            header_fields=HEADER_FIELDS,
            scope=scope,
        )
    )
    assert batches, "fetch_changes must yield at least one batch (it carries the cursor)"
    changes = [c for b in batches for c in b.changes]
    return changes, batches[-1].cursor, batches


def messages(changes: Iterable[Any]) -> list[MailMessage]:
    return [c for c in changes if isinstance(c, MailMessage)]


def by_id(changes: Iterable[Any]) -> dict[str | None, MailMessage]:
    found: dict[str | None, MailMessage] = {}
    for m in messages(changes):
        assert m.message_id not in found, f"{m.message_id} reported twice"
        found[m.message_id] = m
    return found


class MailSourceContract:
    """Abstract: subclasses override the `harness` fixture (see module docstring)."""

    declaration: MailConnector | None = None  # None: a fake outside the registry

    @pytest.fixture
    def harness(self) -> MailHarness:
        raise NotImplementedError("a connector's contract test must provide `harness`")

    @pytest.fixture
    def source(self, harness: MailHarness) -> MailSource:
        return harness.open_source()

    def test_is_a_mail_source(self, source: MailSource) -> None:
        assert isinstance(source, MailSource)
        assert isinstance(type(source).kind, str) and type(source).kind

    def test_declared_capabilities_hold(self, source: MailSource) -> None:
        if self.declaration is None:
            pytest.skip("not a registered connector")
        # The daemon trusts the declaration and never probes: it must be true.
        assert self.declaration.can(Capability.PUSH) == isinstance(source, PushSource)

    def test_empty_mailbox_still_yields_a_cursor(self, source: MailSource) -> None:
        changes, cursor, _ = scan(source, None)
        assert changes == []
        assert isinstance(cursor, str) and cursor
        assert scan(source, cursor)[0] == []

    def test_first_scan_returns_exactly_what_is_within_since(
        self, harness: MailHarness, source: MailSource
    ) -> None:
        now = datetime.now(UTC)
        old = now - timedelta(days=200)
        for i in range(3):
            harness.deliver("inbox", make_raw(f"new{i}@example.org"))
        harness.deliver("inbox", make_raw("old@example.org", date=old), received=old)
        harness.deliver("sent", make_raw("out@example.com", sender="li.lei@example.com"))
        changes, _, _ = scan(source, None, since=now - LOOKBACK)
        assert set(by_id(changes)) == {
            "new0@example.org",
            "new1@example.org",
            "new2@example.org",
            "out@example.com",
        }
        assert not [c for c in changes if not isinstance(c, MailMessage)]

    def test_second_scan_with_cursor_returns_nothing(
        self, harness: MailHarness, source: MailSource
    ) -> None:
        harness.deliver("inbox", make_raw("a@example.org"))
        harness.deliver("sent", make_raw("b@example.com"))
        first, cursor, _ = scan(source, None)
        assert len(messages(first)) == 2
        again, cursor2, _ = scan(source, cursor)
        assert again == []
        assert scan(harness.open_source(), cursor2)[0] == []

    def test_new_message_appears_once(self, harness: MailHarness, source: MailSource) -> None:
        harness.deliver("inbox", make_raw("a@example.org"))
        _, cursor, _ = scan(source, None)
        harness.deliver("inbox", make_raw("b@example.org", subject="Re: Senior Python role"))
        changes, cursor, _ = scan(source, cursor)
        assert list(by_id(changes)) == ["b@example.org"]
        assert len(changes) == 1
        assert scan(source, cursor)[0] == []

    def test_removed_message_is_reported_gone(
        self, harness: MailHarness, source: MailSource
    ) -> None:
        harness.deliver("inbox", make_raw("a@example.org"))
        harness.deliver("inbox", make_raw("b@example.org"))
        first, cursor, _ = scan(source, None)
        ref_a = by_id(first)["a@example.org"].ref
        harness.remove("inbox", "a@example.org")
        changes, cursor, _ = scan(source, cursor)
        assert [(type(c), c.ref) for c in changes] == [(MessageGone, ref_a)]
        assert scan(source, cursor)[0] == []

    def test_tag_change_is_reported_with_normalized_gw_tags(
        self, harness: MailHarness, source: MailSource
    ) -> None:
        harness.deliver("inbox", make_raw("a@example.org"), tags=["GW:Role:Tech"])
        first, cursor, _ = scan(source, None)
        msg = by_id(first)["a@example.org"]
        assert msg.tags == frozenset({"gw:role:tech"})
        harness.set_tags("inbox", "a@example.org", ["gw:role:tech", "GW:STOP"])
        changes, cursor, _ = scan(source, cursor)
        assert len(changes) == 1
        change = changes[0]
        assert isinstance(change, TagsChanged)
        assert change.ref == msg.ref
        assert change.tags == frozenset({"gw:role:tech", "gw:stop"})
        assert scan(source, cursor)[0] == []

    def test_flag_change_is_reported(self, harness: MailHarness, source: MailSource) -> None:
        harness.deliver("inbox", make_raw("a@example.org"))
        first, cursor, _ = scan(source, None)
        msg = by_id(first)["a@example.org"]
        assert "\\Seen" not in msg.flags
        harness.set_flags("inbox", "a@example.org", ["\\Seen", "\\Answered"])
        changes, _, _ = scan(source, cursor)
        assert len(changes) == 1 and isinstance(changes[0], TagsChanged)
        assert changes[0].ref == msg.ref
        assert {"\\Seen", "\\Answered"} <= changes[0].flags

    def test_first_batch_then_resume_loses_and_repeats_nothing(self, harness: MailHarness) -> None:
        wanted = {f"m{i}@example.org" for i in range(7)}
        for mid in sorted(wanted):
            harness.deliver("inbox", make_raw(mid))
        since = datetime.now(UTC) - LOOKBACK
        _, _, full = scan(harness.open_source(batch_size=3), None, since=since)
        assert len(full) >= 3, "a scan of 7 messages with batch_size=3 must yield several batches"

        source = harness.open_source(batch_size=3)
        gen = source.fetch_changes(None, since=since, header_fields=HEADER_FIELDS)
        first = next(iter(gen))
        gen.close()  # the daemon crashed after committing the first batch
        assert 0 < len(first.changes) <= 3
        rest, cursor, _ = scan(harness.open_source(batch_size=3), first.cursor, since=since)
        seen = [m.message_id for m in messages([*first.changes, *rest])]
        assert sorted(seen) == sorted(wanted)
        assert scan(harness.open_source(), cursor, since=since)[0] == []

    def test_resuming_after_every_batch_converges(self, harness: MailHarness) -> None:
        for i in range(5):
            harness.deliver("inbox", make_raw(f"m{i}@example.org"))
        since = datetime.now(UTC) - LOOKBACK
        cursor: str | None = None
        seen: list[str | None] = []
        for _ in range(20):
            gen = harness.open_source(batch_size=2).fetch_changes(
                cursor, since=since, header_fields=HEADER_FIELDS
            )
            batch = next(iter(gen))
            gen.close()
            cursor = batch.cursor
            if not batch.changes:
                break
            seen += [m.message_id for m in messages(batch.changes)]
        assert sorted(seen) == sorted(f"m{i}@example.org" for i in range(5))

    def test_fetch_raw_returns_bytes_then_none_after_removal(
        self, harness: MailHarness, source: MailSource
    ) -> None:
        raw = make_raw("a@example.org", body="line one\r\n" * 200)
        harness.deliver("inbox", raw)
        first, cursor, _ = scan(source, None)
        ref = by_id(first)["a@example.org"].ref
        got = source.fetch_raw(ref, max_bytes=1 << 20)
        assert got is not None
        assert got.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
        cut = source.fetch_raw(ref, max_bytes=100)
        assert cut is not None and 0 < len(cut) <= 100
        harness.remove("inbox", "a@example.org")
        scan(source, cursor)
        assert source.fetch_raw(ref, max_bytes=1 << 20) is None

    def test_broken_messages_do_not_break_the_scan(
        self, harness: MailHarness, source: MailSource
    ) -> None:
        harness.deliver("inbox", b"\x00\xff\xfe garbage without any header\r\n\r\n\x00body")
        harness.deliver(
            "inbox",
            b"From: someone@example.org\r\nSubject: no id, no date\r\n\r\nbody\r\n",
        )
        harness.deliver(
            "inbox",
            make_raw("charset@example.org", subject="=?x-klingon?Q?Qapla=27?= offer"),
        )
        harness.deliver("inbox", make_raw("good@example.org"))
        changes, cursor, _ = scan(source, None)
        assert len(changes) == 4
        assert all(isinstance(c, MailMessage | Skipped) for c in changes)
        found = by_id(changes)
        assert found["good@example.org"].problems == ()
        assert "offer" in found["charset@example.org"].subject
        no_id = [m for m in messages(changes) if m.subject == "no id, no date"]
        assert len(no_id) == 1
        assert no_id[0].message_id is None and no_id[0].date is None
        assert no_id[0].problems
        assert scan(source, cursor)[0] == []

    def test_folder_roles_are_found(self, harness: MailHarness, source: MailSource) -> None:
        harness.deliver("sent", make_raw("out@example.com"))
        harness.deliver("drafts", make_raw("draft@example.com"), flags=["\\Draft"])
        harness.deliver("inbox", make_raw("in@example.org"))
        roles = {f.role for f in source.folders()}
        needed = {FolderRole.INBOX, FolderRole.SENT, FolderRole.DRAFTS}
        if self.declaration is not None:
            needed = {FolderRole.INBOX, *self.declaration.folder_roles}
        assert needed <= roles
        found = by_id(scan(source, None)[0])
        assert found["out@example.com"].folder_role is FolderRole.SENT
        assert found["draft@example.com"].folder_role is FolderRole.DRAFTS
        assert found["in@example.org"].folder_role is FolderRole.INBOX
        refs = {m.ref for m in found.values()}
        assert len(refs) == 3

    def test_same_message_in_two_folders_has_two_refs(
        self, harness: MailHarness, source: MailSource
    ) -> None:
        raw = make_raw("both@example.org")
        harness.deliver("inbox", raw)
        harness.deliver("sent", raw)
        found = messages(scan(source, None)[0])
        assert [m.message_id for m in found] == ["both@example.org"] * 2
        assert found[0].ref != found[1].ref

    def test_rfc2047_gbk_and_big5_are_decoded(
        self, harness: MailHarness, source: MailSource
    ) -> None:
        harness.deliver(
            "inbox",
            make_raw(
                "gbk@example.org",
                subject=b_word("高级工程师职位", "gbk"),
                sender=f"{b_word('王芳', 'gb2312')} <wang.fang@example.org>",
            ),
        )
        harness.deliver(
            "inbox",
            make_raw(
                "big5@example.org",
                subject=b_word("面試時間確認", "big5"),
                sender=f"{b_word('陳大文', 'big5')} <chan@example.hk>",
            ),
        )
        found = by_id(scan(source, None)[0])
        gbk, big5 = found["gbk@example.org"], found["big5@example.org"]
        assert gbk.subject == "高级工程师职位"
        assert gbk.sender is not None and gbk.sender.name == "王芳"
        assert big5.subject == "面試時間確認"
        assert big5.sender is not None and big5.sender.name == "陳大文"

    def test_normalized_fields(self, harness: MailHarness, source: MailSource) -> None:
        when = datetime(2024, 5, 6, 9, 30, tzinfo=UTC)
        raw = make_raw(
            "reply@example.org",
            subject="Re: Senior Python role",
            sender='"Wang, Fang" <Wang.Fang@Example.org>',
            to="li.lei@example.com, Han Meimei <han@example.com>",
            date=when,
            extra=[
                "Cc: boss@example.com",
                "In-Reply-To: <a@example.com>",
                "References: <z@example.com>\r\n <a@example.com>",
            ],
        )
        harness.deliver("inbox", raw, received=when)
        msg = by_id(scan(source, None, since=when - timedelta(days=1))[0])["reply@example.org"]
        assert msg.sender is not None
        assert (msg.sender.addr, msg.sender.name) == ("wang.fang@example.org", "Wang, Fang")
        assert [a.addr for a in msg.to] == ["li.lei@example.com", "han@example.com"]
        assert [a.addr for a in msg.cc] == ["boss@example.com"]
        assert msg.in_reply_to == "a@example.com"
        assert msg.references == ("z@example.com", "a@example.com")
        assert msg.date == when
        assert msg.received is not None and msg.received.tzinfo is not None

    def test_headers_hold_requested_fields_and_no_body(
        self, harness: MailHarness, source: MailSource
    ) -> None:
        raw = make_raw(
            "h@example.org",
            extra=["X-Unrequested-Secret: do-not-copy", "Auto-Submitted: auto-replied"],
            body="BODY-MARKER-7f3a\r\n",
        )
        harness.deliver("inbox", raw)
        msg = by_id(scan(source, None)[0])["h@example.org"]
        assert b"auto-replied" in msg.headers
        assert b"Senior Python role" in msg.headers
        assert b"do-not-copy" not in msg.headers
        assert b"BODY-MARKER-7f3a" not in msg.headers

    def test_inbound_scope_leaves_sent_for_the_next_full_scan(
        self, harness: MailHarness, source: MailSource
    ) -> None:
        _, cursor, _ = scan(source, None)
        harness.deliver("inbox", make_raw("in@example.org"))
        harness.deliver("sent", make_raw("out@example.com"))
        inbound, cursor, _ = scan(source, cursor, scope="inbound")
        assert list(by_id(inbound)) == ["in@example.org"]
        full, _, _ = scan(source, cursor, scope="all")
        assert list(by_id(full)) == ["out@example.com"]

    def test_progress_when_reported_is_consistent(self, harness: MailHarness) -> None:
        for i in range(4):
            harness.deliver("inbox", make_raw(f"p{i}@example.org"))
        _, _, batches = scan(harness.open_source(batch_size=2), None)
        for batch in batches:
            if batch.progress is not None:
                done, total = batch.progress
                assert 0 <= done <= total
