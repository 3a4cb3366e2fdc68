"""Message classifier: human, auto_reply, bounce or bulk, always with the reason.

Ingest calls `classify(header_bytes, has_body=False)` for every message; only
when the verdict says `needs_body` does it fetch the body and call again. The
header pass therefore stays cheap (no MIME parsing), and nothing here raises
on bad input: the worst case is a "human" verdict whose reason says why.
"""

from __future__ import annotations

import email.message
from datetime import date, datetime
from typing import Any

from connectors.header_values import parse_date
from daemon.classify import decide
from daemon.classify.body import body_of
from daemon.classify.bounce_reason import family
from daemon.classify.evidence import RARE_HEADERS, gather
from daemon.classify.message import FieldSplitter, MailView, view_of
from daemon.classify.model import BounceInfo, Classification, Kind

__all__ = [
    "HEADER_FIELDS",
    "HEADER_PASS_FIELDS",
    "BounceInfo",
    "Classification",
    "Kind",
    "MailView",
    "classification_json",
    "classify",
    "header_view",
    "view_of",
]

# Every header the classifier reads; ingest fetches only these (plus its own).
HEADER_FIELDS: tuple[str, ...] = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "Return-Path",
    "Content-Type",
    "Content-Language",
    "Auto-Submitted",
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "Precedence",
    "X-Precedence",
    "List-Id",
    "List-Unsubscribe",
    "X-Auto-Response-Suppress",
    "X-MS-Exchange-Inbox-Rules-Loop",
    "X-QQ-HolidayReply",
    "X-Apple-Action",
    "X-Failed-Recipients",
)


# The fields a header-only pass (has_body=False) reads: evidence.gather and the
# rules it feeds, plus ingest's invite check (Content-Type). A unit test records
# what the classifier really reads and fails when this misses one.
HEADER_PASS_FIELDS: frozenset[str] = (
    frozenset({"from", "subject", "content-type", "return-path"}) | RARE_HEADERS
)
_HEADER_PASS = FieldSplitter(HEADER_PASS_FIELDS)


def header_view(headers: bytes) -> MailView:
    """A view for `classify(..., has_body=False)`: only the HEADER_PASS_FIELDS split out.

    Given has_body=True, `classify` splits every field again before reading the body.
    """
    return _HEADER_PASS.view(headers)


def classify(
    message: bytes | email.message.Message | MailView,
    *,
    has_body: bool = True,
    received: datetime | None = None,
    locale: str | None = None,
) -> Classification:
    """Classify one message; `received` anchors relative return dates."""
    try:
        return _classify(message, has_body=has_body, received=received, locale=locale)
    except Exception as exc:  # bad input must never stop ingest; say what happened
        return Classification("human", f"unreadable message ({type(exc).__name__}); kept as human")


def _classify(
    message: bytes | email.message.Message | MailView,
    *,
    has_body: bool,
    received: datetime | None,
    locale: str | None,
) -> Classification:
    # A caller that already split the headers (ingest) passes its view: one split per message.
    view = message if isinstance(message, MailView) else view_of(message)
    evidence = gather(view)
    verdict = decide.from_headers(evidence)
    if not verdict.needs_body:
        return verdict
    if not has_body:
        return verdict
    if view.only is not None:
        view = view_of(view.raw or b"")  # the body rules read fields the header pass skips
    anchor = _anchor(received, view.value("date"))
    hint = locale or view.value("content-language") or None
    return decide.with_body(evidence, view, body_of(view), anchor, hint)


def _anchor(received: datetime | None, date_header: str) -> date:
    if received is not None:
        return received.date()
    sent = parse_date(date_header)
    # Without any date a year-less return date can only mean its next occurrence from today.
    return sent.date() if sent is not None else date.today()


def classification_json(path: str, c: Classification) -> dict[str, Any]:
    """The `ghostwatch classify` line for one file (SPEC §6)."""
    out: dict[str, Any] = {"file": path, "kind": c.kind, "reason": c.reason}
    if c.return_date is not None:
        out["return_date"] = c.return_date.isoformat()
    if c.bounce is not None:
        out["bounce"] = {
            "recipients": list(c.bounce.recipients),
            "status": c.bounce.status,
            "hard": c.bounce.hard,
            "reason": c.bounce.reason,
            "family": family(c.bounce.reason, c.bounce.status, c.bounce.diagnostic),
        }
    return out
