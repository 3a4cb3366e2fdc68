"""What ghostwatch leaves in the mailbox so that it outlives the database.

A stop recorded only in the database is lost with it, and a rebuilt database
would follow the thread up again. Where the provider can carry tags, stop sets
`gw:stop` on the consultant's own messages of the thread (what the consultant
could have done by hand) and resume clears it. Likewise a step skipped because
its draft was deleted unsent leaves nothing in the mailbox, so ghostwatch tags
the sequence's first message `gw:skip:<step>` (daemon/ingest/adopt.py reads it back).
Best effort: the database keeps the facts either way, and a failure is
reported, not fatal.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

import connectors
from connectors.base import Capability, MailSource, TagWriter
from connectors.errors import ConnectorError
from daemon.db.engine import Store
from daemon.db.tables import Draft, Message
from daemon.decide.stored import to_view
from daemon.decide.views import sequence_id
from daemon.runtime.wiring import App, mailbox

log = logging.getLogger(__name__)
STOP_TAG = "gw:stop"
SKIP_TAG = "gw:skip:"  # + the step number
SKIP_WINDOW = timedelta(days=14)  # deletions older than this were tagged long ago


def skip_tag(step: int) -> str:
    return f"{SKIP_TAG}{step}"


def tag_writer(source: MailSource, kind: str) -> TagWriter | None:
    """The source as a TagWriter when its connector declares it can write tags."""
    declared = connectors.mail_connector(kind).can(Capability.TAGS_WRITE)
    return source if declared and isinstance(source, TagWriter) else None


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
    if action not in ("stop", "resume"):
        return ""
    on = action == "stop"
    account = app.config.account(account_name)
    try:
        with mailbox(account) as source:
            writer = tag_writer(source, account.mail.type)
            if writer is None:
                return ""  # Maildir: tags live in a header ghostwatch does not rewrite
            done = sum(writer.tag_message(ref, STOP_TAG, on=on) for ref in refs)
    except ConnectorError as exc:
        log.warning("could not %s %s in the mailbox: %s", "set" if on else "clear", STOP_TAG, exc)
        return (
            f"note: {STOP_TAG} could not be {'set' if on else 'cleared'} in the mailbox ({exc}); "
            "the database has the change"
        )
    verb = "set on" if on else "cleared from"
    return f"{STOP_TAG} {verb} {done} message(s) of the thread in the mailbox"


def mark_skips(store: Store, writer: TagWriter, account: str, acct: int, now: datetime) -> int:
    """Tag each recently skipped step on its sequence's first message; the number tagged."""
    with store.reader() as s:
        query = select(Draft).where(
            Draft.account_id == acct,
            Draft.state == "deleted",
            Draft.sink_account.is_(None),
            Draft.resolved_at >= now - SKIP_WINDOW,
        )
        skipped = list(s.scalars(query))
        tids = sorted({d.thread_id for d in skipped if d.thread_id is not None})
        rows = list(s.scalars(select(Message).where(Message.thread_id.in_(tids)))) if tids else []
    starts = {}
    for row in rows:
        if row.direction == "out" and row.folder_role != "drafts" and not row.gw_key:
            view = to_view(row)
            starts.setdefault(sequence_id(account, view), view)
    tagged = 0
    for draft in skipped:
        start = starts.get(draft.sequence_id)
        tag = skip_tag(draft.step)
        if start is None or start.gone or tag in start.tags:
            continue
        try:
            tagged += writer.tag_message(start.ref, tag, on=True)
        except ConnectorError as exc:
            log.warning("could not tag the skipped step %s in the mailbox: %s", draft.key, exc)
    return tagged
