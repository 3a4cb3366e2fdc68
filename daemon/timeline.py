"""From stored messages to tracker events: who the contact is and what happened.

Pure: takes message views (plain data), returns events. Threads are joined at
ingest; here a thread's messages plus the account-wide messages from the
contact (replies in a new thread, auto-replies, bounces naming the contact)
become the event list the tracker replays.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from daemon.identity import Identity
from daemon.tracker.states import (
    AutoReply,
    Bounced,
    DraftGone,
    DraftWritten,
    Event,
    HumanReply,
    Outbound,
    Resume,
    Stop,
)

# gw:<field>:<value> tags a thread carries; title and company keep the value as the
# connector delivered it (free text), the others are normalised by the rules.
TAG_FIELDS = ("role", "stage", "kind", "source", "title", "company")


@dataclass(frozen=True, slots=True)
class MsgView:
    ref: str
    folder_role: str
    message_id: str | None
    at: datetime
    direction: str  # out | in
    kind: str  # own | human | auto_reply | bounce | bulk
    reason: str
    sender: str | None
    sender_name: str
    to: tuple[tuple[str, str], ...]  # (addr, name)
    cc: tuple[tuple[str, str], ...]
    subject: str
    tags: frozenset[str] = frozenset()
    return_date: date | None = None
    bounce_hard: bool | None = None
    bounce_status: str | None = None
    bounce_reason: str | None = None
    bounce_recipients: tuple[str, ...] = ()
    gw_key: str | None = None
    gone: bool = False
    thread_id: int | None = None
    seen_at: datetime | None = None
    problems: tuple[str, ...] = ()  # what ingest repaired, e.g. the receipt time used for Date


@dataclass(frozen=True, slots=True)
class ControlView:
    action: str  # stop | resume | snooze:YYYYMMDD
    at: datetime


@dataclass(frozen=True, slots=True)
class DraftView:
    """A draft ghostwatch wrote: when, and whether it left Drafts unsent."""

    key: str
    sequence_id: str
    step: int
    state: str
    written_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class ThreadFacts:
    """What the thread says about its contact, before any replay."""

    contact: str
    contact_name: str
    aliases: frozenset[str]
    subject: str
    tags: dict[str, str]
    tracked_by_tag: bool
    first_outbound: MsgView
    ignored_reasons: tuple[str, ...] = field(default=())


# How far a Date may lie after the server's receipt (or our clock) before it is not
# believed: clocks drift by minutes, a reply "sent in 2031" is a broken or hostile header.
DATE_TOLERANCE = timedelta(minutes=15)
RECEIPT_USED = "receipt time used"


def message_time(
    date: datetime | None, received: datetime | None, now: datetime
) -> tuple[datetime, str | None]:
    """When a message happened, and a note for explain when it is not its Date header.

    The Date is the sender's word; the receipt time (INTERNALDATE, file mtime, the
    provider's received time) is the server's. A missing Date, or one more than
    DATE_TOLERANCE after receipt or after now, gives way to the receipt time.
    """
    receipt = received if received is not None and received <= now + DATE_TOLERANCE else now
    if date is None:
        return receipt, f"no usable Date: {RECEIPT_USED}"
    ceiling = min(received, now) if received is not None else now
    if date > ceiling + DATE_TOLERANCE:
        return receipt, f"Date {date.isoformat()} is after receipt: {RECEIPT_USED}"
    return date, None


def sequence_id(account: str, start: MsgView) -> str:
    """Deterministic, so a draft's key survives crashes and re-decisions."""
    basis = f"{account}\0{start.message_id or start.ref}"
    return "s" + hashlib.sha256(basis.encode()).hexdigest()[:15]


def dedupe(messages: Iterable[MsgView]) -> list[MsgView]:
    """One view per RFC 5322 message (a copy may sit in Sent and Inbox); drafts left out."""
    best: dict[str, MsgView] = {}
    for msg in messages:
        if msg.folder_role == "drafts":
            continue
        key = msg.message_id or f"ref:{msg.ref}"
        kept = best.get(key)
        if kept is None or (kept.gone and not msg.gone) or msg.folder_role == "sent":
            best[key] = msg
    return sorted(best.values(), key=lambda m: (m.at, m.ref))


def thread_tags(messages: Iterable[MsgView]) -> tuple[dict[str, str], set[str]]:
    values: dict[str, str] = {}
    flags: set[str] = set()
    for msg in sorted(messages, key=lambda m: m.at):
        # Sorted: one message may carry two spellings of a key; the same one must win
        # on every replay.
        for tag in sorted(msg.tags):
            parts = tag.split(":", 2)
            if len(parts) == 3 and parts[1].lower() in TAG_FIELDS and parts[2]:
                values[parts[1].lower()] = parts[2]
            elif len(parts) == 2:
                flags.add(parts[1])
    return values, flags


