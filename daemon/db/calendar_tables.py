"""Calendar tables: the reminder outbox and the account's calendar as last seen.

Kept apart from tables.py so the calendar work can evolve on its own; the
models sit on the same `Base`, so Alembic autogenerate sees them once this
module is imported (the migration env must import it next to tables.py).

Like messages, calendar entries are kept as facts without bodies: the
description of someone else's event is never stored, only the mail addresses
it mentions (all the signals need).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from daemon.db.tables import Base, TZDateTime


class Reminder(Base):
    """The reminder outbox: one row per "call X" / "final" / "dead address" event.

    The row (with the exact event content) is committed before the event is
    written and the provider's href/etag after, so a retry after a timeout or a
    crash first asks the calendar for the deterministic UID instead of writing
    a second event.

    States: intent -> written -> removing -> removed | gone (the user deleted it);
    intent -> cancelled (the sequence ended first); intent <-> failed (retried).
    """

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_account_state", "account_id", "state"),)

    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # <sequence-id>.<step>.<kind>
    uid: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # The account whose calendar holds the event: None for the sequence's own
    # account, the backup's name while the owner is away.
    calendar_account: Mapped[str | None] = mapped_column(String(200))
    sequence_id: Mapped[str] = mapped_column(String(40), index=True)
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("threads.id", ondelete="SET NULL"), index=True
    )
    step: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # call | final | dead_address
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(TZDateTime)  # the event's start
    end: Mapped[datetime] = mapped_column(TZDateTime)
    summary: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    alarm_minutes: Mapped[int | None] = mapped_column(Integer)
    href: Mapped[str | None] = mapped_column(String(1024))
    etag: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    written_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class CalendarEntry(Base):
    """One event of the account's calendar as ghostwatch last saw it.

    `times_moved` counts changes of the start seen between syncs (repeated
    rescheduling is a red flag); `cancelled_at` is when STATUS:CANCELLED was
    first seen. Removed events stay as `deleted` rows: a meeting that existed
    still proves the contact was alive, and replaying history must not change
    when the calendar is tidied.
    """

    __tablename__ = "calendar_entries"
    __table_args__ = (
        UniqueConstraint("account_id", "uid"),
        Index("ix_calendar_entries_account_start", "account_id", "start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(String(1024))
    summary: Mapped[str] = mapped_column(Text, default="")
    start: Mapped[datetime] = mapped_column(TZDateTime)
    end: Mapped[datetime] = mapped_column(TZDateTime)
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    # For all-day events the calendar dates themselves: the instants above
    # depend on the zone a connector read the floating DATE in.
    start_day: Mapped[date | None] = mapped_column(Date)
    end_day: Mapped[date | None] = mapped_column(Date)  # exclusive, as in iCalendar
    attendees: Mapped[list[str]] = mapped_column(JSON, default=list)  # lower-case addresses
    organizer: Mapped[str | None] = mapped_column(String(320))
    mentions: Mapped[list[str]] = mapped_column(JSON, default=list)  # addresses in the text
    status: Mapped[str] = mapped_column(String(16), default="")
    busy_status: Mapped[str] = mapped_column(String(16), default="")
    transparent: Mapped[bool] = mapped_column(Boolean, default=False)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_ghostwatch: Mapped[bool] = mapped_column(Boolean, default=False)
    times_moved: Mapped[int] = mapped_column(Integer, default=0)
    moved_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(320))
    first_seen: Mapped[datetime] = mapped_column(TZDateTime)
    last_seen: Mapped[datetime] = mapped_column(TZDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(TZDateTime)


class CalendarCursor(Base):
    """Where the calendar sync of one account stands (the connector's opaque cursor)."""

    __tablename__ = "calendar_cursors"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    cursor: Mapped[str | None] = mapped_column(Text)
    last_sync_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    rescans: Mapped[int] = mapped_column(Integer, default=0)


class InviteAnswerRow(Base):
    """An attendee's answer found in an iMIP REPLY mail (text/calendar, METHOD:REPLY).

    Mail bodies are never kept, so the answer is recorded when the mail is read;
    `message_ref` ties it to the message so a re-read does not record it twice.
    """

    __tablename__ = "invite_answers"
    __table_args__ = (UniqueConstraint("account_id", "message_ref", "uid", "attendee"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    message_ref: Mapped[str] = mapped_column(String(1024))
    uid: Mapped[str] = mapped_column(String(1024))
    attendee: Mapped[str] = mapped_column(String(320), index=True)
    partstat: Mapped[str] = mapped_column(String(32))
    dtstart: Mapped[datetime | None] = mapped_column(TZDateTime)
    received_at: Mapped[datetime] = mapped_column(TZDateTime)
