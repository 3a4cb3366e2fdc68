"""Who a thread's outreach is to: its gw: tags and the sequences (To/Cc, one per
Bcc-only recipient) the consultant's first outreach starts, or why it starts none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from daemon.config.identity import Identity
from daemon.decide.views import MsgView

# gw:<field>:<value> tags a thread carries; title and company keep the value as the
# connector delivered it (free text), the others are normalised by the rules.
TAG_FIELDS = ("role", "stage", "kind", "source", "title", "company", "lang")


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


@dataclass(frozen=True, slots=True)
class Outreach:
    """The sequences a thread starts: one for To/Cc, one per Bcc-only recipient;
    none, with the reason, when it is no outreach ghostwatch follows."""

    sequences: tuple[ThreadFacts, ...]
    untracked: str = ""


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
        shared, hidden = _recipients(msg, me, tracked, ignored)
        count = len(shared) + len(hidden)
        if not count:
            continue
        if count > max_recipients and not tracked:
            return Outreach(
                (),
                f"a mass mailing: the outreach went to {count} external people "
                f"(max_recipients = {max_recipients}), so it is not followed up",
            )
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
        return Outreach(_sequences(base, shared, hidden, _aliases(messages, me)))
    reason = "no outreach to an external contact"
    if ignored:
        reason += f" ({'; '.join(dict.fromkeys(ignored))})"
    return Outreach((), reason)


def _recipients(
    msg: MsgView, me: Identity, tracked: bool, ignored: list[str]
) -> tuple[dict[str, tuple[str, str, str]], dict[str, str]]:
    """An outbound message's external To/Cc (addr -> (addr, name, field)) and Bcc-only
    recipients (addr -> name); To addresses left out are noted in `ignored`."""
    shared: dict[str, tuple[str, str, str]] = {}
    for field_name, people in (("to", msg.to), ("cc", msg.cc)):
        for addr, name in people:
            if me.is_external(addr) or (tracked and not me.is_own(addr)):
                shared.setdefault(addr, (addr, name, field_name))
            elif addr and field_name == "to":
                ignored.append(f"{addr}: {me.why_not_external(addr)}")
    hidden = {a: n for a, n in msg.bcc if me.is_external(a) and a not in shared}
    return shared, hidden


def _aliases(messages: Sequence[MsgView], me: Identity) -> set[str]:
    """External senders of human mail in the thread: their answers count for the To/Cc
    sequence."""
    return {
        m.sender
        for m in messages
        if m.direction == "in" and m.kind == "human" and m.sender and me.is_external(m.sender)
    }


def _sequences(
    base: ThreadFacts,
    shared: dict[str, tuple[str, str, str]],
    hidden: dict[str, str],
    aliases: set[str],
) -> tuple[ThreadFacts, ...]:
    """The To/Cc sequence (when there are To/Cc recipients), then one per Bcc recipient."""
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
    return tuple(found)
