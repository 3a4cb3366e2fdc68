"""Wiring: config -> store, connectors and per-account policy. No decisions here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import connectors
from connectors.base import MailSource
from daemon.config import AccountConfig, Config, available_locales
from daemon.db.engine import Store
from daemon.decide import Policy
from daemon.errors import UsageError
from daemon.identity import Identity
from daemon.tracker.policy import BusinessCalendar


@dataclass(frozen=True, slots=True)
class App:
    config: Config
    store: Store

    def policy(self, account: AccountConfig) -> Policy:
        p = self.config.policy
        return Policy(
            playbook=p.base_playbook(),
            rules=p.rules,
            calendar=calendar_for(self.config),
            identity=Identity(
                own=frozenset({account.address, *account.aliases}),
                internal_domains=p.internal_domains,
                ignore=p.ignore,
            ),
            on_draft_deleted=p.on_draft_deleted,
            owner=account.address,
            backup=account.backup,
            locale=account.locale,
            locales=available_locales(self.config.daemon.templates_dir),
            max_recipients=p.max_recipients,
            stale_draft=p.stale_draft,
        )

    def accounts(self, only: str | None = None) -> list[AccountConfig]:
        if only is None:
            return list(self.config.accounts)
        if only not in self.config.account_names():
            known = ", ".join(self.config.account_names()) or "none"
            raise UsageError(f"no account named {only!r}; the config has: {known}")
        return [self.config.account(only)]


def calendar_for(config: Config) -> BusinessCalendar:
    p = config.policy
    return BusinessCalendar(p.timezone, p.holidays, p.working_hours)


def open_app(config: Config) -> App:
    return App(config=config, store=Store(config.daemon.database))


@contextlib.contextmanager
def mailbox(account: AccountConfig) -> Iterator[MailSource]:
    source = connectors.mail_connector(account.mail.type).open_mailbox(account.mail.settings)
    source.open()
    try:
        yield source
    finally:
        source.close()
