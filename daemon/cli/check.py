"""`ghostwatch check`: is every part reachable and complete, and if not, what to fix.

A source is asked only for what its connector declares (folder roles, capabilities):
a read-only archive is not asked for Sent, a label-based source not for folders.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from connectors.model import FolderRole
from daemon.config.loader import load_config
from daemon.errors import GhostwatchError

if TYPE_CHECKING:
    from connectors.base import MailSource
    from daemon.config.settings import AccountConfig


def check(args: argparse.Namespace) -> int:
    """Config, templates, database, each mailbox and calendar: ok or what to fix."""
    from connectors.errors import ConnectorError
    from daemon.act.render import check_templates
    from daemon.db.engine import mask_url
    from daemon.runtime.wiring import mailbox, open_app

    config = load_config(args.config)
    problems: list[str] = []
    print(f"config {config.source}: ok ({len(config.accounts)} account(s))")
    # Drafts may also be written in a rule's `set = { locale }` (and in a shipped locale).
    ruled = {r.set_locale for r in config.policy.rules if r.set_locale}
    locales = sorted({a.locale for a in config.accounts} | ruled)
    template_problems = check_templates(locales, config.daemon.templates_dir)
    problems += [f"template {p}" for p in template_problems]
    if not template_problems:
        print(f"templates ({', '.join(locales)}): ok")
    try:
        app = open_app(config)
        print(f"database {mask_url(config.daemon.database)}: ok")
    except GhostwatchError as exc:
        problems.append(f"database: {exc}")
        app = None
    for account in config.accounts:
        try:
            with mailbox(account) as source:
                problems += _check_mail(account, source)
        except ConnectorError as exc:
            hint = f" ({exc.hint})" if exc.hint else ""
            problems.append(f"account {account.name}: {exc}{hint}")
        if account.calendar is not None:
            problems += _check_calendar(account)
    if app is not None:
        app.store.close()
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


_SHOWN_ROLES = (
    FolderRole.INBOX,
    FolderRole.SENT,
    FolderRole.DRAFTS,
    FolderRole.JUNK,
    FolderRole.TRASH,
)


def _check_mail(account: AccountConfig, source: MailSource) -> list[str]:
    """What the source offers, and the folder roles its connector says it needs."""
    import connectors

    entry = connectors.mail_connector(account.mail.type)
    caps = sorted({*source.capabilities().names, *entry.capabilities})
    roles = {f.role: f.name for f in source.folders()}
    print(f"account {account.name} ({account.mail.type}): reached")
    print(f"  capabilities: {', '.join(caps) or 'none'}")
    for role in _SHOWN_ROLES if roles else entry.folder_roles:
        print(f"  {role.value}: {roles.get(role, 'not found')}")
    return [
        f"account {account.name}: no {role.value.capitalize()} folder found; {hint}"
        for role, hint in entry.folder_roles.items()
        if role not in roles
    ]


def _check_calendar(account: AccountConfig) -> list[str]:
    import connectors
    from connectors.errors import ConnectorError
    from daemon.runtime.cycle import calendar_of

    kind = account.calendar.type if account.calendar else "none"
    if kind not in connectors.CALENDAR_CONNECTORS:
        print(f"  calendar {kind}: not available in this version (mail keeps working)")
        return []
    try:
        with calendar_of(account) as cal:
            assert cal is not None
            cal.fetch_changes(None, since=datetime.now(UTC) - timedelta(days=1))
            names = sorted(cal.capabilities().names)
            print(f"  calendar {kind}: reached; {', '.join(names) or 'no incremental reads'}")
    except ConnectorError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        return [f"account {account.name}: calendar {kind}: {exc}{hint}; mail keeps working"]
    return []
