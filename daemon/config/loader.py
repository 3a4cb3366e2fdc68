"""The config loader: TOML text to a validated `Config` (SPEC §7).

Every problem is collected before failing, each naming its key path, the bad
value and the fix, so a user fixes the file in one go instead of one error per
restart. One reader per section ([daemon], [policy], [[policy.rules]],
[[accounts]] and their connectors); the values are checked by
`daemon.config.values`.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import connectors
from daemon.config.connector_settings import build_settings
from daemon.config.schema import (
    BAD,
    MISSING,
    ConfigError,
    ListOf,
    Problem,
    Reader,
    describe,
    freeze,
    join,
    nonempty_str,
    one_of,
    suggest,
    to_str,
)
from daemon.config.settings import (
    CALENDAR_TYPES,
    CONTACT_KINDS,
    LOG_LEVELS,
    PLANNED_MAIL_TYPES,
    SHIPPED_LOCALES,
    TAG_KEYS,
    AccountConfig,
    Config,
    ConnectorConfig,
    DaemonConfig,
    PolicyConfig,
    toml_keys,
)
from daemon.config.values import (
    account_name,
    address,
    address_pattern,
    clock_duration,
    database_url,
    detail,
    directory,
    domain,
    duration,
    holidays,
    locale_of,
    named_groups,
    positive_int,
    report_path,
    step,
    subject_regex,
    tag_value,
    timezone,
    working_hours,
)
from daemon.tracker.policy import DETAIL_KEYS, Rule, RuleMatch

__all__ = ["available_locales", "load_config", "parse_config"]


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
    reader.unknown_keys(data, toml_keys(Config), "")
    daemon = _read_daemon(reader, data.get("daemon", {}), base_dir)
    templates_dir = daemon.templates_dir if isinstance(daemon.templates_dir, str) else None
    locales = available_locales(templates_dir)
    policy = _read_policy(reader, data.get("policy", {}), locales)
    accounts = _read_accounts(reader, data.get("accounts", MISSING), locales)
    if reader.problems:
        raise ConfigError(reader.problems, source)
    return Config(daemon=daemon, policy=policy, accounts=accounts, source=source)


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
    r.unknown_keys(t, toml_keys(DaemonConfig), "daemon")
    defaults = DaemonConfig()
    return DaemonConfig(
        database=r.field(t, "database", "daemon", database_url, defaults.database),
        poll_interval=r.field(t, "poll_interval", "daemon", clock_duration, defaults.poll_interval),
        lookback=r.field(t, "lookback", "daemon", clock_duration, defaults.lookback),
        templates_dir=r.field(t, "templates_dir", "daemon", directory(base_dir), None),
        log_level=r.field(t, "log_level", "daemon", one_of(LOG_LEVELS), defaults.log_level),
    )


# --- [policy] ------------------------------------------------------------------------


def _read_policy(r: Reader, raw: object, locales: tuple[str, ...]) -> PolicyConfig:
    p = "policy"
    t = r.table(raw, p, hint="; write it as a [policy] section")
    r.unknown_keys(t, toml_keys(PolicyConfig), p)
    d = PolicyConfig()
    return PolicyConfig(
        timezone=r.field(t, "timezone", p, timezone, d.timezone),
        holidays=r.field(t, "holidays", p, holidays, d.holidays),
        working_hours=r.field(t, "working_hours", p, working_hours, d.working_hours),
        steps=r.field(t, "steps", p, ListOf(step, allow_empty=False), d.steps),
        close_after=r.field(t, "close_after", p, duration, d.close_after),
        min_gap=r.field(t, "min_gap", p, duration, d.min_gap),
        ooo_default=r.field(t, "ooo_default", p, duration, d.ooo_default),
        on_draft_deleted=r.field(t, "on_draft_deleted", p, one_of(("skip", "stop")), "skip"),
        max_drafts_per_cycle=r.field(t, "max_drafts_per_cycle", p, positive_int, 25),
        max_recipients=r.field(t, "max_recipients", p, positive_int, d.max_recipients),
        stale_draft=r.field(t, "stale_draft", p, duration, d.stale_draft),
        internal_domains=r.field(t, "internal_domains", p, ListOf(domain), ()),
        ignore=r.field(t, "ignore", p, ListOf(address_pattern), ()),
        rules=_read_rules(r, t.get("rules", []), join(p, "rules"), locales),
    )


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
    r.unknown_keys(t, toml_keys(Rule), path)
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
        steps=r.field(t, "steps", path, ListOf(step, allow_empty=False), None),
        close_after=r.field(t, "close_after", path, duration, None),
        min_gap=r.field(t, "min_gap", path, duration, None),
        set_tags=_read_set(r, set_table, join(path, "set")),
        salary_report=r.field(t, "salary_report", path, report_path, None),
        set_title=r.field(set_table, "title", join(path, "set"), detail, None),
        set_company=r.field(set_table, "company", join(path, "set"), detail, None),
        set_locale=r.field(set_table, "locale", join(path, "set"), locale_of(locales), None),
    )
    _check_rule_does_something(r, t, path)
    return rule


def _check_rule_does_something(r: Reader, t: dict[str, Any], path: str) -> None:
    effects = ("steps", "close_after", "min_gap", "set", "salary_report")
    # A subject that captures the title or company is an effect of its own (a
    # misnamed group is reported on when.subject, not as "changes nothing").
    raw_when = t.get("when")
    raw_subject = raw_when.get("subject") if isinstance(raw_when, dict) else None
    captures = isinstance(raw_subject, str) and bool(named_groups(raw_subject))
    if not captures and not any(k in t for k in effects):
        r.problem(
            path,
            None,
            f"the rule changes nothing; give at least one of {', '.join(effects)}, "
            "or capture (?P<title>...) / (?P<company>...) in when.subject",
        )


def _read_when(r: Reader, raw: object, path: str) -> RuleMatch:
    if raw is MISSING:  # reported by the caller, which knows the rule as a whole
        return RuleMatch()
    t = r.table(raw, path, hint='; write e.g. when = { role = "exec" }')
    r.unknown_keys(t, toml_keys(RuleMatch), path)
    if isinstance(raw, dict) and not raw:
        r.problem(
            path,
            raw,
            f"`when` is empty; match on at least one of {', '.join(toml_keys(RuleMatch))}",
        )
    return RuleMatch(
        role=r.field(t, "role", path, tag_value, None),
        stage=r.field(t, "stage", path, tag_value, None),
        kind=r.field(t, "kind", path, one_of(CONTACT_KINDS), None),
        source=r.field(t, "source", path, tag_value, None),
        subject=r.field(t, "subject", path, subject_regex, None),
    )


def _read_set(r: Reader, t: dict[str, Any], path: str) -> tuple[tuple[str, str], ...]:
    """The tags a rule sets; title and company in the same table are read by the caller."""
    r.unknown_keys(t, (*TAG_KEYS, *DETAIL_KEYS, "locale"), path)
    pairs = []
    for key in TAG_KEYS:
        if key in t:
            conv = one_of(CONTACT_KINDS) if key == "kind" else tag_value
            pairs.append((key, r.value(t[key], join(path, key), conv)))
    return tuple(pairs)


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


def _read_account(r: Reader, raw: object, path: str, locales: tuple[str, ...]) -> AccountConfig:
    t = r.table(raw, path)
    r.unknown_keys(t, toml_keys(AccountConfig), path)
    return AccountConfig(
        name=r.field(t, "name", path, account_name, example='"work"'),
        address=r.field(t, "address", path, address, example='"li.lei@example.com"'),
        display_name=r.field(t, "display_name", path, to_str, ""),
        locale=r.field(t, "locale", path, locale_of(locales), "zh-CN"),
        backup=r.field(t, "backup", path, nonempty_str, None),
        aliases=r.field(t, "aliases", path, ListOf(address), ()),
        mail=_read_mail(r, t.get("mail", MISSING), join(path, "mail")),
        calendar=_read_calendar(r, t.get("calendar", MISSING), join(path, "calendar")),
    )


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
