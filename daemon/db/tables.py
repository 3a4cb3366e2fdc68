"""The database schema: what ghostwatch remembers between cycles.

Messages are kept as headers and classification only, never bodies. Sequences
carry everything the case library needs (SPEC §5) from the start, so a report
is a query, not a reconstruction.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as UTC everywhere; SQLite would otherwise drop the offset silently."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TZDateTime = UTCDateTime()


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    address: Mapped[str] = mapped_column(String(320))
    cursor: Mapped[str | None] = mapped_column(Text)
    last_sync_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    health: Mapped[str] = mapped_column(String(16), default="ok")  # ok | degraded
    last_error: Mapped[str | None] = mapped_column(Text)
    rescans: Mapped[int] = mapped_column(Integer, default=0)


class Thread(Base):
    __tablename__ = "threads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    dirty: Mapped[bool] = mapped_column(Boolean, default=True)  # needs re-deciding


# The body-refinement queue (migration 0002): only waiting messages, in refine_bodies'
# order; each predicate as SQLAlchemy renders the query. PostgreSQL's is set when a
# PostgreSQL engine is made (for_dialect): a `postgresql_where` here would load that
# dialect's modules into every command on SQLite (issue 11).
BODY_QUEUE = Index(
    "ix_messages_body_queue",
    "account_id",
    "folder",
    "id",
    sqlite_where=text("needs_body IS 1 AND gone IS 0"),
)
_WHERE = {"postgresql": "needs_body IS true AND gone IS false"}


def for_dialect(name: str) -> None:
    """Give the metadata the options of the dialect in use (see BODY_QUEUE)."""
    if name in _WHERE:
        BODY_QUEUE.dialect_options[name]["where"] = text(_WHERE[name])


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("account_id", "ref"),
        Index("ix_messages_account_msgid", "account_id", "message_id"),
        Index("ix_messages_account_sender", "account_id", "sender_addr"),
        BODY_QUEUE,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    ref: Mapped[str] = mapped_column(String(1024))
    folder: Mapped[str] = mapped_column(String(512))
    folder_role: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str | None] = mapped_column(String(998))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[str]] = mapped_column(JSON, default=list)
    provider_thread_id: Mapped[str | None] = mapped_column(String(200), index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    sender_addr: Mapped[str | None] = mapped_column(String(320))
    sender_name: Mapped[str] = mapped_column(Text, default="")
    # [[addr, name, to|cc|bcc]]; Bcc only on the sender's own copy
    recipients: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime | None] = mapped_column(TZDateTime)  # Date header, else received
    received_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    direction: Mapped[str] = mapped_column(String(8))  # out | in
    kind: Mapped[str] = mapped_column(String(16))  # human | auto_reply | bounce | bulk
    reason: Mapped[str] = mapped_column(Text, default="")
    needs_body: Mapped[bool] = mapped_column(Boolean, default=False)
    return_date: Mapped[date | None] = mapped_column(Date)
    bounce_status: Mapped[str | None] = mapped_column(String(16))
    bounce_hard: Mapped[bool | None] = mapped_column(Boolean)
    # Why it bounced, sisimai's vocabulary (userunknown, spamdetected, ...); issue 8.
    bounce_reason: Mapped[str | None] = mapped_column(String(32))
    bounce_recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    gw_key: Mapped[str | None] = mapped_column(String(200), index=True)
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("threads.id", ondelete="SET NULL"), index=True
    )
    gone: Mapped[bool] = mapped_column(Boolean, default=False)
    gone_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    seen_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # Outbound only: the language of its subject and text (daemon/decide/language.py codes);
    # NULL = not read yet, "" = read, not recognised. The text itself is never kept.
    lang: Mapped[str | None] = mapped_column(String(16))


class MessageRef(Base):
    """One Message-ID a message points at (In-Reply-To and References), for threading."""

    __tablename__ = "message_refs"
    __table_args__ = (Index("ix_message_refs_account_target", "account_id", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    message_pk: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    target: Mapped[str] = mapped_column(String(998))


class Skip(Base):
    """A message the connector or classifier could not use, with the reason."""

    __tablename__ = "skips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    ref: Mapped[str] = mapped_column(String(1024))
    folder: Mapped[str] = mapped_column(String(512))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime | None] = mapped_column(TZDateTime)


class Sequence(Base):
    """One sequence of follow-ups in a thread; the case library when ended."""

    __tablename__ = "sequences"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("threads.id", ondelete="SET NULL"), index=True
    )
    contact_addr: Mapped[str] = mapped_column(String(320), index=True)
    contact_name: Mapped[str] = mapped_column(Text, default="")
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), index=True)
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    step_reached: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(TZDateTime)
    last_touch_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    next_step: Mapped[int | None] = mapped_column(Integer)
    next_due: Mapped[datetime | None] = mapped_column(TZDateTime)
    next_action: Mapped[str | None] = mapped_column(String(32))
    deferred_until: Mapped[datetime | None] = mapped_column(TZDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(64))
    contact_kind: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(64))
    red_flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    touch_gaps_hours: Mapped[list[float]] = mapped_column(JSON, default=list)
    silence_hours: Mapped[float | None] = mapped_column()
    reply_latencies_hours: Mapped[list[float]] = mapped_column(JSON, default=list)
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The contact returned after the sequence had ended: its outcome then, and when.
    returned_from: Mapped[str | None] = mapped_column(String(16))
    returned_from_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    returned_after_hours: Mapped[float | None] = mapped_column()
    manual: Mapped[str | None] = mapped_column(String(16))  # stopped | resumed
    decided_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # What `status` shows for it, as decided (decide/status_row.py): JSON text.
    status_row: Mapped[str | None] = mapped_column(Text)


class Control(Base):
    """A manual `ghostwatch stop` / `resume`, replayed as a tracker event, or
    `snooze` (action `snooze:YYYYMMDD`, read by daemon/decide/snooze.py)."""

    __tablename__ = "controls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(TZDateTime)
    # The contact named, for a thread that holds a sequence per Bcc recipient (only
    # theirs is stopped); None: every sequence of the thread.
    contact_addr: Mapped[str | None] = mapped_column(String(320))


class DaemonLock(Base):
    """Which process holds the writer role (one `run` per database)."""

    __tablename__ = "daemon_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime] = mapped_column(TZDateTime)


class Draft(Base):
    """The outbox: one row per follow-up draft, from intent to its fate.

    The row is committed (state `intent`) before the draft is written, and its
    provider ref after, so a crash between the two is resolved by searching the
    Drafts folder for the key instead of writing a second draft.

    States: intent -> written -> sent | deleted | withdrawn | kept_edited;
    intent -> cancelled (a reply arrived first); intent -> failed (retried).
    """

    __tablename__ = "drafts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # <sequence-id>.<step>
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    sequence_id: Mapped[str] = mapped_column(String(40), index=True)
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("threads.id", ondelete="SET NULL"), index=True
    )
    step: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)
    due_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    message_id: Mapped[str] = mapped_column(String(300))
    ref: Mapped[str | None] = mapped_column(String(1024))
    content_hash: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    written_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    # None: in the account's own Drafts; else the backup account whose Drafts hold it.
    sink_account: Mapped[str | None] = mapped_column(String(200))


# The calendar's tables share Base: whoever imports the tables gets them all, so
# metadata (create_all, Alembic's autogenerate) is always complete.
import daemon.db.calendar_tables  # noqa: E402, F401
