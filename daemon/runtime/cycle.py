"""One cycle for one account: sync, decide, carry out what is due.

Shared by `once`, `run` and `demo`, so all three do exactly the same thing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update

import connectors
from connectors.base import CalendarSource, Capability, DraftSink, MailSource
from connectors.model import CalendarEvent
from daemon.act.drafts import (
    Author,
    OutboxReport,
    backup_sinks,
    build_spec,
    reconcile,
    withdraw_ended,
    write_due,
)
from daemon.act.marks import mark_skips, tag_writer
from daemon.act.phone_lookup import phone_lookup
from daemon.act.reminders import ReminderReport, preview_reminders, remove_ended, write_reminders
from daemon.act.stale_digest import preview_digest, queue_digest
from daemon.config.settings import AccountConfig
from daemon.db.tables import Thread
from daemon.decide.replay import Decision, Policy, account_id, decide, evaluate, threads_to_decide
from daemon.ingest.adopt import adopt_own_drafts
from daemon.ingest.calendar import CalendarSyncReport, load_entries, sync_calendar
from daemon.ingest.mail import SyncReport
from daemon.ingest.outreach_language import read_outreach_languages
from daemon.runtime.accountsync import sync_account, sync_with, synced
from daemon.runtime.wiring import App, mailbox
from daemon.tracker.away import away_at, away_periods

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CycleReport:
    account: str
    sync: SyncReport | None = None
    decisions: list[Decision] = field(default_factory=list)
    outbox: OutboxReport = field(default_factory=OutboxReport)
    previews: list[tuple[Decision, int, str]] = field(default_factory=list)  # dry run
    reminders: ReminderReport = field(default_factory=ReminderReport)
    reminder_previews: list[CalendarEvent] = field(default_factory=list)
    calendar: CalendarSyncReport | None = None
    due_count: int = 0  # follow-ups that were due when the cycle decided

    @property
    def due(self) -> list[Decision]:
        return [d for d in self.decisions if d.current and d.run.due]

    @property
    def ended(self) -> list[Decision]:
        """Sequences this cycle ended (not those ended earlier and decided again)."""
        return [d for d in self.decisions if d.newly_ended and d.run.end_intents]


@contextlib.contextmanager
def calendar_of(account: AccountConfig) -> Iterator[CalendarSource | None]:
    """The account's calendar connector, opened; None without one."""
    cfg = account.calendar
    if cfg is None or cfg.type not in connectors.CALENDAR_CONNECTORS:
        yield None
        return
    cal = connectors.calendar_connector(cfg.type).open_calendar(cfg.settings)
    cal.open()
    try:
        yield cal
    finally:
        cal.close()


@contextlib.contextmanager
def draft_sink(account: AccountConfig) -> Iterator[DraftSink | None]:
    """The account's DraftSink, opened; None when its connector declares no drafts."""
    entry = connectors.mail_connector(account.mail.type)
    if entry.open_drafts is None or not entry.can(Capability.DRAFTS):
        yield None
        return
    sink = entry.open_drafts(account.mail.settings)
    sink.open()
    try:
        yield sink
    finally:
        sink.close()


def author_of(app: App, account: AccountConfig) -> Author:
    return Author(
        address=account.address,
        display_name=account.display_name or account.address,
        locale=account.locale,
        templates_dir=app.config.daemon.templates_dir,
    )


