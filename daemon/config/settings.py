"""The configuration: read once at start into frozen dataclasses (SPEC §7).

Nothing else in the daemon reads the TOML file; everything gets a `Config`.
Every problem is collected before failing, each naming its key path, the bad
value and the fix, so a user fixes the file in one go instead of one error per
restart. The TOML key names are derived from the dataclass fields below (see
`config_keys`), so the loader, the unknown-key check and the test that
`config.example.toml` documents every key cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import tomllib
import typing
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import connectors
from daemon.config.schema import (
    BAD,
    MISSING,
    ConfigError,
    Invalid,
    ListOf,
    Problem,
    Reader,
    build_settings,
    describe,
    freeze,
    join,
    nonempty_str,
    one_of,
    settings_keys,
    suggest,
    to_int,
    to_str,
)
from daemon.tracker.policy import (
    DETAIL_KEYS,
    DETAIL_MAX_LENGTH,
    Duration,
    Playbook,
    Rule,
    RuleMatch,
    Unit,
    clean_detail,
    holiday_countries,
    holiday_subdivisions,
    parse_duration,
)

__all__ = [
    "AccountConfig",
    "Config",
    "ConfigError",
    "ConnectorConfig",
    "DaemonConfig",
    "PolicyConfig",
    "Problem",
    "config_keys",
    "default_config_path",
    "example_config_text",
    "load_config",
    "parse_config",
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


def _expand_database(url: str) -> str:
    """Expand `~` in a sqlite path; other URLs are kept exactly."""
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite" and rest.startswith("/~"):
        path, sep, query = rest[1:].partition("?")
        return "sqlite:///" + os.path.expanduser(path) + sep + query
    return url


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    database: str = field(default_factory=lambda: _expand_database(DEFAULT_DATABASE))
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


# --- public entry points -------------------------------------------------------------


def default_config_path() -> Path:
    env = os.environ.get("GHOSTWATCH_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".config" / "ghostwatch" / "config.toml"


def load_config(path: str | Path) -> Config:
    """Read and validate the file; ConfigError lists every problem found."""
    path = Path(path).expanduser()
    source = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [Problem("", str(path), f"no config file at {path}; `ghostwatch init` writes one")],
            source,
        ) from None
    except OSError as exc:
        raise ConfigError(
            [Problem("", str(path), f"cannot read {path}: {exc.strerror}")], source
        ) from None
    except UnicodeDecodeError as exc:
        message = f"{path} is not UTF-8 (byte {exc.start}); save it as UTF-8"
        raise ConfigError([Problem("", str(path), message)], source) from None
    return parse_config(_parse_toml(text, source), source, base_dir=path.parent)


def parse_config(data: Mapping[str, Any], source: str, *, base_dir: Path | None = None) -> Config:
    """Validate already-parsed TOML. Relative `templates_dir` resolves
    against `base_dir` (the config file's folder), else the working directory."""
    reader = Reader()
    reader.unknown_keys(data, _keys(Config), "")
    daemon = _read_daemon(reader, data.get("daemon", {}), base_dir)
    templates_dir = daemon.templates_dir if isinstance(daemon.templates_dir, str) else None
    locales = available_locales(templates_dir)
    policy = _read_policy(reader, data.get("policy", {}), locales)
    accounts = _read_accounts(reader, data.get("accounts", MISSING), locales)
    if reader.problems:
        raise ConfigError(reader.problems, source)
    return Config(daemon=daemon, policy=policy, accounts=accounts, source=source)


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


def _keys(cls: type) -> list[str]:
    return [
        TOML_NAMES.get(f.name, f.name)
        for f in dataclasses.fields(cls)
        if f"{cls.__name__}.{f.name}" not in NOT_KEYS
    ]


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no lineno; the position is in the text.
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        reason = re.sub(r"\s*\(at .*?\)", "", str(exc))
        if found:
            line, column = int(found[1]), int(found[2])
        else:  # "(at end of document)": point at the end, an unclosed [ or {
            line = text.count("\n") + 1
            column = len(text.rsplit("\n", 1)[-1]) + 1
        where = f"line {line}, column {column}"
        raise ConfigError(
            [Problem("", None, f"{source}: invalid TOML at {where}: {reason}")], source
        ) from None


# --- [daemon] ------------------------------------------------------------------------


def _read_daemon(r: Reader, raw: object, base_dir: Path | None) -> DaemonConfig:
    t = r.table(raw, "daemon", hint="; write it as a [daemon] section")
    r.unknown_keys(t, _keys(DaemonConfig), "daemon")
    defaults = DaemonConfig()
    return DaemonConfig(
        database=r.field(t, "database", "daemon", _database_url, defaults.database),
        poll_interval=r.field(
            t, "poll_interval", "daemon", _clock_duration, defaults.poll_interval
        ),
        lookback=r.field(t, "lookback", "daemon", _clock_duration, defaults.lookback),
        templates_dir=r.field(t, "templates_dir", "daemon", _directory(base_dir), None),
        log_level=r.field(t, "log_level", "daemon", one_of(LOG_LEVELS), defaults.log_level),
    )


def _mask_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def _database_url(value: object) -> str:
    url = nonempty_str(value)
    scheme, sep, rest = url.partition("://")
    if scheme == "sqlite" and sep:
        return _expand_database(url)
    if scheme == "postgresql+psycopg" and rest:
        return url
    # The URL may carry a password; never echo it into a terminal or a log.
    shown = repr(_mask_password(url))
    if scheme in ("postgresql", "postgres", "postgresql+psycopg2"):
        fixed = _mask_password(f"postgresql+psycopg://{rest}")
        raise Invalid(
            f"{shown} names another driver; ghostwatch uses psycopg 3: {fixed}",
            shown=_mask_password(url),
        )
    raise Invalid(
        f"{shown} is not a database URL ghostwatch supports; use "
        "sqlite:///~/path/to/ghostwatch.db or postgresql+psycopg://user@host/dbname",
        shown=_mask_password(url),
    )


def _duration(value: object) -> Duration:
    if isinstance(value, int) and not isinstance(value, bool):
        raise Invalid(f'{value} has no unit; write it in quotes with one, e.g. "{value}bd"')
    try:
        return parse_duration(to_str(value))
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def _step(value: object) -> Duration:
    step = _duration(value)
    if step.amount <= 0:
        raise Invalid(f'{describe(value)} is no wait at all; a step needs at least 1, e.g. "1bd"')
    return step


_CLOCK_UNITS = {Unit.DAYS: "days", Unit.HOURS: "hours", Unit.MINUTES: "minutes"}


def _clock_duration(value: object) -> timedelta:
    step = _step(value)
    if step.unit is Unit.BUSINESS_DAYS:
        raise Invalid(
            f"{describe(value)}: business days only apply to follow-ups; "
            f'use d, h or m here, e.g. "{step.amount}d"'
        )
    return timedelta(**{_CLOCK_UNITS[step.unit]: step.amount})


def _directory(base_dir: Path | None) -> Any:
    def conv(value: object) -> str:
        path = Path(nonempty_str(value)).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        if not path.is_dir():
            raise Invalid(f"{describe(value)} is not a directory ({path} does not exist)")
        return str(path)

    return conv


# --- [policy] ------------------------------------------------------------------------


def _read_policy(r: Reader, raw: object, locales: tuple[str, ...]) -> PolicyConfig:
    p = "policy"
    t = r.table(raw, p, hint="; write it as a [policy] section")
    r.unknown_keys(t, _keys(PolicyConfig), p)
    d = PolicyConfig()
    return PolicyConfig(
        timezone=r.field(t, "timezone", p, _timezone, d.timezone),
        holidays=r.field(t, "holidays", p, _holidays, d.holidays),
        working_hours=r.field(t, "working_hours", p, _working_hours, d.working_hours),
        steps=r.field(t, "steps", p, ListOf(_step, allow_empty=False), d.steps),
        close_after=r.field(t, "close_after", p, _duration, d.close_after),
        min_gap=r.field(t, "min_gap", p, _duration, d.min_gap),
        ooo_default=r.field(t, "ooo_default", p, _duration, d.ooo_default),
        on_draft_deleted=r.field(t, "on_draft_deleted", p, one_of(("skip", "stop")), "skip"),
        max_drafts_per_cycle=r.field(t, "max_drafts_per_cycle", p, _positive_int, 25),
        max_recipients=r.field(t, "max_recipients", p, _positive_int, d.max_recipients),
        stale_draft=r.field(t, "stale_draft", p, _duration, d.stale_draft),
        internal_domains=r.field(t, "internal_domains", p, ListOf(_domain), ()),
        ignore=r.field(t, "ignore", p, ListOf(_pattern), ()),
        rules=_read_rules(r, t.get("rules", []), join(p, "rules"), locales),
    )


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _timezone(value: object) -> str:
    name = nonempty_str(value)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        close = suggest(name, _timezones())
        hint = (
            close if close.startswith("did you mean") else 'use an IANA name like "Asia/Shanghai"'
        )
        raise Invalid(f"{describe(value)} is not a known time zone; {hint}") from None
    return name


def _holidays(value: object) -> str:
    """ "CN", "none", or a country with a subdivision such as "US-CA"."""
    code = nonempty_str(value)
    if code.lower() == "none":
        return "none"
    country, _, subdiv = code.upper().partition("-")
    known = holiday_countries()
    if country in known and (not subdiv or subdiv in holiday_subdivisions(country)):
        return f"{country}-{subdiv}" if subdiv else country
    if country in known:
        raise Invalid(
            f"{describe(value)}: {country} has no subdivision {subdiv!r}; "
            f"{suggest(subdiv, holiday_subdivisions(country))}"
        )
    close = suggest(country, known)
    hint = f"; {close}" if close.startswith("did you mean") else ""
    raise Invalid(
        f"{describe(value)} is not a country code the holidays package knows{hint}; "
        'use e.g. "CN", "HK", "SG", "US-CA", or "none" for weekends only'
    )


_HOURS = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def _working_hours(value: object) -> tuple[time, time]:
    text = to_str(value).strip()
    found = _HOURS.fullmatch(text)
    fix = 'write "HH:MM-HH:MM", e.g. "09:00-18:00"'
    if not found:
        raise Invalid(f"{describe(value)} is not a range of hours; {fix}")
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise Invalid(f"{describe(value)} is not a valid time of day; {fix} (23:59 at the latest)")
    start, end = time(h1, m1), time(h2, m2)
    if start >= end:
        raise Invalid(f"{describe(value)} ends before it starts; the start must come first")
    return (start, end)


def _positive_int(value: object) -> int:
    number = to_int("number", 25)(value)
    if number < 1:
        raise Invalid(f"{describe(value)} is less than 1; use at least 1")
    return number


_DOMAIN = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?")


def _domain(value: object) -> str:
    domain = nonempty_str(value).lower().removeprefix("@")
    if not _DOMAIN.fullmatch(domain):
        raise Invalid(f'{describe(value)} is not a mail domain; write e.g. "example.com"')
    return domain


def _pattern(value: object) -> str:
    return nonempty_str(value).lower()


# --- [[policy.rules]] ----------------------------------------------------------------


def _read_rules(r: Reader, raw: object, path: str, locales: tuple[str, ...]) -> tuple[Rule, ...]:
    if not isinstance(raw, list):
        r.problem(
            path, raw, f"{describe(raw)} is not a list of rules; write each as [[policy.rules]]"
        )
        return ()
    return tuple(_read_rule(r, item, f"{path}[{i}]", locales) for i, item in enumerate(raw))


def _read_rule(r: Reader, raw: object, path: str, locales: tuple[str, ...]) -> Rule:
    t = r.table(raw, path)
    r.unknown_keys(t, _keys(Rule), path)
    if "when" not in t:
        r.problem(
            join(path, "when"),
            None,
            'a rule needs `when`, e.g. when = { role = "exec" }; '
            "defaults for every thread belong in [policy]",
        )
    set_table = r.table(
        t.get("set", {}), join(path, "set"), hint='; write e.g. set = { stage = "offer" }'
    )
    rule = Rule(
        when=_read_when(r, t.get("when", MISSING), join(path, "when")),
        steps=r.field(t, "steps", path, ListOf(_step, allow_empty=False), None),
        close_after=r.field(t, "close_after", path, _duration, None),
        min_gap=r.field(t, "min_gap", path, _duration, None),
        set_tags=_read_set(r, set_table, join(path, "set")),
        salary_report=r.field(t, "salary_report", path, _report, None),
        set_title=r.field(set_table, "title", join(path, "set"), _detail, None),
        set_company=r.field(set_table, "company", join(path, "set"), _detail, None),
        set_locale=r.field(set_table, "locale", join(path, "set"), _locale(locales), None),
    )
    effects = ("steps", "close_after", "min_gap", "set", "salary_report")
    # A subject that captures the title or company is an effect of its own (a
    # misnamed group is reported on when.subject, not as "changes nothing").
    raw_when = t.get("when")
    raw_subject = raw_when.get("subject") if isinstance(raw_when, dict) else None
    captures = isinstance(raw_subject, str) and bool(_named_groups(raw_subject))
    if not captures and not any(k in t for k in effects):
        r.problem(
            path,
            None,
            f"the rule changes nothing; give at least one of {', '.join(effects)}, "
            "or capture (?P<title>...) / (?P<company>...) in when.subject",
        )
    return rule


def _read_when(r: Reader, raw: object, path: str) -> RuleMatch:
    if raw is MISSING:  # reported by the caller, which knows the rule as a whole
        return RuleMatch()
    t = r.table(raw, path, hint='; write e.g. when = { role = "exec" }')
    r.unknown_keys(t, _keys(RuleMatch), path)
    if isinstance(raw, dict) and not raw:
        r.problem(
            path, raw, f"`when` is empty; match on at least one of {', '.join(_keys(RuleMatch))}"
        )
    return RuleMatch(
        role=r.field(t, "role", path, _tag_value, None),
        stage=r.field(t, "stage", path, _tag_value, None),
        kind=r.field(t, "kind", path, one_of(CONTACT_KINDS), None),
        source=r.field(t, "source", path, _tag_value, None),
        subject=r.field(t, "subject", path, _regex, None),
    )


def _read_set(r: Reader, t: dict[str, Any], path: str) -> tuple[tuple[str, str], ...]:
    """The tags a rule sets; title and company in the same table are read by the caller."""
    r.unknown_keys(t, (*TAG_KEYS, *DETAIL_KEYS, "locale"), path)
    pairs = []
    for key in TAG_KEYS:
        if key in t:
            conv = one_of(CONTACT_KINDS) if key == "kind" else _tag_value
            pairs.append((key, r.value(t[key], join(path, key), conv)))
    return tuple(pairs)


_TAG_VALUE = re.compile(r"[\w.+-]+")


def _tag_value(value: object) -> str:
    text = nonempty_str(value).lower()
    if not _TAG_VALUE.fullmatch(text):
        # Tags travel as IMAP keywords (gw:stage:offer), which cannot hold spaces.
        fixed = re.sub(r"[^\w.+-]+", "-", text).strip("-") or "offer"
        raise Invalid(
            f"{describe(value)} cannot be a tag; use letters, digits, '-', '_' or '.', "
            f'e.g. "{fixed}"'
        )
    return text


def _regex(value: object) -> str:
    pattern = nonempty_str(value)
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise Invalid(
            f"{describe(value)} is not a valid regular expression: {exc.msg} at position {exc.pos}"
        ) from None
    unused = [name for name in compiled.groupindex if name not in DETAIL_KEYS]
    if unused:
        # A misspelt (?P<titel>...) would otherwise capture nothing, silently.
        name = unused[0]
        close = suggest(name, DETAIL_KEYS)
        hint = f" ({close})" if close.startswith("did you mean") else ""
        raise Invalid(
            f"{describe(value)} has a named group (?P<{name}>...) that nothing reads{hint}; "
            "only (?P<title>...) and (?P<company>...) fill in the job, "
            "other groups must be unnamed: (...) or (?:...)"
        )
    return pattern


def _named_groups(pattern: str) -> tuple[str, ...]:
    try:
        return tuple(re.compile(pattern).groupindex)
    except re.error:
        return ()


def _detail(value: object) -> str:
    text = to_str(value)
    cleaned = clean_detail(text)
    if cleaned is None:
        raise Invalid("an empty value is not allowed here; write the text, or leave the key out")
    if len(" ".join(text.split())) > DETAIL_MAX_LENGTH:
        raise Invalid(
            f"{describe(value)} is longer than {DETAIL_MAX_LENGTH} characters; shorten it "
            "(drafts print it in a sentence)"
        )
    return cleaned


def _report(value: object) -> str:
    text = nonempty_str(value)
    return text if "://" in text else os.path.expanduser(text)


# --- [[accounts]] --------------------------------------------------------------------


def _read_accounts(r: Reader, raw: object, locales: tuple[str, ...]) -> tuple[AccountConfig, ...]:
    if raw is MISSING or raw == []:
        r.problem("accounts", None, "no account is configured; add an [[accounts]] section")
        return ()
    if not isinstance(raw, list):
        r.problem(
            "accounts", raw, "write each account as [[accounts]] (double brackets), not [accounts]"
        )
        return ()
    accounts = tuple(
        _read_account(r, item, f"accounts[{i}]", locales) for i, item in enumerate(raw)
    )
    _check_across_accounts(r, accounts)
    return accounts


def available_locales(templates_dir: str | None) -> tuple[str, ...]:
    """The locales with templates: the shipped ones, then templates_dir's folders."""
    extra: list[str] = []
    if templates_dir:
        extra = sorted(p.name for p in Path(templates_dir).iterdir() if p.is_dir())
    return tuple(dict.fromkeys([*SHIPPED_LOCALES, *extra]))


_ACCOUNT_NAME = re.compile(r"\w[\w.-]*")


def _account_name(value: object) -> str:
    name = nonempty_str(value)
    if not _ACCOUNT_NAME.fullmatch(name):
        # The name is typed on the command line and becomes a systemd instance name.
        raise Invalid(
            f"{describe(value)} is not a usable name; use letters, digits, '-', '_' or '.'"
        )
    return name


_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _address(value: object) -> str:
    address = nonempty_str(value).lower()
    if not _ADDRESS.fullmatch(address):
        raise Invalid(f'{describe(value)} is not a mail address; write e.g. "li.lei@example.com"')
    return address


def _read_account(r: Reader, raw: object, path: str, locales: tuple[str, ...]) -> AccountConfig:
    t = r.table(raw, path)
    r.unknown_keys(t, _keys(AccountConfig), path)
    return AccountConfig(
        name=r.field(t, "name", path, _account_name, example='"work"'),
        address=r.field(t, "address", path, _address, example='"li.lei@example.com"'),
        display_name=r.field(t, "display_name", path, to_str, ""),
        locale=r.field(t, "locale", path, _locale(locales), "zh-CN"),
        backup=r.field(t, "backup", path, nonempty_str, None),
        aliases=r.field(t, "aliases", path, ListOf(_address), ()),
        mail=_read_mail(r, t.get("mail", MISSING), join(path, "mail")),
        calendar=_read_calendar(r, t.get("calendar", MISSING), join(path, "calendar")),
    )


def _locale(locales: tuple[str, ...]) -> Any:
    def conv(value: object) -> str:
        text = nonempty_str(value)
        for locale in locales:
            if locale.lower() == text.lower().replace("_", "-"):
                return locale
        raise Invalid(
            f"{describe(value)} has no templates; available: {', '.join(locales)} "
            "(add templates_dir/<locale>/ for another language)"
        )

    return conv


def _check_across_accounts(r: Reader, accounts: tuple[AccountConfig, ...]) -> None:
    names = _first_index(r, [a.name for a in accounts], "name", "names must be unique")
    _first_index(
        r, [a.address for a in accounts], "address", "give each mailbox exactly one account"
    )
    for i, account in enumerate(accounts):
        backup = account.backup
        if not isinstance(backup, str):
            continue
        if backup == account.name:
            r.problem(f"accounts[{i}].backup", backup, "an account cannot be its own backup")
        elif backup not in names:
            r.problem(
                f"accounts[{i}].backup",
                backup,
                f"{backup!r} is not the name of an account; {suggest(backup, names)}",
            )


def _first_index(r: Reader, values: list[object], key: str, fix: str) -> dict[str, int]:
    """Where each value first occurs; a repeat is reported at its own index."""
    first: dict[str, int] = {}
    for i, value in enumerate(values):
        if not isinstance(value, str):  # already reported as bad or missing
            continue
        if value in first:
            r.problem(
                f"accounts[{i}].{key}", value, f"{value!r} is also accounts[{first[value]}]; {fix}"
            )
        first.setdefault(value, i)
    return first


def _read_mail(r: Reader, raw: object, path: str) -> ConnectorConfig:
    if raw is MISSING:
        r.problem(path, None, f'no mailbox; add an [{_section(path)}] table with type = "imap"')
        return BAD
    t = r.table(raw, path, hint=f"; write it as an [{_section(path)}] table")
    known = sorted({*connectors.MAIL_CONNECTORS, *PLANNED_MAIL_TYPES})
    kind = r.field(t, "type", path, one_of(known), example='"imap"')
    if kind is BAD:
        return BAD
    if kind not in connectors.MAIL_CONNECTORS:
        r.problem(
            join(path, "type"),
            kind,
            f"{kind!r} is not available in this version yet; use one of "
            f"{', '.join(sorted(connectors.MAIL_CONNECTORS))}",
        )
        return BAD
    return _registered(r, kind, connectors.MAIL_CONNECTORS, t, path)


def _read_calendar(r: Reader, raw: object, path: str) -> ConnectorConfig | None:
    if raw is MISSING:
        return None
    t = r.table(raw, path, hint=f"; write it as an [{_section(path)}] table")
    kind = r.field(t, "type", path, one_of(CALENDAR_TYPES), example='"caldav"')
    if kind is BAD:
        return BAD
    if kind == "none":
        r.unknown_keys(t, ["type"], path)
        return None
    if kind in connectors.CALENDAR_CONNECTORS:
        return _registered(r, kind, connectors.CALENDAR_CONNECTORS, t, path)
    if "password" in t:
        r.unknown_keys({"password": t["password"]}, [], path, secrets=["password"])
    return ConnectorConfig(kind, freeze({k: v for k, v in t.items() if k != "type"}))


def _registered(
    r: Reader, kind: str, registry: dict[str, str], t: dict[str, Any], path: str
) -> ConnectorConfig:
    try:
        cls = connectors.declared(kind, registry).settings
    except ImportError as exc:
        r.problem(join(path, "type"), kind, f"the {kind} connector cannot be loaded: {exc}")
        return BAD
    except TypeError as exc:
        r.problem(join(path, "type"), kind, str(exc))
        return BAD
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        r.problem(join(path, "type"), kind, f"the {kind} connector's settings are no dataclass")
        return BAD
    settings = build_settings(r, cls, t, path, ignore=("type",))
    return ConnectorConfig(kind, settings)


def _section(path: str) -> str:
    return re.sub(r"\[\d+\]", "", path)
