"""What each CLI command does. cli.py parses; errors bubble to its one handler."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from daemon.config.loader import load_config
from daemon.errors import GhostwatchError, NotFound, UsageError

# Each command imports what it uses inside its function: `status` must not pay for
# the connectors, Jinja or Alembic, and `--help` for none of it (issue 11).
if TYPE_CHECKING:
    from daemon.cli.present import AccountHealth
    from daemon.config.settings import Config
    from daemon.decide.read_model import AccountRow, Plan, StatusReads
    from daemon.decide.replay import Decision
    from daemon.decide.status_row import StatusRow
    from daemon.runtime.wiring import App

log = logging.getLogger("ghostwatch")


def now_of(args: argparse.Namespace, config: Config) -> datetime:
    if args.now is None:
        return datetime.now(UTC)
    now: datetime = args.now
    return now if now.tzinfo else now.replace(tzinfo=ZoneInfo(config.policy.timezone))


def _app(args: argparse.Namespace) -> App:
    return _open(load_config(args.config))


def _open(config: Config) -> App:
    from daemon.runtime.wiring import open_app

    return open_app(config)


def cmd_init(args: argparse.Namespace) -> int:
    from daemon.cli.init_config import write_starter

    return write_starter((args.path or args.config).expanduser().absolute(), args.address)


def cmd_login(args: argparse.Namespace) -> int:
    raise GhostwatchError(
        "gmail / graph sign-in is not available yet",
        hint='meanwhile use the account over IMAP with an app password (type = "imap")',
    )


def cmd_check(args: argparse.Namespace) -> int:
    from daemon.cli.check import check

    return check(args)


def cmd_sync(args: argparse.Namespace) -> int:
    from daemon.runtime.accountsync import sync_account

    app = _app(args)
    now = now_of(args, app.config)
    for account in app.accounts(args.account):
        sync_account(app, account, now)
    return 0


def cmd_once(args: argparse.Namespace) -> int:
    from daemon.cli.present import print_draft
    from daemon.runtime.cycle import run_cycle

    app = _app(args)
    now = now_of(args, app.config)
    tz = ZoneInfo(app.config.policy.timezone)
    due = written = 0
    for account in app.accounts(args.account):
        report = run_cycle(app, account, now, dry_run=args.dry_run)
        due += report.due_count
        if args.dry_run:
            for d, step, body in report.previews:
                print_draft(d, step, body, tz, prefix=f"[{account.name}] would write ")
            for ev in report.reminder_previews:
                when = ev.start.astimezone(tz).strftime("%m-%d %H:%M")
                print(f"[{account.name}] would add to the calendar: {when} {ev.summary}")
            continue
        written += len(report.outbox.written)
        for d, step, _ in report.outbox.written:
            print(f"[{account.name}] draft step {step} for {d.facts.contact} is in Drafts")
        for key in report.outbox.withdrawn:
            print(f"[{account.name}] withdrew untouched draft {key}")
        for key in report.outbox.kept_edited:
            print(f"[{account.name}] left your edited draft {key} alone")
        for key in report.reminders.written:
            print(f"[{account.name}] calendar reminder {key} written")
        for key in report.reminders.removed:
            print(f"[{account.name}] calendar reminder {key} removed (the sequence ended)")
        for key in report.outbox.failed:
            print(f"[{account.name}] draft {key} not written yet (see `status`)")
        if report.outbox.deferred:
            print(
                f"[{account.name}] {report.outbox.deferred} more due; held by max_drafts_per_cycle"
            )
    if args.dry_run:
        print(f"{due} follow-up(s) due; dry run: nothing written.")
    else:
        print(f"{written} draft(s) written, {due} follow-up(s) were due.")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    # Imported here: only `run` needs schedule, signal handlers and watcher threads.
    from daemon.runtime.service import run_daemon, shifted_clock

    start = None if args.now is None else now_of(args, load_config(args.config))
    return run_daemon(args.config, now_fn=shifted_clock(start), verbose=args.verbose)


def all_decisions(app: App, now: datetime) -> list[Decision]:
    """Every sequence of every account, replayed as of `now`."""
    from daemon.decide.read_model import session_reads
    from daemon.decide.replay import evaluate

    out: list[Decision] = []
    with app.store.reader() as s:
        reads = session_reads(s)
        known = {a.name: a.id for a in reads.accounts()}
        for account in app.accounts():
            if account.name in known:
                tids = reads.outbound_threads(known[account.name])
                out.extend(evaluate(s, account.name, app.policy(account), now, tids))
    return out


def status_view(
    config: Config, now: datetime, *, everything: bool
) -> tuple[list[StatusRow], dict[str, AccountHealth]]:
    """What `status` shows. The stored decisions serve every thread they still describe
    (decide/read_model.py); only the others are replayed. With none to replay,
    neither SQLAlchemy nor the tracker is loaded."""
    from daemon.cli.present import AccountHealth, status_rows
    from daemon.decide.read_model import session_reads, sqlite_reads
    from daemon.decide.status_row import policy_fingerprint

    app: App | None = None
    plans: dict[str, Plan] = {}

    def read(reads: StatusReads) -> list[AccountRow]:
        found = reads.accounts()
        ids = {a.name: a.id for a in found}
        for account in config.accounts:
            if account.name in ids:
                fingerprint = policy_fingerprint(config, account)
                plans[account.name] = reads.plan(
                    ids[account.name], now, fingerprint, everything=everything
                )
        return found

    with sqlite_reads(config.daemon.database) as fast:
        accounts = read(fast) if fast is not None else []
    if fast is None:  # not a current SQLite file: the Store opens (and migrates) it
        app = _open(config)
        with app.store.reader() as s:
            accounts = read(session_reads(s))
    health = {a.name: AccountHealth(a.health, a.rescans, a.last_error) for a in accounts}
    rows: list[StatusRow] = []
    for account in config.accounts:
        plan = plans.get(account.name)
        if plan is None:
            continue
        by_thread = dict(plan.stored)
        if plan.replay:
            from daemon.decide.replay import evaluate

            app = app or _open(config)
            with app.store.reader() as s:
                replayed = evaluate(s, account.name, app.policy(account), now, plan.replay)
            for d in replayed:
                by_thread.setdefault(d.thread_id, []).extend(status_rows([d]))
        log.debug("[%s] status: %d thread(s) replayed, %d read as decided",
                  account.name, len(plan.replay), len(plan.stored))  # fmt: skip
        rows += [row for tid in sorted(by_thread) for row in by_thread[tid]]
    shown = [r for r in rows if everything or _shown(r, now)]
    shown.sort(key=lambda r: (r.next_due is None, r.next_due or r.started_at))
    return shown, health


def cmd_status(args: argparse.Namespace) -> int:
    from daemon.cli.present import print_accounts, print_json, print_status, status_json

    config = load_config(args.config)
    now = now_of(args, config)
    decisions, accounts = status_view(config, now, everything=args.all)
    tz = ZoneInfo(config.policy.timezone)
    if args.json:
        print_json(status_json(decisions, tz, accounts))
    else:
        print_status(decisions, tz)
        print_accounts(accounts)
    return 0


def _shown(row: StatusRow, now: datetime) -> bool:
    """Plain `status`: open sequences, and contacts who recently returned after ghosting."""
    from daemon.decide.read_model import RETURN_NEWS

    if not row.current or row.open:
        return row.current
    ended = row.ended_at
    return row.returned_from is not None and ended is not None and ended >= now - RETURN_NEWS


def _find_thread(app: App, target: str, now: datetime | None = None) -> tuple[str, int]:
    from sqlalchemy import select

    from daemon.cli.lookup import find_thread
    from daemon.db.tables import Account
    from daemon.db.tables import Sequence as SequenceRow

    if now is not None and "@" in target:
        found = [d for d in all_decisions(app, now) if d.facts.contact == target.strip().lower()]
        if found:
            latest = max(found, key=lambda d: d.run.record.started_at)
            return latest.account, latest.thread_id
    with app.store.reader() as s:
        row = s.get(SequenceRow, target)
        rows = [row] if row is not None else []
        if not rows:
            query = select(SequenceRow).where(SequenceRow.contact_addr == target.strip().lower())
            rows = list(s.scalars(query.order_by(SequenceRow.started_at.desc())))
        if not rows and (untracked := find_thread(s, target)) is not None:
            return untracked
        if not rows:
            raise NotFound(
                f"no thread for {target!r}",
                hint="give a contact address or a sequence id from `ghostwatch status`",
            )
        name = s.scalar(select(Account.name).where(Account.id == rows[0].account_id))
        return name or "", rows[0].thread_id or 0


def cmd_explain(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from daemon.act.drafts import drafts_of
    from daemon.cli.lookup import untracked_reason
    from daemon.cli.present import print_explain
    from daemon.db.tables import Message
    from daemon.decide.replay import evaluate
    from daemon.decide.stored import to_view
    from daemon.decide.views import dedupe

    app = _app(args)
    now = now_of(args, app.config)
    name, tid = _find_thread(app, args.target, now)
    account = app.config.account(name)
    with app.store.reader() as s:
        decisions = evaluate(s, name, app.policy(account), now, [tid])
        rows = s.scalars(select(Message).where(Message.thread_id == tid))
        views = dedupe(to_view(m) for m in rows)
        drafts = drafts_of(s, [d.sequence_id for d in decisions])
    if not decisions:
        with app.store.reader() as s:
            why = (
                untracked_reason(s, app.policy(account), tid)
                or "no outreach to an external contact"
            )
        raise NotFound(f"thread {tid} is not followed up: {why}")
    decisions = _asked_about(decisions, args.target)
    print_explain(decisions, views, ZoneInfo(app.config.policy.timezone), drafts=drafts)
    return 0


def _asked_about(decisions: list[Decision], target: str) -> list[Decision]:
    """A thread with Bcc recipients holds a sequence for each: show the one asked about."""
    if not any(d.facts.separate for d in decisions):
        return decisions
    wanted = target.strip().lower()
    who = {
        d.facts.contact for d in decisions if wanted in d.facts.addresses or d.sequence_id == wanted
    }
    return [d for d in decisions if d.facts.contact in who] or decisions


def _control(args: argparse.Namespace, action: str, shown: str = "") -> int:
    from sqlalchemy import update

    from daemon.act.marks import mark_thread
    from daemon.cli.lookup import control_contact
    from daemon.db.tables import Control, Thread
    from daemon.decide.replay import decide
    from daemon.decide.stored import account_id

    app = _app(args)
    now = now_of(args, app.config)
    name, tid = _find_thread(app, args.target)
    with app.store.transaction() as s:
        acct = account_id(s, name)
        who = control_contact(s, args.target)
        s.add(Control(account_id=acct, thread_id=tid, action=action, at=now, contact_addr=who))
        s.execute(update(Thread).where(Thread.id == tid).values(dirty=True))
    account = app.config.account(name)
    decisions = decide(app.store, name, app.policy(account), now)
    print(f"{shown or action}: thread {tid} of account {name}")
    if action == "stop":
        from daemon.runtime.withdraw_now import withdrawn_lines

        mine = [d for d in decisions if d.thread_id == tid]
        for line in withdrawn_lines(app, account, mine, now):
            print(line)
    split = any(d.facts.separate for d in decisions if d.thread_id == tid)
    # A gw:stop keyword would stop every Bcc recipient's sequence of the thread: a stop
    # naming one of them stays in the database only.
    if not (split and who) and (note := mark_thread(app, name, tid, action)):
        print(note)
    return 0


def cmd_snooze(args: argparse.Namespace) -> int:
    from daemon.decide.snooze import control_action, parse_day

    day = parse_day(args.until)
    if day is None:
        raise UsageError(f"{args.until!r} is not a date; e.g. ghostwatch snooze CONTACT 2026-12-10")
    return _control(args, control_action(day), shown=f"snoozed until {day.isoformat()}")


def cmd_stop(args: argparse.Namespace) -> int:
    return _control(args, "stop")


def cmd_resume(args: argparse.Namespace) -> int:
    return _control(args, "resume")


def cmd_classify(args: argparse.Namespace) -> int:
    from daemon import classify

    status = 0
    for path in args.files:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            print(f"ghostwatch: cannot read {path}: {exc.strerror}", file=sys.stderr)
            status = 1
            continue
        verdict = classify.classify(raw, has_body=True)
        print(json.dumps(classify.classification_json(str(path), verdict), ensure_ascii=False))
    return status


def cmd_report(args: argparse.Namespace) -> int:
    from daemon.analytics import case_library as report

    app = _app(args)
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise UsageError(f"--since {args.since!r} is not a date; e.g. 2026-09-01") from None
        since = (
            since if since.tzinfo else since.replace(tzinfo=ZoneInfo(app.config.policy.timezone))
        )
    with app.store.reader() as s:
        cases = report.cases_since(s, since)
    made = now_of(args, app.config)
    render = {
        "json": lambda: report.to_json(cases),
        "csv": lambda: report.to_csv(cases),
        "html": lambda: report.to_html(cases, args.since, made),
    }
    text = render[args.format]()
    out: Path | None = args.out
    if out is None and sys.stdout.isatty():
        # A page of raw HTML on a terminal helps nobody: write a file, say where.
        out = report.free_path(Path.cwd(), made.date(), args.format)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        print(f"{len(cases)} case(s) written to {out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from daemon.demo import run_demo

    return run_demo(args.dir)
