"""What one cycle carries out once it has decided: pure, from the decisions and the setup.

The execution (cycle.py) does the I/O in this order: withdraw what ended, write
the due drafts (each re-checked against the inbound folders right before its
APPEND), then the calendar. Keeping the choice here makes it testable and
readable without a mailbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from daemon.config.settings import AccountConfig
from daemon.decide.replay import Decision
from daemon.tracker.states import WriteDraft


@dataclass(frozen=True, slots=True)
class Away:
    """The owner is away: `backup` takes the drafts and reminders, for `owner`."""

    backup: AccountConfig
    owner: str  # the owner's name as the backup's reminders show it


@dataclass(frozen=True, slots=True)
class Plan:
    preview: bool  # a dry run, or no Drafts folder: show what would be written, write nothing
    write: tuple[Decision, ...]  # current decisions with a draft due
    withdraw: tuple[Decision, ...]  # ended sequences: waiting drafts and future reminders go
    remind: bool  # the account has a calendar: reminders and the stale-drafts digest
    decisions: tuple[Decision, ...]  # all of them (reminders and the digest read every one)
    away: Away | None = None


def plan_cycle(
    decisions: Sequence[Decision], *, preview: bool, calendar: bool, away: Away | None
) -> Plan:
    return Plan(
        preview=preview,
        write=tuple(d for d in decisions if d.current and _asks_for_draft(d)),
        withdraw=tuple(d for d in decisions if not d.run.record.state.open),
        remind=calendar,
        decisions=tuple(decisions),
        away=away,
    )


def _asks_for_draft(d: Decision) -> bool:
    return any(isinstance(intent, WriteDraft) for intent in d.run.due)
