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
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from daemon.config.identity import Identity
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
TAG_FIELDS = ("role", "stage", "kind", "source", "title", "company", "lang")


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
    bcc: tuple[tuple[str, str], ...] = ()  # only on the consultant's own copy in Sent
    lang: str | None = None  # outbound: language found in it (daemon/decide/language.py)


@dataclass(frozen=True, slots=True)
class ControlView:
    action: str  # stop | resume | snooze:YYYYMMDD
    at: datetime
    contact: str | None = None  # the contact named; None: the whole thread


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
    # Everybody the follow-ups go to: the outreach's external To and Cc, as
    # (addr, name, "to" | "cc"); an answer from any of them counts.
    recipients: tuple[tuple[str, str, str], ...] = ()
    # A Bcc recipient's own sequence: only their messages count, and sibling sequences'
    # follow-ups are not touches of this one.
    separate: bool = False
    # The To/Cc sequence of an outreach that also had Bcc recipients: only mail to one
    # of its own recipients is a touch (a follow-up to a Bcc recipient is not).
    has_separate_siblings: bool = False
    # Recipients whose address bounced hard while others of the sequence live on: left
    # out of the follow-ups (set by `without_dead`).
    bounced: tuple[str, ...] = ()

    @property
    def addresses(self) -> frozenset[str]:
        """Every address whose answer counts for this sequence."""
        return frozenset({self.contact, *self.aliases, *(r[0] for r in self.recipients)})


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


@dataclass(frozen=True, slots=True)
class Outreach:
    """The sequences a thread starts: one for To/Cc, one per Bcc-only recipient;
    none, with the reason, when it is no outreach ghostwatch follows."""

    sequences: tuple[ThreadFacts, ...]
    untracked: str = ""


def sequence_id(account: str, start: MsgView, recipient: str = "") -> str:
    """Deterministic, so a draft's key survives crashes and re-decisions. A Bcc
    recipient's own sequence adds their address (the To/Cc one keeps the old id)."""
    basis = f"{account}\0{start.message_id or start.ref}"
    if recipient:
        basis += f"\0{recipient}"
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
    """The contact of a thread (its To/Cc sequence first), or None when it is no
    outreach we follow."""
    found = outreach(messages, me)
    return found.sequences[0] if found.sequences else None


def outreach(messages: Sequence[MsgView], me: Identity, max_recipients: int = 10) -> Outreach:
    """The sequences the consultant's first outreach in the thread starts."""
    tags, flags = thread_tags(messages)
    tracked = "track" in flags
    ignored: list[str] = []
    for msg in messages:
        if msg.direction != "out":
            continue
        shared: dict[str, tuple[str, str, str]] = {}
        for field_name, people in (("to", msg.to), ("cc", msg.cc)):
            for addr, name in people:
                if me.is_external(addr) or (tracked and not me.is_own(addr)):
                    shared.setdefault(addr, (addr, name, field_name))
                elif addr and field_name == "to":
                    ignored.append(f"{addr}: {me.why_not_external(addr)}")
        hidden = {a: n for a, n in msg.bcc if me.is_external(a) and a not in shared}
        count = len(shared) + len(hidden)
        if not count:
            continue
        if count > max_recipients and not tracked:
            return Outreach(
                (),
                f"a mass mailing: the outreach went to {count} external people "
                f"(max_recipients = {max_recipients}), so it is not followed up",
            )
        aliases = {
            m.sender
            for m in messages
            if m.direction == "in" and m.kind == "human" and m.sender and me.is_external(m.sender)
        }

        base = ThreadFacts(
            contact="",
            contact_name="",
            aliases=frozenset(),
            subject=msg.subject,
            tags=tags,
            tracked_by_tag=tracked,
            first_outbound=msg,
            ignored_reasons=tuple(ignored),
        )
        found: list[ThreadFacts] = []
        if shared:
            first_addr, first_name, _ = next(iter(shared.values()))
            found.append(
                replace(
                    base,
                    contact=first_addr,
                    contact_name=first_name,
                    aliases=frozenset(a for a in aliases - set(shared) if a),
                    recipients=tuple(shared.values()),
                    has_separate_siblings=bool(hidden),
                )
            )
        for addr, name in hidden.items():
            found.append(
                replace(
                    base,
                    contact=addr,
                    contact_name=name,
                    recipients=((addr, name, "to"),),
                    separate=True,
                )
            )
        return Outreach(tuple(found))
    reason = "no outreach to an external contact"
    if ignored:
        reason += f" ({'; '.join(dict.fromkeys(ignored))})"
    return Outreach((), reason)


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
    contacts = set(thread_facts.addresses)
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
            if _touches(msg, thread_facts, contacts, me):
                at = msg.at
                drafted = written.get(msg.gw_key or "")
                if drafted is not None and at <= drafted:
                    # Some clients keep the draft's own Date when sending it.
                    at = drafted + timedelta(seconds=1)
                events.append(Outbound(at=at, ref=msg.ref, gw_key=msg.gw_key, seen_at=msg.seen_at))
            continue
        event = _inbound_event(msg, me, contacts, in_thread=True, only=thread_facts.separate)
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
    for control in controls_for(controls, thread_facts):
        if control.action == "stop":
            events.append(Stop(at=control.at, why="ghostwatch stop"))
        elif control.action == "resume":
            events.append(Resume(at=control.at))
    return events


