"""ImapMailbox on a real Dovecot: scans, cursors, changes, and what they cost."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from connectors.errors import CursorExpired
from connectors.imap import ImapMailbox, Settings, open_mailbox
from connectors.model import FolderRole, MailMessage, MessageGone, TagsChanged
from tests.contract.mail_source_suite import HEADER_FIELDS, by_id, make_raw, messages, scan
from tests.servers.dovecot import MailUser

pytestmark = pytest.mark.dovecot

NOW = datetime.now(UTC)


def opened(settings: Settings) -> ImapMailbox:
    source = open_mailbox(settings)
    source.open()
    return source


@pytest.fixture
def source(mail_user: MailUser, make_settings: Callable[..., Settings]):
    src = opened(make_settings(mail_user, fetch_chunk=4))
    yield src
    src.close()


def test_first_scan_reads_the_since_window_headers_only(
    mail_user: MailUser, source: ImapMailbox
) -> None:
    for i in range(6):
        mail_user.append("INBOX", make_raw(f"in{i}@example.org", body="BODY-MARKER\r\n"))
    old = NOW - timedelta(days=120)
    mail_user.append("INBOX", make_raw("old@example.org", date=old), when=old)
    mail_user.append("Sent", make_raw("out@example.com", sender="li.lei@example.com"))
    mail_user.append("Junk", make_raw("spam@example.net"))

    changes, cursor, batches = scan(source, None, since=NOW - timedelta(days=90))

    found = by_id(changes)
    assert set(found) == {f"in{i}@example.org" for i in range(6)} | {"out@example.com"}
    assert found["out@example.com"].folder_role is FolderRole.SENT
    assert all(b"BODY-MARKER" not in m.headers for m in found.values())
    assert all(len(b.changes) <= 4 for b in batches)  # fetch_chunk
    assert source.stats.messages == 7
    # Junk is not watched at all; the cursor covers INBOX, Sent and Drafts.
    assert set(json.loads(cursor)["folders"]) == {"INBOX", "Sent", "Drafts"}


def test_quiet_cycle_costs_one_status_per_folder_and_no_bytes(
    mail_user: MailUser, source: ImapMailbox
) -> None:
    mail_user.append("INBOX", make_raw("a@example.org"))
    mail_user.append("Sent", make_raw("b@example.com"))
    _, cursor, _ = scan(source, None)

    changes, again, batches = scan(source, cursor)

    assert changes == [] and len(batches) == 1
    assert again == cursor
    stats = source.stats
    assert set(stats.per_folder) == {"INBOX", "Sent", "Drafts"}
    assert all(n == 1 for n in stats.per_folder.values()), stats
    assert stats.messages == 0
    assert stats.account == 1  # LIST: new folders must still be noticed


def test_the_inbox_stays_watched_and_every_change_made_meanwhile_is_seen(
    mail_user: MailUser, source: ImapMailbox
) -> None:
    uids = [mail_user.append("INBOX", make_raw(f"w{i}@example.org")) for i in range(3)]
    first, cursor, _ = scan(source, None)
    refs = {m.message_id: m.ref for m in messages(first)}
    assert scan(source, cursor)[0] == []
    # Selected since the last cycle, the Inbox is checked with a NOOP, not a
    # STATUS that would make the server open and read it again.
    assert source._wire is not None and source._wire.watching == "INBOX"
    assert source.stats.per_folder["INBOX"] == 1

    mail_user.add_flags("INBOX", uids[0], ["gw:stop"])  # another client, while watched
    changes, cursor, _ = scan(source, cursor)
    assert [(c.ref, c.tags) for c in changes if isinstance(c, TagsChanged)] == [
        (refs["w0@example.org"], frozenset({"gw:stop"}))
    ]
    assert scan(source, cursor)[0] == []

    mail_user.append("INBOX", make_raw("late@example.org"))
    changes, cursor, _ = scan(source, cursor)
    assert [m.message_id for m in messages(changes)] == ["late@example.org"]
    assert scan(source, cursor)[0] == []

    mail_user.expunge("INBOX", uids[2])
    changes, cursor, _ = scan(source, cursor)
    assert changes == [MessageGone(refs["w2@example.org"], "INBOX")]
    assert scan(source, cursor)[0] == []
    assert source.stats.per_folder["INBOX"] == 1


def test_a_reader_that_stops_mid_folder_leaves_the_connection_in_step(
    mail_user: MailUser, source: ImapMailbox
) -> None:
    # fetch_chunk is 4: with 10 messages the next chunk's FETCH is already
    # pipelined when the first batch is handed over.
    for i in range(10):
        mail_user.append("INBOX", make_raw(f"p{i}@example.org"))
    batches = source.fetch_changes(
        None, since=NOW - timedelta(days=90), header_fields=HEADER_FIELDS
    )
    first = next(b for b in batches if messages(list(b.changes)))
    batches.close()  # the caller gave up (a crash in ingest, SIGTERM...)
    assert len(messages(list(first.changes))) == 4

    resumed, _, _ = scan(source, first.cursor)
    assert sorted(m.message_id for m in messages(resumed)) == sorted(
        f"p{i}@example.org" for i in range(4, 10)
    )
    assert source._wire is not None and not source._wire.broken


def test_new_message_tags_and_tag_changes(mail_user: MailUser, source: ImapMailbox) -> None:
    uid = mail_user.append("INBOX", make_raw("a@example.org"), flags=["gw:stop", "\\Seen"])
    first, cursor, _ = scan(source, None)
    msg = by_id(first)["a@example.org"]
    assert msg.tags == {"gw:stop"}
    assert msg.flags == {"\\Seen"}
    assert msg.provider_thread_id is None  # Dovecot has no X-GM-EXT-1

    mail_user.remove_flags("INBOX", uid, ["gw:stop"])
    mail_user.add_flags("INBOX", uid, ["GW:Role:Exec", "\\Flagged"])
    mail_user.append("INBOX", make_raw("b@example.org"))
    changes, cursor, _ = scan(source, cursor)

    tags = [c for c in changes if isinstance(c, TagsChanged)]
    assert [(t.ref, t.tags, t.flags) for t in tags] == [
        (msg.ref, frozenset({"gw:role:exec"}), frozenset({"\\Seen", "\\Flagged"}))
    ]
    assert [m.message_id for m in messages(changes)] == ["b@example.org"]
    assert scan(source, cursor)[0] == []


def test_expunge_is_reported_gone_once(mail_user: MailUser, source: ImapMailbox) -> None:
    uids = [mail_user.append("INBOX", make_raw(f"m{i}@example.org")) for i in range(3)]
    first, cursor, _ = scan(source, None)
    refs = {m.message_id: m.ref for m in messages(first)}

    mail_user.expunge("INBOX", uids[1])
    changes, cursor, _ = scan(source, cursor)

    assert changes == [MessageGone(refs["m1@example.org"], "INBOX")]
    assert scan(source, cursor)[0] == []


def test_refs_embed_uidvalidity_and_uid(mail_user: MailUser, source: ImapMailbox) -> None:
    uid = mail_user.append("INBOX", make_raw("a@example.org"))
    msg = by_id(scan(source, None)[0])["a@example.org"]
    assert msg.ref == f"{mail_user.uidvalidity('INBOX')}:{uid}:INBOX"


def test_uidvalidity_change_rescans_without_duplicates(
    mail_user: MailUser, source: ImapMailbox
) -> None:
    for i in range(5):
        mail_user.append("INBOX", make_raw(f"m{i}@example.org"))
    first, cursor, _ = scan(source, None)
    old_refs = {m.ref for m in messages(first)}

    mail_user.reset_uidvalidity("INBOX")
    changes, cursor, batches = scan(source, cursor)

    assert [b.rescanned_folders for b in batches if b.rescanned_folders] == [("INBOX",)]
    gone = {c.ref for c in changes if isinstance(c, MessageGone)}
    assert gone == old_refs
    again = messages(changes)
    assert sorted(m.message_id for m in again) == [f"m{i}@example.org" for i in range(5)]
    new_refs = [m.ref for m in again]
    assert len(set(new_refs)) == 5 and not set(new_refs) & old_refs
    assert scan(source, cursor)[0] == []


def test_deleted_folder_reports_its_messages_gone(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    mail_user.create_folder("Clients")
    mail_user.append("Clients", make_raw("c@example.org"))
    source = opened(make_settings(mail_user))
    first, cursor, _ = scan(source, None)
    ref = by_id(first)["c@example.org"].ref

    mail_user.delete_folder("Clients")
    changes, cursor, batches = scan(source, cursor)

    assert changes == [MessageGone(ref, "Clients")]
    assert ("Clients",) in [b.rescanned_folders for b in batches]
    assert "Clients" not in json.loads(cursor)["folders"]
    source.close()


def test_crash_after_any_batch_resumes_without_loss(
    mail_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    wanted = [f"m{i:02}@example.org" for i in range(11)]
    for mid in wanted:
        mail_user.append("INBOX", make_raw(mid))
    since = NOW - timedelta(days=90)
    seen: list[str | None] = []
    cursor: str | None = None
    for _ in range(10):
        source = opened(make_settings(mail_user, fetch_chunk=3))
        batches = source.fetch_changes(cursor, since=since, header_fields=HEADER_FIELDS)
        batch = next(iter(batches))
        batches.close()  # "crash" right after committing one batch
        source.close()
        cursor = batch.cursor
        seen += [m.message_id for m in messages(batch.changes)]
        if not batch.changes:
            break
    assert seen == wanted


def test_fetch_raw_is_capped_and_none_when_gone(mail_user: MailUser, source: ImapMailbox) -> None:
    raw = make_raw("a@example.org", body="x" * 5000 + "\r\n")
    uid = mail_user.append("INBOX", raw)
    ref = by_id(scan(source, None)[0])["a@example.org"].ref
    assert source.fetch_raw(ref, max_bytes=1 << 20) == raw
    assert source.fetch_raw(ref, max_bytes=64) == raw[:64]
    mail_user.expunge("INBOX", uid)
    assert source.fetch_raw(ref, max_bytes=64) is None
    assert source.fetch_raw(f"1:{uid}:No Such Folder", max_bytes=64) is None


def test_unreadable_cursor_raises_cursor_expired(source: ImapMailbox) -> None:
    with pytest.raises(CursorExpired):
        source.fetch_changes("{not json", since=NOW, header_fields=HEADER_FIELDS)


def test_capabilities_as_offered(source: ImapMailbox) -> None:
    names = source.capabilities().names
    assert {"IDLE", "CONDSTORE", "QRESYNC", "SPECIAL-USE", "UIDPLUS", "MOVE", "ID"} <= names


def test_client_identifies_itself_after_login(mail_user: MailUser, source: ImapMailbox) -> None:
    source.capabilities()
    assert "name=ghostwatch" in mail_user.server.log()


def test_legacy_server_quiet_cycle_costs_two_commands_and_sees_changes(
    legacy_user: MailUser, make_settings: Callable[..., Settings]
) -> None:
    """Without CONDSTORE keyword changes are only visible by listing flags (no bytes)."""
    uid = legacy_user.append("INBOX", make_raw("a@example.org"))
    legacy_user.append("INBOX", make_raw("b@example.org"))
    source = opened(make_settings(legacy_user))
    first, cursor, _ = scan(source, None)
    assert "CONDSTORE" not in source.capabilities()

    assert scan(source, cursor)[0] == []
    assert source.stats.per_folder == {"INBOX": 2} and source.stats.messages == 0

    legacy_user.add_flags("INBOX", uid, ["gw:stop"])
    legacy_user.expunge("INBOX", uid + 1)
    changes, cursor, _ = scan(source, cursor)
    refs = {m.message_id: m.ref for m in messages(first)}
    assert MessageGone(refs["b@example.org"], "INBOX") in changes
    tags = [c for c in changes if isinstance(c, TagsChanged)]
    assert [(t.ref, t.tags) for t in tags] == [(refs["a@example.org"], frozenset({"gw:stop"}))]
    assert len(changes) == 2
    assert scan(source, cursor)[0] == []
    source.close()


def test_message_without_a_window_match_is_still_known_for_expunge(
    mail_user: MailUser, source: ImapMailbox
) -> None:
    """Old messages are not reported, but the cursor knows them, so counting stays exact."""
    old = NOW - timedelta(days=400)
    uid = mail_user.append("INBOX", make_raw("old@example.org", date=old), when=old)
    mail_user.append("INBOX", make_raw("new@example.org"))
    first, cursor, _ = scan(source, None)
    assert [m.message_id for m in messages(first)] == ["new@example.org"]
    mail_user.expunge("INBOX", uid)
    changes, cursor, _ = scan(source, cursor)
    assert [type(c) for c in changes] == [MessageGone]
    assert scan(source, cursor)[0] == []


def test_every_change_is_a_known_type(mail_user: MailUser, source: ImapMailbox) -> None:
    mail_user.append("INBOX", make_raw("a@example.org"))
    changes = scan(source, None)[0]
    assert all(isinstance(c, MailMessage) for c in changes)
