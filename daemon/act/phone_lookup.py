"""Look up a contact's phone number from their latest mail, for "call X" reminders.

Bodies are never stored: the latest human message from the contact is fetched
once through the mail connector, its signature read, and the body dropped.
"""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Callable

from sqlalchemy import select

from connectors.base import MailSource
from connectors.errors import ConnectorError
from daemon.act.signature_phone import phone_from_body
from daemon.db.engine import Store
from daemon.db.tables import Message
from daemon.decide.replay import Decision

log = logging.getLogger(__name__)
BODY_LIMIT = 128 * 1024


def plain_text(raw: bytes) -> str:
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        return part.get_content() if part is not None else ""
    except (LookupError, ValueError, TypeError, AttributeError):
        return ""


def phone_lookup(
    store: Store, source: MailSource, region: str = "CN"
) -> Callable[[Decision], str | None]:
    cache: dict[str, str | None] = {}

    def lookup(d: Decision) -> str | None:
        contacts = sorted({d.facts.contact, *d.facts.aliases})
        key = ",".join(contacts)
        if key in cache:
            return cache[key]
        with store.reader() as s:
            ref = s.scalar(
                select(Message.ref)
                .where(
                    Message.sender_addr.in_(contacts),
                    Message.direction == "in",
                    Message.kind == "human",
                    Message.gone.is_(False),
                )
                .order_by(Message.sent_at.desc())
                .limit(1)
            )
        phone = None
        if ref is not None:
            try:
                raw = source.fetch_raw(ref, max_bytes=BODY_LIMIT)
            except ConnectorError as exc:
                log.debug("no phone lookup for %s: %s", d.sequence_id, exc)
                raw = None
            phone = phone_from_body(plain_text(raw), region) if raw else None
        cache[key] = phone
        return phone

    return lookup
