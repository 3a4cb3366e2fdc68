"""Carry out an ending at once: `ghostwatch stop` withdraws like the gw:stop tag does.

A command that ends a sequence decides it itself, so the next cycle would no
longer see it as changed: the untouched draft and the future reminders have to
go in the same run. When the mailbox cannot be reached the thread stays marked
changed, and the next cycle withdraws them instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from connectors.errors import ConnectorError
from daemon.act.drafts import OPEN_DRAFT_STATES, OutboxReport, withdraw_ended
from daemon.act.reminders import ReminderReport, remove_ended
from daemon.config.settings import AccountConfig
from daemon.db.tables import Draft, Thread
from daemon.decide.replay import Decision
from daemon.decide.stored import account_id
from daemon.runtime.connect import calendar_of, draft_sink
from daemon.runtime.wiring import App

log = logging.getLogger(__name__)


def withdraw_now(
    app: App, account: AccountConfig, decisions: Sequence[Decision], now: datetime
) -> tuple[OutboxReport, ReminderReport]:
    """Withdraw the untouched drafts and future reminders of the ended `decisions`."""
    drafts, reminders = OutboxReport(), ReminderReport()
    ended = [d for d in decisions if not d.run.record.state.open]
    if not ended:
        return drafts, reminders
    with app.store.reader() as s:
        acct = account_id(s, account.name)
    assert acct is not None  # the decisions came from it
    try:
        with draft_sink(account) as sink:
            if sink is not None:
                drafts = withdraw_ended(app.store, acct, sink, ended, now)
        with calendar_of(account) as cal:
            if cal is not None:
                reminders = remove_ended(app.store, acct, cal, ended, now)
    except ConnectorError as exc:
        log.warning("[%s] could not withdraw now (%s); the next cycle will", account.name, exc)
    _still_open(app, [d.thread_id for d in ended], [d.sequence_id for d in ended])
    return drafts, reminders


def _still_open(app: App, thread_ids: list[int], sequence_ids: list[str]) -> None:
    """Leave threads whose drafts are still out marked changed, for the next cycle."""
    with app.store.transaction() as s:
        query = select(Draft.thread_id).where(
            Draft.sequence_id.in_(sequence_ids), Draft.state.in_(OPEN_DRAFT_STATES)
        )
        left = {t for t in s.scalars(query) if t is not None} & set(thread_ids)
        if left:
            s.execute(update(Thread).where(Thread.id.in_(sorted(left))).values(dirty=True))


def withdrawn_lines(
    app: App, account: AccountConfig, decisions: Sequence[Decision], now: datetime
) -> list[str]:
    """withdraw_now, told the way `ghostwatch stop` prints it (one line per change)."""
    drafts, reminders = withdraw_now(app, account, decisions, now)
    name = account.name
    return [
        *(f"[{name}] withdrew untouched draft {key}" for key in drafts.withdrawn),
        *(f"[{name}] left your edited draft {key} alone" for key in drafts.kept_edited),
        *(
            f"[{name}] calendar reminder {key} removed (the sequence ended)"
            for key in reminders.removed
        ),
    ]
