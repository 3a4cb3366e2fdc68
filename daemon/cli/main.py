"""The `ghostwatch` command line (SPEC §6) and its single error handler."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from connectors.errors import ConnectorError
from daemon.errors import GhostwatchError, UsageError
from daemon.runtime.logsetup import setup as setup_logging

log = logging.getLogger("ghostwatch")


def parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--now {text!r} is not ISO-8601; e.g. 2026-11-23T10:00+08:00") from None
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ghostwatch",
        description="Notices when candidates and clients go silent; prepares follow-ups as drafts.",
    )
    p.add_argument(
        "--config",
        type=Path,
        help="config file (default $GHOSTWATCH_CONFIG, then ~/.config/ghostwatch/config.toml)",
    )
    p.add_argument("--now", help="decide as of this ISO-8601 instant (dry runs, demos, tests)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("init", help="write a commented starter config for your account")
    c.add_argument("path", nargs="?", type=Path)
    c.add_argument("--address", help="your mail address (asked when not given)")
    c = sub.add_parser("login", help="OAuth sign-in for gmail / graph accounts (not yet)")
    c.add_argument("account", nargs="?")
    sub.add_parser("check", help="validate config, reach the database and every account")
    c = sub.add_parser("sync", help="fetch and classify new mail into the local state")
    c.add_argument("--account")
    c = sub.add_parser("once", help="one full cycle: sync, decide, write drafts and reminders")
    c.add_argument(
        "--dry-run", action="store_true", help="write nothing; print what would be written"
    )
    c.add_argument("--account")
    sub.add_parser("run", help="the daemon: keep watching")
    c = sub.add_parser("status", help="open sequences with their next step")
    c.add_argument("--all", action="store_true", help="ended sequences too")
    c.add_argument("--json", action="store_true", help="one JSON array")
    c = sub.add_parser("explain", help="the decision trail of one thread")
    c.add_argument("target", metavar="CONTACT-OR-ID")
    for name in ("stop", "resume"):
        c = sub.add_parser(name, help=f"{name} following up a thread")
        c.add_argument("target", metavar="CONTACT-OR-ID")
    c = sub.add_parser("snooze", help="no follow-up of a thread before a date")
    c.add_argument("target", metavar="CONTACT-OR-ID")
    c.add_argument("until", metavar="DATE", help="YYYY-MM-DD: steps wait until that day")
    c = sub.add_parser("classify", help="classify raw RFC 5322 messages, one JSON line each")
    c.add_argument("files", nargs="+", type=Path)
    c = sub.add_parser("report", help="the ghosting case library and follow-up analytics")
    c.add_argument("--format", choices=("html", "csv", "json"), default="html")
    c.add_argument("--out", type=Path, help="write to this file (default: standard output)")
    c.add_argument("--since", help="only sequences that began on or after this date (YYYY-MM-DD)")
    c = sub.add_parser("backup", help="a consistent copy of the database (safe while `run` runs)")
    c.add_argument("path", type=Path, metavar="PATH", help="the backup file, or a folder for it")
    c = sub.add_parser(
        "demo", help="the whole cycle on a built-in sample mailbox, no server needed"
    )
    c.add_argument("--dir", type=Path, help="keep the sample mailbox and calendar here")
    return p


def cmd_backup(args: argparse.Namespace) -> int:
    from daemon.config.loader import load_config
    from daemon.db.backup import backup

    written = backup(load_config(args.config).daemon.database, args.path)
    print(f"backup written to {written} ({written.stat().st_size} bytes)")
    return 0


def handler(command: str) -> Callable[[argparse.Namespace], int]:
    """The command's function. Imported only now, and each command imports only what it
    uses, so `--help` and `status` do not pay for SQLAlchemy, Alembic or the connectors."""
    if command == "backup":
        return cmd_backup
    from daemon.cli import commands

    fn: Callable[[argparse.Namespace], int] = getattr(commands, f"cmd_{command}")
    return fn


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # --help exits here, before anything heavy is imported
    from daemon.config.schema import ConfigError
    from daemon.config.settings import default_config_path

    setup_logging(args.verbose)
    try:
        args.now = parse_now(args.now)
        if args.config is None:
            args.config = default_config_path()
        code = handler(args.command)(args)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here at the latest
        return code
    except BrokenPipeError:
        # `ghostwatch explain ... | head`: the reader has what it wanted.
        _silence_stdout()
        return 0
    except ConfigError as exc:
        print(f"ghostwatch: the config {exc.source} has problems:\n{exc}", file=sys.stderr)
        return 1
    except (GhostwatchError, ConnectorError) as exc:
        if args.verbose:
            log.exception("failed")
        hint = f"\n  {exc.hint}" if exc.hint else ""
        print(f"ghostwatch: {exc}{hint}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except Exception as exc:
        if not _is_database_error(exc):
            raise
        # A database failure the store did not translate: the driver's words, never the
        # SQL parameters (addresses, subjects).
        from daemon import failures

        if args.verbose:
            log.exception("failed")
        print(f"ghostwatch: {failures.describe(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _is_database_error(exc: Exception) -> bool:
    # Not `except SQLAlchemyError`: importing it would load SQLAlchemy for every command.
    # A command that never imported SQLAlchemy cannot have raised one of its errors.
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.SQLAlchemyError)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's own last flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
