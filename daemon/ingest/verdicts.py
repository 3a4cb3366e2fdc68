"""What a stored message row says about the message: the classifier's verdict as
column values, from the headers at ingest and from the body when it is refined,
and the invitation answers a body's text/calendar parts carry.

Pure: no store, no connector calls.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from connectors.header_split import split_header_block
from connectors.model import MailMessage
from daemon import classify
from daemon.classify.message import MAX_RAW
from daemon.config.identity import Identity

if TYPE_CHECKING:
    from connectors.ical import ImipReply


def classify_fields(msg: MailMessage, me: Identity) -> Mapping[str, object]:
    """The header-pass verdict of one message, as its row's columns."""
    sender = msg.sender.addr if msg.sender else None
    if me.is_own(sender):
        return OWN_FIELDS
    # One header split per message, shared by the classifier and the invite check.
    view = classify.header_view(msg.headers)
    verdict = classify.classify(view, has_body=False, received=msg.received or msg.date)
    fields = verdict_fields(verdict)
    fields["direction"] = "in"
    # The classifier's view stops at MAX_RAW; the invite check always read every header.
    # The view holds Content-Type (a HEADER_PASS_FIELDS name), all the check reads.
    whole = view.fields if len(msg.headers) <= MAX_RAW else split_header_block(msg.headers)
    if verdict.kind == "human" and _looks_like_invite_answer(msg, whole):
        fields["needs_body"] = True  # its text/calendar part says whether they accepted
    return fields


# Shared by every message the account sent (a third of a mailbox): read-only.
OWN_FIELDS: Mapping[str, object] = MappingProxyType(
    {
        "direction": "out",
        "kind": "own",
        "reason": "sent by the account",
        "needs_body": False,
    }
)


_INVITE_SUBJECT = re.compile(
    r"^\s*(accepted|tentative|declined|已接受|接受|暂定|已拒绝)\s*[:：]", re.I
)


def _looks_like_invite_answer(msg: MailMessage, fields: dict[str, list[str]]) -> bool:
    if _INVITE_SUBJECT.match(msg.subject):
        return True
    content_type = " ".join(fields.get("content-type", [])).lower()
    return "text/calendar" in content_type


def invite_answers(raw: bytes) -> list[ImipReply]:
    """The iMIP REPLY answers carried by a mail's text/calendar parts."""
    # Imported here: icalendar is only needed for the rare invitation answer.
    from connectors.ical import parse_imip_reply

    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except (ValueError, TypeError, IndexError):
        return []
    answers: list[ImipReply] = []
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                answers.extend(parse_imip_reply(payload))
    return answers


# The columns a verdict fills, in verdict_fields' order.
VERDICT_COLUMNS = (
    "kind",
    "reason",
    "needs_body",
    "return_date",
    "bounce_status",
    "bounce_hard",
    "bounce_reason",
    "bounce_recipients",
)


def verdict_fields(verdict: classify.Classification) -> dict[str, object]:
    bounce = verdict.bounce
    return {
        "kind": verdict.kind,
        "reason": verdict.reason,
        "needs_body": verdict.needs_body,
        "return_date": verdict.return_date,
        "bounce_status": bounce.status if bounce else None,
        "bounce_hard": bounce.hard if bounce else None,
        "bounce_reason": bounce.reason if bounce else None,
        "bounce_recipients": list(bounce.recipients) if bounce else [],
    }
