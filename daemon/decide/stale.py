"""Drafts left waiting (pure): how long a ghostwatch draft has sat unsent in Drafts.

A follow-up that waits in Drafts for days is as good as none: after
`stale_draft` (default 2 business days) the thread turns yellow, after twice
that red, and the calendar gets one daily "N follow-ups are waiting in Drafts"
reminder while any are stale (daemon/act/stale_digest.py writes it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from daemon.decide.views import DraftView
from daemon.tracker.business_calendar import BusinessCalendar
from daemon.tracker.policy import Duration, Unit
from daemon.tracker.states import Record, Risk

STALE_DRAFT = Duration(2, Unit.BUSINESS_DAYS)
_ORDER = (Risk.GREEN, Risk.YELLOW, Risk.RED)


def waiting_since(rec: Record, sequence_id: str, drafts: Iterable[DraftView]) -> datetime | None:
    """When the sequence's pending draft was put into Drafts; None when none waits."""
    if not rec.state.open or rec.pending_step is None:
        return None
    times = [
        d.written_at
        for d in drafts
        if d.sequence_id == sequence_id
        and d.step == rec.pending_step
        and d.state == "written"
        and d.written_at is not None
    ]
    return min(times) if times else None


def stale_risk(
    since: datetime | None, now: datetime, calendar: BusinessCalendar, stale: Duration
) -> Risk:
    """Yellow once the draft has waited `stale`, red after twice that; else green."""
    if since is None:
        return Risk.GREEN
    if calendar.add(since, Duration(stale.amount * 2, stale.unit)).at <= now:
        return Risk.RED
    if calendar.add(since, stale).at <= now:
        return Risk.YELLOW
    return Risk.GREEN


def worst(*risks: Risk) -> Risk:
    return max(risks, key=_ORDER.index)