def controls_for(controls: Iterable[ControlView], tf: ThreadFacts) -> list[ControlView]:
    """The stop / resume / snooze commands that concern this sequence: in a thread with a
    sequence per Bcc recipient, one naming another recipient does not."""
    split = tf.separate or tf.has_separate_siblings
    return [c for c in controls if not (split and c.contact and c.contact not in tf.addresses)]


def without_dead(events: list[Event], tf: ThreadFacts) -> tuple[list[Event], ThreadFacts]:
    """A sequence to several people goes on while one of them is alive: a hard bounce
    for some recipients leaves them out of the follow-ups, and only the bounce that
    leaves nobody ends the sequence."""
    group = {r[0] for r in tf.recipients}
    if len(group) < 2:
        return events, tf
    dead: set[str] = set()
    dropped: list[Event] = []
    for ev in sorted((e for e in events if isinstance(e, Bounced) and e.hard), key=lambda e: e.at):
        named = set(ev.recipients) & group
        if not named or dead >= group:
            continue  # names nobody of the group, or the sequence has ended already
        dead |= named
        if not dead >= group:
            dropped.append(ev)
    if not dropped:
        return events, tf
    kept = [e for e in events if not any(e is d for d in dropped)]
    alive = dead < group
    recipients = tuple(r for r in tf.recipients if r[0] not in dead) if alive else tf.recipients
    return kept, replace(tf, recipients=recipients, bounced=tuple(sorted(dead)) if alive else ())


def _touches(msg: MsgView, tf: ThreadFacts, contacts: set[str], me: Identity) -> bool:
    """Whether an outbound message of the thread is a touch of this sequence."""
    if tf.separate:
        return any(addr == tf.contact for addr, _ in (*msg.to, *msg.cc, *msg.bcc))
    if tf.has_separate_siblings:
        return any(addr in contacts for addr, _ in (*msg.to, *msg.cc))
    return any(addr in contacts or me.is_external(addr) for addr, _ in (*msg.to, *msg.cc))


def _inbound_event(
    msg: MsgView, me: Identity, contacts: set[str], *, in_thread: bool, only: bool = False
) -> Event | None:
    """`only`: the contacts' own messages count, not anybody's in the thread (Bcc)."""
    anyone = in_thread and not only
    sender = msg.sender or ""
    if msg.kind == "bounce":
        recipients = tuple(r.lower() for r in msg.bounce_recipients)
        if anyone or contacts.intersection(recipients):
            return Bounced(
                at=msg.at,
                ref=msg.ref,
                hard=bool(msg.bounce_hard),
                status=msg.bounce_status or "",
                reason=msg.bounce_reason or "",
                recipients=recipients,
            )
        return None
    from_contact = sender in contacts or (anyone and me.is_external(sender))
    if not from_contact:
        return None
    if msg.kind == "human":
        return HumanReply(at=msg.at, ref=msg.ref, sender=sender, in_thread=in_thread)
    if msg.kind == "auto_reply":
        return AutoReply(at=msg.at, ref=msg.ref, sender=sender, return_date=msg.return_date)
    return None  # bulk mail from the contact's address says nothing about them
