"""Ingest on real SQLite and PostgreSQL: the bulk write path keeps results and crash safety."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from connectors.memory import MemoryMailbox, raw_message
from connectors.model import ChangeBatch, MailMessage, MessageGone
from daemon.config.identity import Identity
from daemon.db.bulk import BulkInsert, reserve_ids
from daemon.db.engine import Store
from daemon.db.tables import Control, Message, MessageRef, Thread
from daemon.db.tables import Sequence as SequenceRow
from daemon.ingest.mail import SyncReport, apply_batch, refine_bodies, sync_mail
from daemon.ingest.mail_threads import merge_threads

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ME = "li.na@talentbridge.cn"
IDENTITY = Identity(own=frozenset({ME}), internal_domains=("talentbridge.cn",))


def _mailbox(batch_size: int = 3) -> MemoryMailbox:
    box = MemoryMailbox(batch_size=batch_size)
    when = NOW - timedelta(days=3)
    box.deliver(
        "sent",
        raw_message(
            sender=f"Li Na <{ME}>", to="Wang Fang <wang@client.cn>", subject="Data Scientist",
            message_id="out1@talentbridge.cn", date=when,
        ),
        received=when,
    )  # fmt: skip
    # The reply arrives in a later batch than a reply to it: the threads must merge.
    box.deliver(
        "inbox",
        raw_message(
            sender="Wang Fang <wang@client.cn>", to=ME, subject="Re: Re: Data Scientist",
            message_id="re2@client.cn", date=when + timedelta(hours=3),
            in_reply_to="re1@client.cn", references=["out1@talentbridge.cn", "re1@client.cn"],
        ),
        received=when + timedelta(hours=3),
    )  # fmt: skip
    box.deliver(
        "inbox",
        raw_message(
            sender="News <news@jobs.example>", to=ME, subject="This week's jobs",
            message_id="n1@jobs.example", date=when, extra=["List-Id: <jobs.example>"],
        ),
        received=when,
    )  # fmt: skip
    box.deliver(
        "inbox",
        raw_message(
            sender="Mail Delivery System <MAILER-DAEMON@mx.client.cn>", to=ME,
            subject="Undelivered Mail Returned to Sender", message_id="b1@mx.client.cn",
            date=when + timedelta(minutes=1),
        ),
        received=when + timedelta(minutes=1),
    )  # fmt: skip
    box.deliver(
        "inbox",
        raw_message(
            sender="Wang Fang <wang@client.cn>", to=ME, subject="Re: Data Scientist",
            message_id="re1@client.cn", date=when + timedelta(hours=1),
            in_reply_to="out1@talentbridge.cn", references=["out1@talentbridge.cn"],
        ),
        received=when + timedelta(hours=1),
    )  # fmt: skip
    return box


def _sync(store: Store, box: MemoryMailbox) -> None:
    sync_mail(store, "acct", ME, box, IDENTITY, NOW, timedelta(days=90))


def test_first_sync_stores_verdicts_threads_and_refs(store: Store) -> None:
    _sync(store, _mailbox())
    with store.reader() as s:
        rows = {m.message_id: m for m in s.scalars(select(Message))}
        assert {k: (m.direction, m.kind) for k, m in rows.items()} == {
            "out1@talentbridge.cn": ("out", "own"),
            "re2@client.cn": ("in", "human"),
            "n1@jobs.example": ("in", "bulk"),
            "b1@mx.client.cn": ("in", "bounce"),
            "re1@client.cn": ("in", "human"),
        }
        assert rows["n1@jobs.example"].reason == "header List-Id: <jobs.example>"
        conversation = {rows[k].thread_id for k in ("out1@talentbridge.cn", "re1@client.cn")}
        assert conversation == {rows["re2@client.cn"].thread_id}
        assert len({m.thread_id for m in rows.values()}) == 3
        assert s.scalar(select(func.count()).select_from(Thread)) == 3
        assert rows["re2@client.cn"].references == ["out1@talentbridge.cn", "re1@client.cn"]
        assert rows["re2@client.cn"].recipients == [[ME, "", "to"]]
        assert rows["out1@talentbridge.cn"].sent_at == NOW - timedelta(days=3)
        assert rows["out1@talentbridge.cn"].seen_at == NOW
        targets = sorted(
            s.execute(
                select(Message.message_id, MessageRef.target).join(
                    Message, Message.id == MessageRef.message_pk
                )
            ).all()
        )
        assert targets == [
            ("re1@client.cn", "out1@talentbridge.cn"),
            ("re2@client.cn", "out1@talentbridge.cn"),
            ("re2@client.cn", "re1@client.cn"),
        ]


def test_a_repeated_sync_from_scratch_adds_nothing(store: Store) -> None:
    box = _mailbox()
    _sync(store, box)
    with store.transaction() as s:
        s.execute(text("UPDATE accounts SET cursor = NULL"))  # as if every batch were retried
    _sync(store, box)
    with store.reader() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 5
        assert s.scalar(select(func.count()).select_from(MessageRef)) == 3
        assert s.scalar(select(func.count()).select_from(Thread)) == 3


def test_bulk_rows_read_back_like_orm_rows(store: Store) -> None:
    """Same stored values whether a row came through BulkInsert or the ORM."""
    with store.transaction() as s:
        s.execute(
            text(
                "INSERT INTO accounts (id, name, address, health, rescans)"
                " VALUES (1, 'a', 'a@x', 'ok', 0)"
            )
        )
        orm = Thread(account_id=1, subject="李雷 ✓", created_at=NOW, dirty=True)
        s.add(orm)
        s.flush()
        (pk,) = reserve_ids(s, Thread.__table__, 1)  # type: ignore[arg-type]
        assert pk > orm.id
        bulk = BulkInsert(
            Thread.__table__,  # type: ignore[arg-type]
            ("id", "subject"),
            constants=("account_id", "created_at", "dirty"),
        )
        bulk.execute(s, [(pk, "李雷 ✓")], (1, NOW.astimezone(), True))
        # The database's own id choice must still work after reserved ids (the sequence).
        later = Thread(account_id=1, subject="later", created_at=NOW, dirty=False)
        s.add(later)
        s.flush()
        assert later.id > pk
    with store.reader() as s:
        got = {t.id: (t.subject, t.created_at, t.dirty) for t in s.scalars(select(Thread))}
        assert got[orm.id] == got[pk] == ("李雷 ✓", NOW, True)
        raw = s.execute(text("SELECT created_at FROM threads ORDER BY id")).scalars().all()
        assert raw[0] == raw[1]


def test_bulk_message_columns_are_stored_like_orm_ones(store: Store) -> None:
    """JSON lists and datetimes (BulkInsert's own converters) store the ORM's exact text."""
    when = datetime(2025, 12, 12, 17, 55, 37, 120, tzinfo=timezone(timedelta(hours=8)))
    values: dict[str, object] = {
        "account_id": 1,
        "folder": "INBOX",
        "folder_role": "inbox",
        "direction": "in",
        "kind": "human",
        "subject": "",
        "sender_name": "",
        "reason": "",
        "needs_body": False,
        "references": ["a@b", 'q"\\x', "\u674e\u5a1c"],
        "recipients": [["wang@client.cn", '王芳 "W"', "to"], ["x@y", "", "cc"]],
        "tags": [],
        "flags": ["\\Seen"],
        "problems": [],
        "bounce_recipients": [],
        "sent_at": when,
        "received_at": when.astimezone(UTC),
        "seen_at": NOW,
    }
    columns = [name for name in values if name not in ("account_id", "seen_at")]
    with store.transaction() as s:
        s.execute(
            text(
                "INSERT INTO accounts (id, name, address, health, rescans)"
                " VALUES (1, 'a', 'a@x', 'ok', 0)"
            )
        )
        s.add(Message(ref="orm", gone=False, **values))
        s.flush()
        (pk,) = reserve_ids(s, Message.__table__, 1)  # type: ignore[arg-type]
        bulk = BulkInsert(
            Message.__table__,  # type: ignore[arg-type]
            ("id", "ref", *columns),
            constants=("account_id", "gone", "seen_at"),
        )
        bulk.execute(s, [(pk, "bulk", *(values[c] for c in columns))], (1, False, NOW))
    with store.reader() as s:
        cast = "CAST({} AS TEXT)" if store.engine.dialect.name == "postgresql" else "{}"
        listed = ", ".join(cast.format(f'"{c}"') for c in (*columns, "seen_at"))
        orm, bulk_row = s.execute(text(f"SELECT {listed} FROM messages ORDER BY ref DESC")).all()
        assert tuple(orm) == tuple(bulk_row)


def test_refine_bodies_counts_and_keeps_gone_messages(store: Store) -> None:
    box = _mailbox(batch_size=500)
    _sync(store, box)
    with store.transaction() as s:
        bounce = s.scalar(select(Message).where(Message.message_id == "b1@mx.client.cn"))
        assert bounce is not None
        bounce.needs_body = True  # pretend it still waits for its body
        newsletter = s.scalar(select(Message).where(Message.message_id == "n1@jobs.example"))
        assert newsletter is not None
        newsletter.needs_body = True
        gone_ref = newsletter.ref
        s.execute(text("UPDATE threads SET dirty = :f"), {"f": False})
    box.remove_ref(gone_ref)

    report = SyncReport(account="acct")
    with store.reader() as s:
        account_id = s.scalar(select(Message.account_id).limit(1))
    assert account_id is not None
    refine_bodies(store, account_id, box, report)
    assert report.bodies == 1  # the one whose body could be read
    with store.reader() as s:
        rows = {m.message_id: m for m in s.scalars(select(Message))}
        assert not rows["b1@mx.client.cn"].needs_body
        assert rows["b1@mx.client.cn"].kind == "bounce"
        assert not rows["n1@jobs.example"].needs_body
        assert rows["n1@jobs.example"].problems[-1] == "gone before its body could be read"
        dirty = set(s.scalars(select(Thread.id).where(Thread.dirty.is_(True))))
        assert dirty == {rows["b1@mx.client.cn"].thread_id}


def test_the_body_queue_is_read_through_its_partial_index(store: Store) -> None:
    query = (
        select(Message.id, Message.ref)
        .where(Message.account_id == 1, Message.needs_body.is_(True), Message.gone.is_(False))
        .order_by(Message.folder, Message.id)
        .limit(500)
    )
    with store.engine.connect() as conn:
        sql = query.compile(conn)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = conn.exec_driver_sql("EXPLAIN " + str(sql), sql.params).scalars().all()
        else:
            params = tuple(sql.params[name] for name in sql.positiontup or ())
            plan = [r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(sql), params)]
    assert any("ix_messages_body_queue" in line for line in plan), plan


def test_a_message_gone_and_back_in_one_batch_keeps_its_row(store: Store) -> None:
    """The raw lookups see ORM changes made earlier in the same batch (autoflush)."""
    box = _mailbox(batch_size=500)
    _sync(store, box)
    (first,) = box.fetch_changes(None, since=NOW - timedelta(days=90), header_fields=())
    reply = next(
        c for c in first.changes if isinstance(c, MailMessage) and c.message_id == "re1@client.cn"
    )
    moved = replace(reply, ref=reply.ref + "-new")  # expunged and appended again (new UID)
    batch = ChangeBatch((MessageGone(reply.ref, reply.folder), moved), cursor="c")
    with store.reader() as s:
        before = s.scalar(select(Message).where(Message.ref == reply.ref))
        account_id = s.scalar(select(Message.account_id).limit(1))
    assert before is not None and account_id is not None
    report = SyncReport(account="acct")
    with store.transaction() as s:
        apply_batch(s, account_id, batch, IDENTITY, NOW, report)
    with store.reader() as s:
        rows = list(s.scalars(select(Message).where(Message.message_id == "re1@client.cn")))
    assert [(r.id, r.ref, r.gone) for r in rows] == [(before.id, moved.ref, False)]
    assert report.new == 0 and report.gone == 1


@pytest.mark.parametrize("loaded", [False, True])
def test_merging_threads_moves_everything_to_the_kept_one(store: Store, loaded: bool) -> None:
    """Plain SQL (nothing loaded) and ORM statements (rows loaded) merge alike."""
    with store.transaction() as s:
        s.execute(
            text(
                "INSERT INTO accounts (id, name, address, health, rescans)"
                " VALUES (1, 'a', 'a@x', 'ok', 0)"
            )
        )
        threads = [Thread(account_id=1, subject=f"t{i}", created_at=NOW) for i in range(3)]
        s.add_all(threads)
        s.flush()
        keep, *others = [t.id for t in threads]
        for i, tid in enumerate((keep, *others)):
            s.add(
                Message(
                    account_id=1,
                    ref=f"r{i}",
                    folder="INBOX",
                    folder_role="inbox",
                    direction="in",
                    kind="human",
                    thread_id=tid,
                )
            )
            s.add(Control(account_id=1, thread_id=tid, action="stop", at=NOW))
            s.add(
                SequenceRow(
                    id=f"s{i}",
                    account_id=1,
                    thread_id=tid,
                    contact_addr="c@x",
                    state="waiting",
                    started_at=NOW,
                )
            )
    with store.transaction() as s:
        if loaded:
            row = s.scalar(select(Message).where(Message.ref == "r1"))
            assert row is not None and len(s.identity_map)
        else:
            assert not len(s.identity_map)
        merge_threads(s, keep, others)
        if loaded:
            assert row.thread_id == keep
    with store.reader() as s:
        assert set(s.scalars(select(Message.thread_id))) == {keep}
        assert set(s.scalars(select(Control.thread_id))) == {keep}
        assert set(s.scalars(select(SequenceRow.thread_id))) == {keep}
        assert list(s.scalars(select(Thread.id))) == [keep]


def test_a_strangers_stored_copy_of_our_id_is_demoted_when_our_outreach_arrives(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 9.3: a stranger's mail carrying our outreach's Message-ID was synced first
    (INBOX before Sent, or an earlier cycle): our outreach still claims its own id."""
    when = NOW - timedelta(days=2)
    box = MemoryMailbox(batch_size=1)
    box.deliver(
        "inbox",
        raw_message(
            sender="Some One <stranger@elsewhere.example>", to=ME, subject="hello",
            message_id="o9@talentbridge.cn", date=when, references=["s-root@elsewhere.example"],
        ),
        received=when,
    )  # fmt: skip
    _sync(store, box)
    box.deliver(
        "sent",
        raw_message(
            sender=f"Li Na <{ME}>", to="Carl <carl@client.cn>", subject="A role",
            message_id="o9@talentbridge.cn", date=when + timedelta(hours=1),
        ),
        received=when + timedelta(hours=1),
    )  # fmt: skip
    box.deliver(
        "inbox",
        raw_message(
            sender="Carl <carl@client.cn>", to=ME, subject="Re: A role",
            message_id="r9@client.cn", date=when + timedelta(hours=2),
            in_reply_to="o9@talentbridge.cn", references=["o9@talentbridge.cn"],
        ),
        received=when + timedelta(hours=2),
    )  # fmt: skip
    with caplog.at_level("WARNING"):
        _sync(store, box)
    with store.reader() as s:
        rows = {m.sender_addr: m for m in s.scalars(select(Message))}
    stranger, ours, reply = rows["stranger@elsewhere.example"], rows[ME], rows["carl@client.cn"]
    assert ours.message_id == "o9@talentbridge.cn"
    assert stranger.message_id is None
    assert any("reused Message-ID <o9@talentbridge.cn>" in p for p in stranger.problems)
    assert reply.thread_id == ours.thread_id != stranger.thread_id
    assert any("kept apart" in r.getMessage() for r in caplog.records)
