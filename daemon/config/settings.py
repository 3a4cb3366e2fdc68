"""The configuration's shape: frozen dataclasses read once at start (SPEC §7).

Nothing else in the daemon reads the TOML file; everything gets a `Config`
(`daemon.config.loader` builds it, `daemon.config.values` checks each value).
The TOML key names are derived from the dataclass fields below (see
`config_keys`), so the loader, the unknown-key check and the test that
`config.example.toml` documents every key cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import time, timedelta
from importlib import resources
from pathlib import Path
from typing import Literal

from daemon.config.connector_settings import settings_keys
from daemon.config.schema import join, suggest
from daemon.tracker.policy import Duration, Playbook, Rule, RuleMatch, Unit

__all__ = [
    "AccountConfig",
    "Config",
    "ConnectorConfig",
    "DaemonConfig",
    "PolicyConfig",
    "config_keys",
    "default_config_path",
    "example_config_text",
]

DEFAULT_DATABASE = "sqlite:///~/.local/state/ghostwatch/ghostwatch.db"
SHIPPED_LOCALES = ("zh-CN", "en")
CALENDAR_TYPES = ("caldav", "google", "graph", "vdir", "none")
# Named by SPEC §7 but not registered in connectors.MAIL_CONNECTORS yet.
PLANNED_MAIL_TYPES = ("gmail", "graph")
LOG_LEVELS = ("debug", "info", "warning", "error")
TAG_KEYS = ("role", "stage", "kind", "source")
CONTACT_KINDS = ("candidate", "client")

# Where a TOML key differs from the field name, and fields that are no key
# (set_title / set_company are read from inside `set`).
TOML_NAMES = {"set_tags": "set"}
NOT_KEYS = frozenset({"Config.source", "Rule.set_title", "Rule.set_company", "Rule.set_locale"})


def expand_database(url: str) -> str:
    """Expand `~` in a sqlite path; other URLs are kept exactly."""
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite" and rest.startswith("/~"):
        path, sep, query = rest[1:].partition("?")
        return "sqlite:///" + os.path.expanduser(path) + sep + query
    return url


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    database: str = field(default_factory=lambda: expand_database(DEFAULT_DATABASE))
    poll_interval: timedelta = timedelta(minutes=2)
    lookback: timedelta = timedelta(days=90)
    templates_dir: str | None = None  # absolute; user templates override shipped ones
    log_level: Literal["debug", "info", "warning", "error"] = "info"


_BD1, _BD2, _BD3, _BD5, _BD6 = (Duration(n, Unit.BUSINESS_DAYS) for n in (1, 2, 3, 5, 6))


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    timezone: str = "Asia/Shanghai"
    holidays: str = "CN"  # a country code known to the `holidays` package, or "none"
    working_hours: tuple[time, time] = (time(9, 0), time(18, 0))
    steps: tuple[Duration, ...] = (_BD1, _BD3, _BD6)
    close_after: Duration = _BD3
    min_gap: Duration = _BD1
    ooo_default: Duration = _BD5
    on_draft_deleted: Literal["skip", "stop"] = "skip"
    max_drafts_per_cycle: int = 25
    # An outreach to more external people than this is a mass mailing: not followed.
    max_recipients: int = 10
    stale_draft: Duration = _BD2  # a ghostwatch draft unsent this long: yellow; twice: red
    internal_domains: tuple[str, ...] = ()  # lower-cased, without "@"
    ignore: tuple[str, ...] = ()  # fnmatch patterns over lower-cased addresses
    rules: tuple[Rule, ...] = ()

    def base_playbook(self) -> Playbook:
        """The cadence before any rule applies."""
        return Playbook(
            steps=self.steps,
            close_after=self.close_after,
            min_gap=self.min_gap,
            ooo_default=self.ooo_default,
        )


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """`settings` is the connector module's `Settings` instance; for a calendar
    type whose connector is not registered yet, the raw table as a read-only
    mapping (the daemon's `check` reports it as unavailable)."""

    type: str
    settings: object


@dataclass(frozen=True, slots=True)
class AccountConfig:
    name: str
    address: str  # lower-cased
    mail: ConnectorConfig
    display_name: str = ""
    locale: str = "zh-CN"
    backup: str | None = None  # name of the account that covers while this one is away
    aliases: tuple[str, ...] = ()  # the consultant's other addresses, lower-cased
    calendar: ConnectorConfig | None = None


@dataclass(frozen=True, slots=True)
class Config:
    daemon: DaemonConfig
    policy: PolicyConfig
    accounts: tuple[AccountConfig, ...]
    source: str = "<memory>"

    def account(self, name: str) -> AccountConfig:
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(f"no account named {name!r}; {suggest(name, self.account_names())}")

    def account_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.accounts)


def default_config_path() -> Path:
    env = os.environ.get("GHOSTWATCH_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".config" / "ghostwatch" / "config.toml"


def example_config_text() -> str:
    """The commented starter config, from the installed package (for `init`)."""
    return (resources.files("daemon") / "data" / "config.example.toml").read_text(encoding="utf-8")


def config_keys(mail_settings: type | None = None) -> list[str]:
    """Every dotted key the loader reads, e.g. 'policy.rules.when.subject'.

    Connector keys are listed for `mail_settings` (a connector's Settings
    class) when given; array-of-table indexes are left out.
    """
    return list(_walk_keys(Config, "", mail_settings))


def _walk_keys(cls: type, prefix: str, mail_settings: type | None) -> Iterator[str]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f"{cls.__name__}.{f.name}" in NOT_KEYS:
            continue
        key = join(prefix, TOML_NAMES.get(f.name, f.name))
        inner = _inner_type(hints[f.name])
        if inner is ConnectorConfig:
            yield join(key, "type")
            if f.name == "mail" and mail_settings is not None:
                yield from (join(key, k) for k in settings_keys(mail_settings))
        elif inner in _SECTIONS:
            yield from _walk_keys(typing.cast(type, inner), key, mail_settings)
        else:
            yield key


# Dataclasses that are TOML tables; others (Duration, time) are single values.
_SECTIONS = (DaemonConfig, PolicyConfig, AccountConfig, Rule, RuleMatch)


def _inner_type(tp: object) -> object:
    """X from `X | None` and `tuple[X, ...]`."""
    args = [a for a in typing.get_args(tp) if a is not type(None) and a is not Ellipsis]
    return _inner_type(args[0]) if len(args) == 1 else tp


def toml_keys(cls: type) -> list[str]:
    return [
        TOML_NAMES.get(f.name, f.name)
        for f in dataclasses.fields(cls)
        if f"{cls.__name__}.{f.name}" not in NOT_KEYS
    ]
