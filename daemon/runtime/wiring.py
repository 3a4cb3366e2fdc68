"""Wiring: config -> store, connectors and per-account policy. No decisions here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import connectors
from connectors.base import MailSource
from daemon.config.identity import Identity
from daemon.config.loader import available_locales
from daemon.config.settings import AccountConfig, Config
from daemon.db.engine import Store
from daemon.errors import UsageError
from daemon.tracker.business_calendar import BusinessCalendar

if TYPE_CHECKING:
    from daemon.decide.replay import Policy


@dataclass(frozen=True, slots=True)
class App:
    config: Config
    store: Store

    def identity(self, account: AccountConfig) -> Identity:
        p = self.config.policy
        return Identity(
            own=frozenset({account.address, *account.aliases}),
            internal_domains=p.internal_domains,
            ignore=p.ignore,
        )

    def policy(self, account: AccountConfig) -> Policy:
        # Imported here: `sync` needs only the identity, not the tracker behind Policy.
        from daemon.decide.replay import Policy
        from daemon.decide.status_row import policy_fingerprint

        p = self.config.policy
        return Policy(
            playbook=p.base_playbook(),
            rules=p.rules,
            calendar=calendar_for(self.config),
            identity=self.identity(account),
            on_draft_deleted=p.on_draft_deleted,
            owner=account.address,
            backup=account.backup,
            locale=account.locale,
            locales=available_locales(self.config.daemon.templates_dir),
            max_recipients=p.max_recipients,
            stale_draft=p.stale_draft,
            fingerprint=policy_fingerprint(self.config, account),
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
