"""From stored messages to tracker events: what happened in a sequence.

Pure: takes message views (plain data, daemon/decide/views.py) and a sequence's
facts (daemon/decide/outreach.py), returns events. Threads are joined at ingest;
here a thread's messages plus the account-wide messages from the contact
(replies in a new thread, auto-replies, bounces naming the contact) become the
event list the tracker replays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from daemon.config.identity import Identity
from daemon.decide.outreach import ThreadFacts
from daemon.decide.views import ControlView, DraftView, MsgView
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
    drafts = list(drafts)
    events = _draft_events(drafts) + _sent_elsewhere(drafts, thread)
    events += _thread_events(thread, thread_facts, contacts, me, drafts)
    seen_ids = {m.message_id or m.ref for m in thread}
    events += _elsewhere_events(elsewhere, seen_ids, contacts, me, outreach_elsewhere or {})
    return events + _stop_events(thread, list(controls), thread_facts)


def _draft_events(drafts: Iterable[DraftView]) -> list[Event]:
    """When ghostwatch wrote each draft, and when one left Drafts unsent."""
    events: list[Event] = []
    for d in drafts:
        if d.written_at is not None:
            events.append(DraftWritten(at=d.written_at, step=d.step, sequence_id=d.sequence_id))
        if d.state == "deleted" and d.resolved_at is not None:
            events.append(DraftGone(at=d.resolved_at, step=d.step, sequence_id=d.sequence_id))
    return events


def _sent_elsewhere(drafts: Iterable[DraftView], thread: Sequence[MsgView]) -> list[Event]:
    """Drafts sent from another mailbox (a backup's) or never filed in our Sent: still
    touches."""
    in_thread = {m.gw_key for m in thread if m.gw_key}
    events: list[Event] = []
    for d in drafts:
        sent_here = d.written_at is not None and any(
            m.direction == "out" and m.at >= d.written_at - timedelta(minutes=5) for m in thread
        )
        if d.state == "sent" and d.key not in in_thread and not sent_here and d.resolved_at:
            events.append(Outbound(at=d.resolved_at, ref=f"draft:{d.key}", gw_key=d.key))
    return events


def _thread_events(
    thread: Sequence[MsgView],
    tf: ThreadFacts,
    contacts: set[str],
    me: Identity,
    drafts: Iterable[DraftView],
) -> list[Event]:
    """The touches and answers among the thread's own messages."""
    written = {d.key: d.written_at for d in drafts if d.written_at is not None}
    events: list[Event] = []
    for msg in thread:
        if msg.direction == "out":
            if _touches(msg, tf, contacts, me):
                events.append(_outbound(msg, written))
            continue
        event = _inbound_event(msg, me, contacts, in_thread=True, only=tf.separate)
        if event is not None:
            events.append(event)
    return events


def _outbound(msg: MsgView, written: Mapping[str, datetime]) -> Outbound:
    at = msg.at
    drafted = written.get(msg.gw_key or "")
    if drafted is not None and at <= drafted:
        # Some clients keep the draft's own Date when sending it.
        at = drafted + timedelta(seconds=1)
    return Outbound(at=at, ref=msg.ref, gw_key=msg.gw_key, seen_at=msg.seen_at)


def _elsewhere_events(
    elsewhere: Iterable[MsgView],
    seen_ids: set[str],
    contacts: set[str],
    me: Identity,
    outreach_elsewhere: Mapping[int, datetime],
) -> list[Event]:
    """The contacts' messages in other threads (each RFC 5322 message once)."""
    events: list[Event] = []
    for msg in elsewhere:
        if (msg.message_id or msg.ref) in seen_ids or msg.direction != "in":
            continue
        seen_ids.add(msg.message_id or msg.ref)
        event = _inbound_event(msg, me, contacts, in_thread=False)
        started = outreach_elsewhere.get(msg.thread_id or -1)
        if isinstance(event, HumanReply) and started is not None and started < msg.at:
            event = replace(event, answers_other=True)
        if event is not None:
            events.append(event)
    return events


def _stop_events(
    thread: Sequence[MsgView], controls: list[ControlView], tf: ThreadFacts
) -> list[Event]:
    """Stops by gw:stop tag and by `ghostwatch stop` / `resume` commands."""
    events: list[Event] = []
    # The stop takes effect when ghostwatch read the tag, not when the tagged message was
    # written: a tag on the outreach itself would otherwise record no silence at all.
    stop_times = [max(m.at, m.seen_at or m.at) for m in thread if "gw:stop" in m.tags]
    latest = max(controls, key=lambda c: c.at, default=None)
    if latest is not None and latest.action == "stop":
        # `ghostwatch stop` sets the tag too (for a rebuilt database); the control
        # knows the real time of the stop.
        stop_times = []
    if stop_times:
        at = max(max(stop_times), tf.first_outbound.at)
        events.append(Stop(at=at, why="tag gw:stop on a message of the thread"))
    for control in controls_for(controls, tf):
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
