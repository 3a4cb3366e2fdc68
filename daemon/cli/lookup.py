"""What the consultant names on the command line: threads ghostwatch does not follow,
and the one contact of a thread that holds a sequence per Bcc recipient.

A mass mailing (more than `max_recipients` external people) or mail to
colleagues only starts nothing, so `status` never lists it; `explain` still
finds it, by a recipient's address or by thread id, and says why.
"""

from __future__ import annotations

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from daemon.db.tables import Account, Message
from daemon.db.tables import Sequence as SequenceRow
from daemon.decide.outreach import outreach
from daemon.decide.replay import Policy
from daemon.decide.stored import to_view
from daemon.decide.views import dedupe


def find_thread(s: Session, target: str) -> tuple[str, int] | None:
    """(account name, thread id) for a thread id, or the latest outbound thread that
    mailed this address; None when there is none."""
    text = target.strip().lower()
    query = select(Message.thread_id, Account.name).join(Account, Account.id == Message.account_id)
    if text.isdigit():
        query = query.where(Message.thread_id == int(text))
    elif "@" in text:
        # The JSON list holds the address as a quoted string: ["a@b.c", "Name", "to"].
        query = query.where(
            Message.direction == "out",
            cast(Message.recipients, String).like(f'%"{_escape(text)}"%', escape="\\"),
        )
    else:
        return None
    row = s.execute(query.order_by(Message.sent_at.desc()).limit(1)).first()
    if row is None or row[0] is None:
        return None
    return row[1], row[0]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def untracked_reason(s: Session, policy: Policy, tid: int) -> str:
    """Why this thread starts no sequence (empty when it does start one)."""
    rows = s.scalars(select(Message).where(Message.thread_id == tid))
    views = dedupe(to_view(r) for r in rows if r.sent_at or r.received_at)
    return outreach(views, policy.identity, policy.max_recipients).untracked


def control_contact(s: Session, target: str) -> str | None:
    """The contact a `stop` / `resume` names (an address, or a sequence's contact), so
    that in a thread with a sequence per Bcc recipient only theirs is stopped."""
    text = target.strip().lower()
    if "@" in text:
        return text
    row = s.get(SequenceRow, target.strip())
    return row.contact_addr if row is not None else None
