"""Sequence states, events and intents: the vocabulary of the tracker.

Outbound (first unanswered message to the contact)
      |
      v
  +---------+  DraftWritten   +---------------+
  | WAITING | --------------> | DRAFT_PENDING |
  |         | <-------------- |               |
  +---------+  Outbound (the  +---------------+
    |  |  ^    draft was sent: a touch) / DraftGone (deleted: skip or stop)
    |  |  |
    |  |  +-- Outbound (the consultant's own follow-up: a touch)
    |  |  +-- AutoReply (out of office: the next due moves to the return date)
    |  |  +-- Bounced soft (noted)
    |  |  +-- Bounced, rejected but alive (spam filter, policy, blocked sender) or mailbox
    |  |      full / suspended: stays open, the next step is a call or message, not mail
    |  |
    |  +-- time: last step sent and close_after passed --> GHOSTED
    |  +-- time: whole playbook already past when first seen, nothing written --> GHOSTED
    |      (only once the replay reaches the playbook's end: older history decides first;
    |       steps that fell due before first sight, with a later one due too, are skipped)
    |
    +-- HumanReply (in the thread, or a new thread from the contact or an alias) --> REPLIED
    +-- Meeting (calendar event with the contact, accepted invitation) --> MET
    +-- Bounced hard (the address is gone: userunknown, hostunknown, ...) --> UNDELIVERABLE
    +-- Stop (gw:stop tag, `ghostwatch stop`, deleted draft with on_draft_deleted=stop) --> STOPPED

STOPPED --Resume--> WAITING.  STOPPED ignores Outbound (the thread stays stopped).
GHOSTED / STOPPED --HumanReply--> REPLIED: the contact returned (the record keeps
  the earlier outcome; a reply answering a newer outreach elsewhere does not count).
REPLIED / MET / GHOSTED / UNDELIVERABLE + a later Outbound --> a new sequence starts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime


class State(enum.StrEnum):
    WAITING = "waiting"
    DRAFT_PENDING = "draft_pending"
    REPLIED = "replied"
    MET = "met"
    UNDELIVERABLE = "undeliverable"
    STOPPED = "stopped"
    GHOSTED = "ghosted"

    @property
    def open(self) -> bool:
        return self in OPEN_STATES


# Tuples of members, for queries over stored rows: the stored text is the value.
OPEN_STATES = (State.WAITING, State.DRAFT_PENDING)
ENDED_STATES = (State.REPLIED, State.MET, State.GHOSTED, State.UNDELIVERABLE, State.STOPPED)


class Risk(enum.StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


# ---- events -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outbound:
    """The consultant wrote to the contact in the thread (outreach or follow-up)."""

    at: datetime
    ref: str
    gw_key: str | None = None  # set when it is a sent ghostwatch draft
    seen_at: datetime | None = None  # when ghostwatch first read it
    order: int = 0


@dataclass(frozen=True, slots=True)
class HumanReply:
    at: datetime
    ref: str
    sender: str
    in_thread: bool = True
    # Sent in another thread the consultant started before it: the answer to that
    # newer outreach, which has its own sequence, so it does not revive an ended one.
    answers_other: bool = False
    order: int = 2


@dataclass(frozen=True, slots=True)
class AutoReply:
    at: datetime
    ref: str
    sender: str
    return_date: date | None = None
    order: int = 2


@dataclass(frozen=True, slots=True)
class Bounced:
    at: datetime
    ref: str
    hard: bool
    status: str = ""
    recipients: tuple[str, ...] = ()
    order: int = 2
    reason: str = ""  # sisimai's vocabulary; "" for bounces stored before reasons existed


@dataclass(frozen=True, slots=True)
class Meeting:
    at: datetime
    ref: str
    summary: str = ""
    order: int = 2


@dataclass(frozen=True, slots=True)
class Stop:
    at: datetime
    why: str  # "tag gw:stop on <ref>", "ghostwatch stop", ...
    order: int = 3


@dataclass(frozen=True, slots=True)
class Resume:
    at: datetime
    why: str = "ghostwatch resume"
    order: int = 4


@dataclass(frozen=True, slots=True)
class DraftWritten:
    at: datetime
    step: int
    sequence_id: str = ""  # drafts belong to one sequence of the thread
    order: int = 1


@dataclass(frozen=True, slots=True)
class DraftGone:
    """The draft left Drafts without a matching message in Sent (deleted unsent)."""

    at: datetime
    step: int
    sequence_id: str = ""
    order: int = 1


@dataclass(frozen=True, slots=True)
class RedFlag:
    at: datetime
    flag: str  # rescheduled | salary_only | slower_replies | cancelled_by_contact
    order: int = 2


Event = (
    Outbound
    | HumanReply
    | AutoReply
    | Bounced
    | Meeting
    | Stop
    | Resume
    | DraftWritten
    | DraftGone
    | RedFlag
)


# Events at the same instant need a total order, or replay would depend on the
# order the store returned them in. Automatic signals go before a human reply so
# that, within one minute, the human answer is what closes the sequence.
_SAME_INSTANT_RANK: dict[type, int] = {
    Outbound: 0,
    DraftWritten: 1,
    DraftGone: 2,
    RedFlag: 3,
    Meeting: 4,
    Bounced: 5,
    AutoReply: 6,
    HumanReply: 7,
    Stop: 8,
    Resume: 9,
}


def event_sort_key(event: Event) -> tuple[datetime, int, int, str]:
    return (event.at, event.order, _SAME_INSTANT_RANK[type(event)], repr(event))


# ---- record -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """The state of one sequence. Times are tz-aware."""

    state: State
    started_at: datetime  # silence began: the first unanswered outbound message
    first_seen: datetime  # when ghostwatch first read that message
    touches: tuple[datetime, ...]  # the outreach, then every follow-up sent
    deferred_until: datetime | None = None
    pending_step: int | None = None
    skipped: tuple[int, ...] = ()
    soft_bounces: int = 0
    red_flags: tuple[str, ...] = ()
    ended_at: datetime | None = None
    outcome_reason: str = ""
    drafts_written: int = 0
    backfilled: bool = False
    reply_latencies_hours: tuple[float, ...] = ()
    # Set when a bounce says their server refuses our mail (or the mailbox cannot take
    # it): the next step is a call or a message, not another email.
    call_instead: str = ""  # the bounce reason, e.g. "spamdetected"
    call_since: datetime | None = None
    # The contact wrote back after the sequence had ended: the outcome it had then.
    returned_from: State | None = None
    returned_from_at: datetime | None = None

    @property
    def steps_done(self) -> int:
        """Follow-ups sent (SPEC): a draft deleted unsent is skipped, not done."""
        return len(self.touches) - 1

    @property
    def steps_passed(self) -> int:
        """How far the playbook has moved: sent steps plus skipped ones."""
        return self.steps_done + len(self.skipped)

    @property
    def last_touch_at(self) -> datetime:
        return self.touches[-1]

    @property
    def returned_after_hours(self) -> float | None:
        """How long the contact stayed silent before returning: last touch to the reply."""
        if self.returned_from is None or self.ended_at is None:
            return None
        return round((self.ended_at - self.last_touch_at).total_seconds() / 3600, 2)


# ---- intents ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriteDraft:
    step: int
    due: datetime
    trace: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WriteReminder:
    step: int
    kind: str  # call | final | dead_address | rejected | mailbox
    at: datetime


@dataclass(frozen=True, slots=True)
class Withdraw:
    """The sequence ended: withdraw the untouched pending draft and future reminders."""

    reason: str


Intent = WriteDraft | WriteReminder | Withdraw


@dataclass(frozen=True, slots=True)
class NextAction:
    """What happens next and when, for status and explain."""

    action: str  # draft | wait_for_draft | close | call | none
    step: int | None
    due: datetime | None
    trace: tuple[str, ...] = field(default=())
