"""The classifier's verdict: plain frozen data, safe to store and to print."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Kind = Literal["human", "auto_reply", "bounce", "bulk"]


@dataclass(frozen=True)
class BounceInfo:
    """What a delivery failure says: who failed, the RFC 3463 status, why, hard or soft."""

    recipients: tuple[str, ...]
    status: str  # e.g. "5.1.1"; "" when the notice gives no enhanced status code
    hard: bool  # the address itself is gone (bounce_reason.is_hard), not merely "5.x.x"
    diagnostic: str = ""  # one short line from the MTA, never a body dump
    reason: str = ""  # sisimai's vocabulary: userunknown, spamdetected, mailboxfull, ...


@dataclass(frozen=True)
class Classification:
    kind: Kind
    reason: str  # one line: the evidence that decided
    return_date: date | None = None
    bounce: BounceInfo | None = None
    # True when only headers were seen and the body could change or refine the
    # verdict; ingest then fetches the body and classifies again.
    needs_body: bool = False
