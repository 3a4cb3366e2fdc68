"""A Message-ID is a claim made by whoever wrote the message, not an identity.

Two outreaches a client gave one Message-ID, a stranger's mail carrying the id of
our outreach, a mailer that numbers every message `<1@localhost>`: joined by id,
they drop an outreach (deduplicated away) or pull a stranger's References into our
follow-up. A message is identified by its folder and uid or file (its ref); its
Message-ID joins a thread only when its parties (sender and recipients) agree with
the parties of the message that first claimed the id. Our own outbound message
claims its id before anyone else's.

A message kept apart is stored with no Message-ID (the reused one is in its
problems, for explain) so no thread lookup can find it by that id.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.model import MailMessage
from daemon.db.tables import Message

log = logging.getLogger(__name__)

REUSED_ID = "reused Message-ID"
_CHUNK = 500


def _parties(addrs: Sequence[str | None], is_own: Callable[[str | None], bool]) -> frozenset[str]:
    """The people a message is between, other than us."""
    return frozenset(a.lower() for a in addrs if a and not is_own(a))


def _agree(a: frozenset[str], b: frozenset[str]) -> bool:
    # Only our own addresses on one side (a note to self, a colleague): nothing to compare.
    return not a or not b or bool(a & b)


def _of_message(msg: MailMessage, is_own: Callable[[str | None], bool]) -> frozenset[str]:
    addrs = [msg.sender.addr if msg.sender else None, *(a.addr for a in (*msg.to, *msg.cc))]
    return _parties(addrs, is_own)


def _note(message_id: str) -> str:
    return f"{REUSED_ID} <{message_id[:200]}> of a message with other parties: kept apart"


def separate_reused_ids(
    s: Session,
    account_id: int,
    batch: Sequence[MailMessage],
    is_own: Callable[[str | None], bool],
) -> list[MailMessage]:
    """The batch, with messages whose Message-ID belongs to other parties' mail kept apart.

    Stored messages that claimed an id our own outbound message carries, with other
    parties, are demoted the same way.
    """
    ids = sorted({m.message_id for m in batch if m.message_id})
    stored: dict[str, list[tuple[int, bool, frozenset[str], list[str]]]] = {}
    for i in range(0, len(ids), _CHUNK):
        query = (
            select(
                Message.id,
                Message.message_id,
                Message.sender_addr,
                Message.recipients,
                Message.problems,
            )
            .where(Message.account_id == account_id, Message.message_id.in_(ids[i : i + _CHUNK]))
            .order_by(Message.id)
        )
        for pk, mid, sender, recipients, problems in s.execute(query):
            parties = _parties([sender, *(r[0] for r in recipients or ())], is_own)
            stored.setdefault(mid, []).append((pk, is_own(sender), parties, problems or []))
    claims: dict[str, frozenset[str]] = {}
    apart: dict[str, str] = {}
    # Our own messages first: an outreach claims its id before a stranger's copy of it.
    for msg in sorted(batch, key=lambda m: not is_own(m.sender.addr if m.sender else None)):
        mid = msg.message_id
        if not mid:
            continue
        mine = _of_message(msg, is_own)
        owner = claims.get(mid)
        if owner is None and mid in stored:
            rows = stored[mid]
            owner = rows[0][2]
            if not _agree(owner, mine) and is_own(msg.sender.addr if msg.sender else None):
                _demote(s, mid, [r for r in rows if not r[1] and not _agree(r[2], mine)])
                owner = mine
        if owner is None:
            claims[mid] = mine
            continue
        claims.setdefault(mid, owner)
        if not _agree(owner, mine):
            apart[msg.ref] = _note(mid)
            log.warning(
                "a message in %s reuses the Message-ID of a message with other parties:"
                " kept apart from its thread",
                msg.folder,
            )
        else:
            log.debug("a copy of a known message in %s (same Message-ID and parties)", msg.folder)
    if not apart:
        return list(batch)
    return [
        dataclasses.replace(m, message_id=None, problems=(*m.problems, apart[m.ref]))
        if m.ref in apart
        else m
        for m in batch
    ]


def _demote(
    s: Session, message_id: str, rows: list[tuple[int, bool, frozenset[str], list[str]]]
) -> None:
    for pk, _, _, problems in rows:
        s.execute(
            update(Message)
            .where(Message.id == pk)
            .values(message_id=None, problems=[*problems, _note(message_id)])
        )
    if rows:
        log.warning(
            "%d stored message(s) reused the Message-ID of our own outbound mail: kept apart",
            len(rows),
        )
