"""One cycle for one account: sync, decide, plan (plan.py, pure), carry out the plan.

Shared by `once`, `run` and `demo`, so all three do exactly the same thing. Each
step below gets the cycle's open connectors in one `_Run`; the writes go through
the intent pipeline (act/intents.py), so an abandoned cycle is resumed, not redone.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update

from connectors.base import CalendarSource, DraftSink, MailSource
from connectors.model import CalendarEvent
from daemon.act.draft_spec import Author, build_spec
from daemon.act.drafts import (
    OutboxReport,
    Recheck,
    backup_sinks,
    reconcile,
    withdraw_ended,
    write_due,
)
from daemon.act.marks import mark_skips, tag_writer
from daemon.act.phone_lookup import phone_lookup
from daemon.act.reminder_event import PhoneLookup
from daemon.act.reminders import ReminderReport, preview_reminders, remove_ended, write_reminders
from daemon.act.stale_digest import preview_digest, queue_digest
from daemon.config.settings import AccountConfig
from daemon.db.tables import Thread
from daemon.decide.replay import Decision, Policy, decide, evaluate
from daemon.decide.stored import account_id, threads_to_decide
from daemon.ingest.adopt import adopt_own_drafts
from daemon.ingest.calendar import CalendarSyncReport, load_entries, sync_calendar
from daemon.ingest.mail import SyncReport
from daemon.ingest.outreach_language import read_outreach_languages
from daemon.runtime.accountsync import sync_account, sync_with, synced
from daemon.runtime.connect import calendar_of, draft_sink
from daemon.runtime.plan import Away, Plan, plan_cycle
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


def author_of(app: App, account: AccountConfig) -> Author:
    return Author(
        address=account.address,
        display_name=account.display_name or account.address,
        locale=account.locale,
        templates_dir=app.config.daemon.templates_dir,
    )


@dataclass(slots=True)
class _Run:
    """One cycle's settings and open connectors, handed from step to step."""

    app: App
    account: AccountConfig
    now: datetime
    policy: Policy
    source: MailSource
    sink: DraftSink | None
    cal: CalendarSource | None
    others: contextlib.ExitStack  # connectors of colleagues, closed with the cycle
    acct: int = 0
    held: dict[str, DraftSink] = field(default_factory=dict)
    phones: PhoneLookup | None = None


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
    with (
        mailbox(account) as source,
        draft_sink(account) as sink,
        calendar_of(account) as cal,
        contextlib.ExitStack() as others,
    ):
        run = _Run(app, account, now, policy, source, sink, cal, others)
        report.sync = synced(app, account, source, now, show_progress)
        away = _prepare(run, report, dry_run)
        _decide(run, report)
        plan = plan_cycle(
            report.decisions, preview=dry_run or sink is None, calendar=cal is not None, away=away
        )
        if plan.preview:
            _preview(run, report)
        else:
            _execute(run, plan, report)
    return report


def _prepare(run: _Run, report: CycleReport, dry_run: bool) -> Away | None:
    """Bring the database up to what the mailbox, calendar and Drafts hold; who is away."""
    app, now = run.app, run.now
    with app.store.reader() as s:
        acct = account_id(s, run.account.name)
    assert acct is not None  # sync created it
    run.acct = acct
    # Before deciding: a rebuilt database must know the drafts the mailbox holds.
    adopt_own_drafts(app.store, run.account.name, acct, run.account.address, now)
    away = None
    if run.cal is not None:
        lookback = app.config.daemon.lookback
        report.calendar = sync_calendar(app.store, acct, run.cal, now, lookback=lookback)
        away = _away(app, run.account, acct, now)
    # Drafts written into a colleague's Drafts while this account was away.
    if not dry_run:
        run.held = _open_backup_sinks(app, acct, run.others, now)
    if run.sink is not None and not dry_run:
        _reconcile(run)
    return away


