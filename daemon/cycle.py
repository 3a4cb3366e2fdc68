"""One cycle for one account: sync, decide, carry out what is due.

Shared by `once`, `run` and `demo`, so all three do exactly the same thing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from daemon.app import App, mailbox
from daemon.config import AccountConfig
from daemon.decide import Decision, decide
from daemon.ingest import SyncReport, sync_mail
from daemon.progress import Progress

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CycleReport:
    account: str
    sync: SyncReport | None = None
    decisions: list[Decision] = field(default_factory=list)

    @property
    def due(self) -> list[Decision]:
        return [d for d in self.decisions if d.current and d.run.due]

    @property
    def ended(self) -> list[Decision]:
        return [d for d in self.decisions if d.run.end_intents and not d.run.record.state.open]


def sync_account(
    app: App, account: AccountConfig, now: datetime, *, show_progress: bool = True
) -> SyncReport:
    policy = app.policy(account)
    with (
        mailbox(account) as source,
        Progress(f"sync {account.name}", enabled=show_progress) as progress,
    ):
        report = sync_mail(
            app.store,
            account.name,
            account.address,
            source,
            policy.identity,
            now,
            app.config.daemon.lookback,
            progress=progress.update,
        )
    log.info(
        "[%s] synced: %d new, %d gone, %d retagged, %d skipped, %d bodies classified",
        account.name, report.new, report.gone, report.retagged, report.skipped, report.bodies,
    )  # fmt: skip
    return report


def run_cycle(
    app: App,
    account: AccountConfig,
    now: datetime,
    *,
    dry_run: bool = False,
    show_progress: bool = True,
) -> CycleReport:
    report = CycleReport(account=account.name)
    report.sync = sync_account(app, account, now, show_progress=show_progress)
    report.decisions = decide(app.store, account.name, app.policy(account), now)
    return report
