"""What `ghostwatch stop` / `resume` leave in the mailbox, so it outlives the database.

A stop recorded only in the database is lost with it, and a rebuilt database
would follow the thread up again. Where the provider can carry tags, stop sets
`gw:stop` on the consultant's own messages of the thread (what the consultant
could have done by hand) and resume clears it. Best effort: the database keeps
the control either way, and a failure is reported, not fatal.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from connectors.base import TAGS_WRITE, TagWriter
from connectors.errors import ConnectorError
from daemon.app import App, mailbox
from daemon.db.tables import Message

log = logging.getLogger(__name__)
STOP_TAG = "gw:stop"


def mark_thread(app: App, account_name: str, thread_id: int, action: str) -> str:
    """Set (stop) or clear (resume) gw:stop on the thread; one line saying what happened."""
    with app.store.reader() as s:
        query = select(Message.ref).where(
            Message.thread_id == thread_id,
            Message.direction == "out",
            Message.folder_role != "drafts",
            Message.gone.is_(False),
        )
        refs = sorted(set(s.scalars(query)))
    if not refs:
        return ""
    on = action == "stop"
    try:
        with mailbox(app.config.account(account_name)) as source:
            if TAGS_WRITE not in source.capabilities() or not isinstance(source, TagWriter):
                return ""  # Maildir: tags live in a header ghostwatch does not rewrite
            done = sum(source.tag_message(ref, STOP_TAG, on=on) for ref in refs)
    except ConnectorError as exc:
        log.warning("could not %s %s in the mailbox: %s", "set" if on else "clear", STOP_TAG, exc)
        return (
            f"note: {STOP_TAG} could not be {'set' if on else 'cleared'} in the mailbox ({exc}); "
            "the database has the change"
        )
    verb = "set on" if on else "cleared from"
    return f"{STOP_TAG} {verb} {done} message(s) of the thread in the mailbox"