def run_cycle(
    app: App,
    account: AccountConfig,
    now: datetime,
    *,
    dry_run: bool = False,
    show_progress: bool = True,
) -> CycleReport:
    """Sync, decide, and (unless dry_run) write the due drafts and withdraw stale ones."""
    report = CycleReport(account=account.name)
    policy = app.policy(account)
    author = author_of(app, account)
    with (
        mailbox(account) as source,
        draft_sink(account) as sink,
        calendar_of(account) as cal,
        contextlib.ExitStack() as others,
    ):
        report.sync = synced(app, account, source, now, show_progress)
        with app.store.reader() as s:
            acct = account_id(s, account.name)
        assert acct is not None  # sync created it
        # Before deciding: a rebuilt database must know the drafts the mailbox holds.
        adopt_own_drafts(app.store, account.name, acct, account.address, now)
        if cal is not None:
            report.calendar = sync_calendar(
                app.store, acct, cal, now, lookback=app.config.daemon.lookback
            )
        target, on_behalf = (None, None)
        if cal is not None:
            target, on_behalf = _reminder_target(app, account, acct, now)
        # Drafts written into a colleague's Drafts while this account was away.
        held = {} if dry_run else _open_backup_sinks(app, acct, others, now)
        if sink is not None and not dry_run:
            reconcile(app.store, acct, sink, now)
            if (writer := tag_writer(source, account.mail.type)) is not None:
                mark_skips(app.store, writer, account.name, acct, now)  # for a rebuilt database
            for name, other in held.items():
                reconcile(app.store, acct, other, now, sink_account=name)
        _read_languages(app, acct, source, policy)
        report.decisions = decide(app.store, account.name, policy, now)
        report.due_count = len(report.due)
        phones = phone_lookup(app.store, source)
        if dry_run or sink is None:
            for d in report.due:
                step = d.next.step or 0
                _, body = build_spec(app.store, d, step, f"{d.sequence_id}.{step}", author, now)
                report.previews.append((d, step, body))
            report.reminder_previews = preview_reminders(
                app.store,
                report.decisions,
                now,
                locale=account.locale,
                templates_dir=app.config.daemon.templates_dir,
                calendar=policy.calendar,
                phone_lookup=phones,
            )
            if cal is not None:
                report.reminder_previews += preview_digest(
                    app.store,
                    report.decisions,
                    now,
                    calendar=policy.calendar,
                    stale=policy.stale_draft,
                    locale=account.locale,
                )
            return report
        decided = list(report.decisions)
        withdrawn = withdraw_ended(app.store, acct, sink, report.decisions, now)
        for name, other in held.items():
            more = withdraw_ended(app.store, acct, other, decided, now, sink_account=name)
            withdrawn.withdrawn += more.withdrawn
            withdrawn.kept_edited += more.kept_edited
            withdrawn.cancelled += more.cancelled
        if cal is not None:
            report.reminders = remove_ended(app.store, acct, cal, decided, now)

        def recheck(d: Decision) -> Decision | None:
            # A reply may have landed since the sync: look again, in the inbound folders only.
            # The cursor was stored by this cycle: its expiry now is not rescanned twice.
            sync_with(app, account, source, now, scope="inbound", may_rescan=False)
            with app.store.reader() as s:
                fresh = evaluate(s, account.name, policy, now, [d.thread_id])
            return next((f for f in fresh if f.sequence_id == d.sequence_id and f.current), None)

        write_sink, write_author = sink, author
        if target is not None:
            backup_sink = others.enter_context(draft_sink(target))
            if backup_sink is not None:
                # The backup keeps the rhythm: the draft waits in their Drafts, answers come to us.
                write_sink = backup_sink
                write_author = Author(
                    address=target.address,
                    display_name=target.display_name or target.address,
                    locale=account.locale,
                    templates_dir=app.config.daemon.templates_dir,
                    on_behalf_of=(on_behalf or account.address, account.address),
                    sink_account=target.name,
                )
                log.info("[%s] away: drafts go to %s's Drafts", account.name, target.name)
        report.outbox = write_due(
            app.store,
            acct,
            write_sink,
            write_author,
            report.decisions,
            now,
            limit=app.config.policy.max_drafts_per_cycle,
            recheck=recheck,
        )
        if cal is not None:
            digest = queue_digest(
                app.store,
                acct,
                cal,
                decided,
                now,
                calendar=policy.calendar,
                stale=policy.stale_draft,
                locale=account.locale,
            )
            report.reminders.removed += digest.removed
            with contextlib.ExitStack() as stack:
                sink_cal = cal
                if target is not None:
                    backup_cal = stack.enter_context(calendar_of(target))
                    if backup_cal is not None:
                        sink_cal = backup_cal
                        log.info(
                            "[%s] away: reminders go to %s's calendar", account.name, target.name
                        )
                written = write_reminders(
                    app.store,
                    acct,
                    sink_cal,  # type: ignore[arg-type]
                    decided,
                    now,
                    locale=account.locale,
                    templates_dir=app.config.daemon.templates_dir,
                    calendar=policy.calendar,
                    phone_lookup=phones,
                    on_behalf_of=on_behalf if sink_cal is not cal else None,
                    calendar_account=target.name if sink_cal is not cal and target else None,
                )
            report.reminders.written += written.written
            report.reminders.found += written.found
            report.reminders.failed += written.failed
        report.outbox.withdrawn += withdrawn.withdrawn
        report.outbox.kept_edited += withdrawn.kept_edited
        report.outbox.cancelled += withdrawn.cancelled
        if report.outbox.written or report.outbox.cancelled:
            _mark_dirty(app, [d.thread_id for d, _, _ in report.outbox.written])
            first = {d.sequence_id: d for d in report.decisions}
            for d in decide(app.store, account.name, policy, now):
                d.newly_ended = d.newly_ended or (
                    d.sequence_id in first and first[d.sequence_id].newly_ended
                )
                first[d.sequence_id] = d
            report.decisions = list(first.values())
    return report


def _read_languages(app: App, acct: int, source: MailSource, policy: Policy) -> None:
    """The outreach language of every thread about to be decided (drafts follow it)."""
    with app.store.reader() as s:
        tids = threads_to_decide(s, acct, everything=False)
    read_outreach_languages(app.store, acct, source, policy.identity, tids)


def _open_backup_sinks(
    app: App, acct: int, stack: contextlib.ExitStack, now: datetime
) -> dict[str, DraftSink]:
    opened: dict[str, DraftSink] = {}
    for name in backup_sinks(app.store, acct):
        try:
            backup = app.config.account(name)
        except KeyError:
            log.warning("drafts held by account %r, which is no longer configured", name)
            continue
        # Read the colleague's Sent first: a draft that left their Drafts was sent or deleted.
        sync_account(app, backup, now, show_progress=False)
        other = stack.enter_context(draft_sink(backup))
        if other is not None:
            opened[name] = other
    return opened


def _reminder_target(
    app: App, account: AccountConfig, acct: int, now: datetime
) -> tuple[AccountConfig | None, str | None]:
    """The backup whose calendar takes the reminders while the owner is away, if any."""
    if not account.backup:
        return None, None
    with app.store.reader() as s:
        entries = load_entries(s, acct, since=now - timedelta(days=60))
    periods = away_periods(entries, app.config.policy.timezone, owner=account.address)
    if away_at(now, periods) is None:
        return None, None
    return app.config.account(account.backup), account.display_name or account.address


def _mark_dirty(app: App, thread_ids: list[int]) -> None:
    if thread_ids:
        with app.store.transaction() as s:
            s.execute(update(Thread).where(Thread.id.in_(thread_ids)).values(dirty=True))
