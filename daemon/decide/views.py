"""Message views and the per-message helpers: the plain data the decisions read
(a stored message, a control command, a written draft), when a message happened,
the deterministic id of the sequence it starts, and one view per RFC 5322 message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta


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
