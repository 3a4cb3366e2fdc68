"""Read the language of the consultant's outreach, once per message, before deciding.

The I/O half of daemon/decide/language.py: for each thread about to be decided, the
consultant's first message to an external address is fetched, its subject and
text part are handed to `language.detect`, and only the code found is stored
(messages.lang). The body is dropped right away, like the classifier's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from connectors.base import MailSource
from connectors.errors import ConnectorError
from daemon.classify.body import body_of
from daemon.classify.message import view_of
from daemon.config.identity import Identity
from daemon.db.engine import Store
from daemon.db.tables import Message
from daemon.decide.language import detect

log = logging.getLogger(__name__)

BODY_LIMIT = 64 * 1024  # the opening of the mail is all detection reads
PER_CYCLE = 200  # newest threads first; the rest are read in the next cycles


def read_outreach_languages(
    store: Store, account_id: int, source: MailSource, me: Identity, thread_ids: Sequence[int]
) -> int:
    """Detect and store the outreach language of these threads; returns how many were read."""
    wanted = _unread_outreach(store, account_id, me, thread_ids)
    done = 0
    for ref, message_id, subject in wanted[:PER_CYCLE]:
        try:
            raw = source.fetch_raw(ref, max_bytes=BODY_LIMIT)
        except ConnectorError as exc:
            log.warning("could not read an outreach's language: %s", exc)
            break  # retried next cycle; the account's locale applies meanwhile
        code = detect(subject, body_of(view_of(raw)).text) if raw is not None else ""
        with store.transaction() as s:
            same = Message.ref == ref
            if message_id:
                same = Message.message_id == message_id  # its copies in other folders too
            s.execute(
                update(Message).where(Message.account_id == account_id, same).values(lang=code)
            )
        done += 1
    return done


def _unread_outreach(
    store: Store, account_id: int, me: Identity, thread_ids: Sequence[int]
) -> list[tuple[str, str | None, str]]:
    """(ref, message-id, subject) of each thread's first outreach not read yet, newest first."""
    first: dict[int, tuple[datetime, str, str | None, str, str | None]] = {}
    with store.reader() as s:
        for i in range(0, len(thread_ids), 400):
            query = (
                select(
                    Message.thread_id,
                    Message.sent_at,
                    Message.ref,
                    Message.message_id,
                    Message.subject,
                    Message.recipients,
                    Message.lang,
                )
                .where(
                    Message.account_id == account_id,
                    Message.thread_id.in_(thread_ids[i : i + 400]),
                    Message.direction == "out",
                    Message.folder_role != "drafts",
                    Message.gone.is_(False),
                    Message.sent_at.is_not(None),
                )
                .order_by(Message.sent_at, Message.id)
            )
            for tid, at, ref, mid, subject, recipients, lang in s.execute(query):
                # Any copy will do: the result is stored on every copy (same Message-ID).
                if tid in first or not any(me.is_external(r[0]) for r in recipients or ()):
                    continue
                first[tid] = (at, ref, mid, subject, lang)
    found = [
        (at, ref, mid, subject) for at, ref, mid, subject, lang in first.values() if lang is None
    ]
    found.sort(key=lambda item: item[0], reverse=True)
    return [(ref, mid, subject) for _, ref, mid, subject in found]