def _reconcile(run: _Run) -> None:
    """What became of the drafts we wrote, in our Drafts and in colleagues'."""
    assert run.sink is not None
    store, acct, now = run.app.store, run.acct, run.now
    reconcile(store, acct, run.sink, now)
    if (writer := tag_writer(run.source, run.account.mail.type)) is not None:
        mark_skips(store, writer, run.account.name, acct, now)  # for a rebuilt database
    for name, other in run.held.items():
        reconcile(store, acct, other, now, sink_account=name)


def _decide(run: _Run, report: CycleReport) -> None:
    _read_languages(run.app, run.acct, run.source, run.policy)
    report.decisions = decide(run.app.store, run.account.name, run.policy, run.now)
    report.due_count = len(report.due)
    run.phones = phone_lookup(run.app.store, run.source)


# ---- a dry run, or an account without Drafts: show, write nothing ---------------------------


def _preview(run: _Run, report: CycleReport) -> None:
    app, account, now, policy = run.app, run.account, run.now, run.policy
    author = author_of(app, account)
    for d in report.due:
        step = d.next.step or 0
        _, body = build_spec(app.store, d, step, f"{d.sequence_id}.{step}", author, now)
        report.previews.append((d, step, body))
    assert run.phones is not None
    report.reminder_previews = preview_reminders(
        app.store,
        report.decisions,
        now,
        locale=account.locale,
        templates_dir=app.config.daemon.templates_dir,
        calendar=policy.calendar,
        phone_lookup=run.phones,
    )
    if run.cal is not None:
        report.reminder_previews += preview_digest(
            app.store,
            report.decisions,
            now,
            calendar=policy.calendar,
            stale=policy.stale_draft,
            locale=account.locale,
        )


# ---- carrying out the plan ------------------------------------------------------------------


def _execute(run: _Run, plan: Plan, report: CycleReport) -> None:
    withdrawn = _withdraw(run, plan)
    if run.cal is not None:
        report.reminders = remove_ended(run.app.store, run.acct, run.cal, plan.withdraw, run.now)
    report.outbox = _write_drafts(run, plan)
    if run.cal is not None:
        _remind(run, run.cal, plan, report.reminders)
    report.outbox.withdrawn += withdrawn.withdrawn
    report.outbox.kept_edited += withdrawn.kept_edited
    report.outbox.cancelled += withdrawn.cancelled
    if report.outbox.written or report.outbox.cancelled:
        _redecide(run, report)


def _withdraw(run: _Run, plan: Plan) -> OutboxReport:
    """Withdraw the untouched drafts of ended sequences: ours, then colleagues'."""
    assert run.sink is not None
    store, acct, now = run.app.store, run.acct, run.now
    withdrawn = withdraw_ended(store, acct, run.sink, plan.withdraw, now)
    for name, other in run.held.items():
        more = withdraw_ended(store, acct, other, plan.withdraw, now, sink_account=name)
        withdrawn.withdrawn += more.withdrawn
        withdrawn.kept_edited += more.kept_edited
        withdrawn.cancelled += more.cancelled
    return withdrawn


def _write_drafts(run: _Run, plan: Plan) -> OutboxReport:
    sink, author = _draft_target(run, plan)
    return write_due(
        run.app.store,
        run.acct,
        sink,
        author,
        plan.write,
        run.now,
        limit=run.app.config.policy.max_drafts_per_cycle,
        recheck=_recheck(run),
    )


def _recheck(run: _Run) -> Recheck:
    def recheck(d: Decision) -> Decision | None:
        # A reply may have landed since the sync: look again, in the inbound folders only.
        # The cursor was stored by this cycle: its expiry now is not rescanned twice.
        sync_with(run.app, run.account, run.source, run.now, scope="inbound", may_rescan=False)
        with run.app.store.reader() as s:
            fresh = evaluate(s, run.account.name, run.policy, run.now, [d.thread_id])
        return next((f for f in fresh if f.sequence_id == d.sequence_id and f.current), None)

    return recheck