def facts(messages: Sequence[MsgView], me: Identity) -> ThreadFacts | None:
    """The contact of a thread, or None when it is no outreach we follow."""
    tags, flags = thread_tags(messages)
    tracked = "track" in flags
    ignored: list[str] = []
    for msg in messages:
        if msg.direction != "out":
            continue
        for addr, name in msg.to:
            if me.is_external(addr) or (tracked and not me.is_own(addr)):
                aliases = {
                    m.sender
                    for m in messages
                    if m.direction == "in"
                    and m.kind == "human"
                    and m.sender
                    and me.is_external(m.sender)
                }
                aliases.discard(addr)
                return ThreadFacts(
                    contact=addr,
                    contact_name=name,
                    aliases=frozenset(a for a in aliases if a),
                    subject=msg.subject,
                    tags=tags,
                    tracked_by_tag=tracked,
                    first_outbound=msg,
                )
            if addr:
                ignored.append(f"{addr}: {me.why_not_external(addr)}")
    return None


def events_for(
    thread: Sequence[MsgView],
    elsewhere: Iterable[MsgView],
    controls: Iterable[ControlView],
    me: Identity,
    thread_facts: ThreadFacts,
    drafts: Iterable[DraftView] = (),
    outreach_elsewhere: Mapping[int, datetime] | None = None,
) -> list[Event]:
    """The events of one thread, including the contact's messages in other threads.

    `outreach_elsewhere`: for the other threads those messages sit in, when the
    consultant first wrote in them (a reply there answers that outreach).
    """
    contacts = {thread_facts.contact, *thread_facts.aliases}
    events: list[Event] = []
    seen_ids: set[str] = set()
    written = {d.key: d.written_at for d in drafts if d.written_at is not None}
    for d in drafts:
        if d.written_at is not None:
            events.append(DraftWritten(at=d.written_at, step=d.step, sequence_id=d.sequence_id))
        if d.state == "deleted" and d.resolved_at is not None:
            events.append(DraftGone(at=d.resolved_at, step=d.step, sequence_id=d.sequence_id))
    in_thread = {m.gw_key for m in thread if m.gw_key}
    for d in drafts:
        sent_here = d.written_at is not None and any(
            m.direction == "out" and m.at >= d.written_at - timedelta(minutes=5) for m in thread
        )
        if d.state == "sent" and d.key not in in_thread and not sent_here and d.resolved_at:
            # Sent from another mailbox (a backup's) or never filed in our Sent: still a touch.
            events.append(Outbound(at=d.resolved_at, ref=f"draft:{d.key}", gw_key=d.key))
    for msg in thread:
        seen_ids.add(msg.message_id or msg.ref)
        if msg.direction == "out":
            if any(addr in contacts or me.is_external(addr) for addr, _ in (*msg.to, *msg.cc)):
                at = msg.at
                drafted = written.get(msg.gw_key or "")
                if drafted is not None and at <= drafted:
                    # Some clients keep the draft's own Date when sending it.
                    at = drafted + timedelta(seconds=1)
                events.append(Outbound(at=at, ref=msg.ref, gw_key=msg.gw_key, seen_at=msg.seen_at))
            continue
        event = _inbound_event(msg, me, contacts, in_thread=True)
        if event is not None:
            events.append(event)
    for msg in elsewhere:
        if (msg.message_id or msg.ref) in seen_ids or msg.direction != "in":
            continue
        seen_ids.add(msg.message_id or msg.ref)
        event = _inbound_event(msg, me, contacts, in_thread=False)
        started = (outreach_elsewhere or {}).get(msg.thread_id or -1)
        if isinstance(event, HumanReply) and started is not None and started < msg.at:
            event = dataclasses.replace(event, answers_other=True)
        if event is not None:
            events.append(event)
    # The stop takes effect when ghostwatch read the tag, not when the tagged message was
    # written: a tag on the outreach itself would otherwise record no silence at all.
    stop_times = [max(m.at, m.seen_at or m.at) for m in thread if "gw:stop" in m.tags]
    controls = list(controls)
    latest = max(controls, key=lambda c: c.at, default=None)
    if latest is not None and latest.action == "stop":
        # `ghostwatch stop` sets the tag too (for a rebuilt database); the control
        # knows the real time of the stop.
        stop_times = []
    if stop_times:
        at = max(max(stop_times), thread_facts.first_outbound.at)
        events.append(Stop(at=at, why="tag gw:stop on a message of the thread"))
    for control in controls:
        if control.action == "stop":
            events.append(Stop(at=control.at, why="ghostwatch stop"))
        elif control.action == "resume":
            events.append(Resume(at=control.at))
    return events


def _inbound_event(
    msg: MsgView, me: Identity, contacts: set[str], *, in_thread: bool
) -> Event | None:
    sender = msg.sender or ""
    if msg.kind == "bounce":
        recipients = tuple(r.lower() for r in msg.bounce_recipients)
        if in_thread or contacts.intersection(recipients):
            return Bounced(
                at=msg.at,
                ref=msg.ref,
                hard=bool(msg.bounce_hard),
                status=msg.bounce_status or "",
                reason=msg.bounce_reason or "",
                recipients=recipients,
            )
        return None
    from_contact = sender in contacts or (in_thread and me.is_external(sender))
    if not from_contact:
        return None
    if msg.kind == "human":
        return HumanReply(at=msg.at, ref=msg.ref, sender=sender, in_thread=in_thread)
    if msg.kind == "auto_reply":
        return AutoReply(at=msg.at, ref=msg.ref, sender=sender, return_date=msg.return_date)
    return None  # bulk mail from the contact's address says nothing about them
