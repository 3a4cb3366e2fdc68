"""Sync one account's mail into the store: the part of a cycle that `ghostwatch sync` runs alone.

Kept apart from cycle.py so `sync` does not import what only deciding and
writing need (templates, calendar writing, the outbox).
"""

from __future__ import annotations

import logging
from datetime import datetime

from connectors.base import MailSource
from daemon.config.settings import AccountConfig
from daemon.ingest.mail import SyncReport, sync_mail
from daemon.runtime.progress import Progress
from daemon.runtime.wiring import App, mailbox

log = logging.getLogger("daemon.runtime.cycle")  # a cycle logs under one name


def sync_with(
    app: App, account: AccountConfig, source: MailSource, now: datetime, **kw: object
) -> SyncReport:
    return sync_mail(
        app.store,
        account.name,
        account.address,
        source,
        app.identity(account),
        now,
        app.config.daemon.lookback,
        **kw,  # type: ignore[arg-type]
    )


def sync_account(
    app: App, account: AccountConfig, now: datetime, *, show_progress: bool = True
) -> SyncReport:
    with mailbox(account) as source:
        return synced(app, account, source, now, show_progress)


def synced(
    app: App, account: AccountConfig, source: MailSource, now: datetime, show_progress: bool
) -> SyncReport:
    with Progress(f"sync {account.name}", enabled=show_progress) as progress:
        report = sync_with(app, account, source, now, progress=progress.update)
    log.info(
        "[%s] synced: %d new, %d gone, %d retagged, %d skipped, %d bodies classified",
        account.name, report.new, report.gone, report.retagged, report.skipped, report.bodies,
    )  # fmt: skip
    return report