def _draft_target(run: _Run, plan: Plan) -> tuple[DraftSink, Author]:
    """Our Drafts, or while we are away the backup's: they keep the rhythm, answers come to us."""
    assert run.sink is not None
    account, author = run.account, author_of(run.app, run.account)
    if plan.away is None:
        return run.sink, author
    backup = plan.away.backup
    backup_sink = run.others.enter_context(draft_sink(backup))
    if backup_sink is None:
        return run.sink, author
    log.info("[%s] away: drafts go to %s's Drafts", account.name, backup.name)
    return backup_sink, Author(
        address=backup.address,
        display_name=backup.display_name or backup.address,
        locale=account.locale,
        templates_dir=run.app.config.daemon.templates_dir,
        on_behalf_of=(plan.away.owner or account.address, account.address),
        sink_account=backup.name,
    )


def _remind(run: _Run, cal: CalendarSource, plan: Plan, report: ReminderReport) -> None:
    """Today's stale-drafts digest, then the due reminders (the backup's calendar if away)."""
    app, account, policy = run.app, run.account, run.policy
    digest = queue_digest(
        app.store,
        run.acct,
        cal,
        plan.decisions,
        run.now,
        calendar=policy.calendar,
        stale=policy.stale_draft,
        locale=account.locale,
    )
    report.removed += digest.removed
    with contextlib.ExitStack() as stack:
        sink_cal, away = _reminder_calendar(run, cal, plan, stack)
        assert run.phones is not None
        written = write_reminders(
            app.store,
            run.acct,
            sink_cal,  # type: ignore[arg-type]
            plan.decisions,
            run.now,
            locale=account.locale,
            templates_dir=app.config.daemon.templates_dir,
            calendar=policy.calendar,
            phone_lookup=run.phones,
            on_behalf_of=away.owner if away else None,
            calendar_account=away.backup.name if away else None,
        )
    report.written += written.written
    report.found += written.found
    report.failed += written.failed


def _reminder_calendar(
    run: _Run, cal: CalendarSource, plan: Plan, stack: contextlib.ExitStack
) -> tuple[CalendarSource, Away | None]:
    """Our calendar, or while we are away the backup's (then also who they cover for)."""
    if plan.away is None:
        return cal, None
    backup_cal = stack.enter_context(calendar_of(plan.away.backup))
    if backup_cal is None:
        return cal, None
    log.info("[%s] away: reminders go to %s's calendar", run.account.name, plan.away.backup.name)
    return backup_cal, plan.away


def _redecide(run: _Run, report: CycleReport) -> None:
    """Decide again after writing, so the report shows the drafts as pending."""
    _mark_dirty(run.app, [d.thread_id for d, _, _ in report.outbox.written])
    first = {d.sequence_id: d for d in report.decisions}
    for d in decide(run.app.store, run.account.name, run.policy, run.now):
        d.newly_ended = d.newly_ended or (
            d.sequence_id in first and first[d.sequence_id].newly_ended
        )
        first[d.sequence_id] = d
    report.decisions = list(first.values())


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


def _away(app: App, account: AccountConfig, acct: int, now: datetime) -> Away | None:
    """The backup whose Drafts and calendar take over while the owner is away, if any."""
    if not account.backup:
        return None
    with app.store.reader() as s:
        entries = load_entries(s, acct, since=now - timedelta(days=60))
    periods = away_periods(entries, app.config.policy.timezone, owner=account.address)
    if away_at(now, periods) is None:
        return None
    return Away(app.config.account(account.backup), account.display_name or account.address)


def _mark_dirty(app: App, thread_ids: list[int]) -> None:
    if thread_ids:
        with app.store.transaction() as s:
            s.execute(update(Thread).where(Thread.id.in_(thread_ids)).values(dirty=True))
