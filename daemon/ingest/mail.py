"""Ingest: connector changes -> stored messages + threads + cursor, one commit per batch.

The cursor a batch carries is stored in the same transaction as the batch's
messages (store_batch), so a crash or a dropped connection never loses or
repeats a message. An expired cursor is recovered by one rescan. Bodies are
never stored: a suspected bounce or auto-reply is fetched once, classified, and
only the verdict kept (mail_bodies).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.base import MailSource, Scope
from connectors.errors import ConnectorError, CursorExpired
from connectors.headers import ALWAYS_KEEP
from connectors.model import ChangeBatch
from daemon import classify
from daemon.config.identity import Identity
from daemon.db.engine import Store
from daemon.db.tables import Account
from daemon.errors import AccountDegraded
from daemon.failures import describe, skips_part
from daemon.ingest.mail_bodies import refine_bodies
from daemon.ingest.store_batch import SyncReport, apply_batch

log = logging.getLogger(__name__)

# A big first scan commits a few batches at a time: each commit rewrites the
# index pages it touched into the WAL, and consecutive batches touch the same
# ones. The cursor is stored in the same transaction, so a crash still resumes
# exactly after the last commit.
GROUP_CHANGES = 2000


def header_fields() -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for name in (*sorted(ALWAYS_KEEP), *classify.HEADER_FIELDS):
        seen.setdefault(name.lower(), None)
    return tuple(seen)


def ensure_account(store: Store, name: str, address: str) -> int:
    with store.transaction() as s:
        acct = s.scalar(select(Account).where(Account.name == name))
        if acct is None:
            acct = Account(name=name, address=address, health="ok", rescans=0)
            s.add(acct)
            s.flush()
        return acct.id


def sync_mail(
    store: Store,
    account: str,
    address: str,
    source: MailSource,
    me: Identity,
    now: datetime,
    lookback: timedelta,
    progress: Callable[[ChangeBatch], None] | None = None,
    scope: Scope = "all",
    *,
    may_rescan: bool = True,
) -> SyncReport:
    """Fetch every change since the stored cursor and store it, batch by batch.

    An expired cursor is recovered by one rescan from scratch (counted in
    `Account.rescans`); refs are stable, so the rescan finds the stored rows
    again instead of adding threads. A second expiry in the same call (or any
    expiry when `may_rescan` is False, as for the re-check later in the same
    cycle) degrades the account with the reason instead of looping.
    """
    account_id = ensure_account(store, account, address)
    report = SyncReport(account=account)
    with store.reader() as s:
        cursor = s.scalar(select(Account.cursor).where(Account.id == account_id))
    fetch = _Fetch(store, account_id, source, me, now, now - lookback, scope, progress, report)
    try:
        fetch.run(cursor)
    except CursorExpired as exc:
        if cursor is None or not may_rescan:
            raise _degraded(store, account_id, f"the mail cursor cannot be used ({exc})") from exc
        _rescan(fetch, exc)
    refine_bodies(store, account_id, source, report)
    with store.transaction() as s:
        s.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(last_sync_at=now, health="ok", last_error=_joined(report.folder_problems))
        )
    return report


def _rescan(fetch: _Fetch, expired: CursorExpired) -> None:
    """The one rescan an expired cursor gets; expiring again degrades the account."""
    store, account_id, report = fetch.store, fetch.account_id, fetch.report
    log.warning("[%s] mail cursor expired (%s): rescanning from scratch", report.account, expired)
    _count_rescan(store, account_id)
    report.cursor_rescans += 1
    try:
        fetch.run(None)
    except CursorExpired as again:
        why = f"the mail cursor expired again during its rescan ({again})"
        raise _degraded(store, account_id, why) from again


@dataclass(slots=True)
class _Fetch:
    """One pass over `fetch_changes`, committing batches with their cursor."""

    store: Store
    account_id: int
    source: MailSource
    me: Identity
    now: datetime
    since: datetime
    scope: Scope
    progress: Callable[[ChangeBatch], None] | None
    report: SyncReport

    def run(self, cursor: str | None) -> None:
        fields = header_fields()
        report = self.report
        with ExitStack() as group:
            s: Session | None = None
            grouped = 0
            try:
                for batch in self.source.fetch_changes(
                    cursor, since=self.since, header_fields=fields, scope=self.scope
                ):
                    if s is None:
                        s = group.enter_context(self.store.transaction())
                    self._store(s, batch)
                    grouped += len(batch.changes)
                    if grouped >= GROUP_CHANGES:
                        group.close()  # commit: these batches and the cursor that covers them
                        s, grouped = None, 0
                    if self.progress:
                        self.progress(batch)
            except ConnectorError as exc:
                if isinstance(exc, CursorExpired) or not skips_part(exc):
                    raise  # the rescan above, or the account's cycle fails
                # What was fetched before it stays: the batches carry their own cursor.
                log.warning("[%s] %s", report.account, describe(exc))
                report.folder_problems.append(describe(exc))

    def _store(self, s: Session, batch: ChangeBatch) -> None:
        """The batch and the cursor that covers it, in the same transaction."""
        apply_batch(s, self.account_id, batch, self.me, self.now, self.report)
        s.execute(update(Account).where(Account.id == self.account_id).values(cursor=batch.cursor))
        self.report.batches += 1


def _count_rescan(store: Store, account_id: int) -> None:
    """One more rescan; the cursor is dropped with it, so a crash during the rescan
    resumes the rescan instead of counting (and meeting) the same expiry again."""
    with store.transaction() as s:
        s.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(cursor=None, rescans=Account.rescans + 1)
        )


def _degraded(store: Store, account_id: int, why: str) -> AccountDegraded:
    with store.transaction() as s:
        s.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(health="degraded", last_error=why)
        )
    return AccountDegraded(why)


def _joined(problems: Sequence[str]) -> str | None:
    return "; ".join(problems)[:500] if problems else None
