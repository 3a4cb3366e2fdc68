"""The config loader: SPEC §7 defaults, every problem at once, connector settings."""

from __future__ import annotations

import dataclasses
import re
import sys
import tomllib
import types
from datetime import time, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest

import connectors
from connectors.base import MailConnector
from connectors.secrets import SecretSource
from daemon.config.loader import load_config, parse_config
from daemon.config.schema import ConfigError, Problem
from daemon.config.settings import (
    AccountConfig,
    Config,
    ConnectorConfig,
    DaemonConfig,
    PolicyConfig,
    config_keys,
    default_config_path,
    example_config_text,
)
from daemon.tracker.policy import Duration, Playbook, Rule, RuleMatch, Unit, parse_duration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config.example.toml"


@dataclasses.dataclass(frozen=True, slots=True)
class FakeSettings:
    """Every field type the generic builder promises to read."""

    host: str
    username: str
    password: SecretSource
    port: int = 993
    security: Literal["tls", "starttls", "plain"] = "tls"
    timeout: float = 30.0
    idle: bool = True
    folders: tuple[str, ...] = ("INBOX",)
    sent_folder: str | None = None
    cache: Path | None = None

    def __post_init__(self) -> None:
        if self.security == "plain" and self.host not in ("127.0.0.1", "::1"):
            raise ValueError('security = "plain" is only allowed to 127.0.0.1 or ::1')


@dataclasses.dataclass(frozen=True, slots=True)
class SpecImapSettings:
    """The IMAP keys SPEC §7 shows; stands in until connectors.imap has Settings."""

    host: str
    username: str
    password: SecretSource | None = None
    port: int = 993
    security: Literal["tls", "starttls", "plain"] = "tls"


def _register(monkeypatch: pytest.MonkeyPatch, kind: str, settings: type) -> None:
    module = types.ModuleType(f"gw_test_{kind}")
    module.Settings = settings  # type: ignore[attr-defined]
    module.CONNECTOR = MailConnector(settings=settings, open_mailbox=settings)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(connectors.MAIL_CONNECTORS, kind, module.__name__)


@pytest.fixture(autouse=True)
def fake_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch, "fake", FakeSettings)


@pytest.fixture
def imap_settings(monkeypatch: pytest.MonkeyPatch) -> type:
    """connectors.imap's real Settings once it exists, else SPEC §7's keys."""
    try:
        return connectors.load("imap", connectors.MAIL_CONNECTORS).Settings
    except (ImportError, AttributeError):
        _register(monkeypatch, "imap", SpecImapSettings)
        return SpecImapSettings


def account(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "work",
        "address": "li.lei@example.com",
        "mail": {
            "type": "fake",
            "host": "imap.example.com",
            "username": "li.lei",
            "password_env": "GW_PASSWORD",
        },
    }
    base.update(overrides)
    return base


def mail(**overrides: Any) -> dict[str, Any]:
    table = dict(account()["mail"])
    table.update(overrides)
    return {k: v for k, v in table.items() if v is not None}


def parse(**sections: Any) -> Config:
    data: dict[str, Any] = {"accounts": [account()]}
    data.update(sections)
    return parse_config(data, "test.toml")


def problems(**sections: Any) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        parse(**sections)
    return caught.value.problems


def paths(**sections: Any) -> list[str]:
    return [p.path for p in problems(**sections)]


# --- the example -------------------------------------------------------------------


def _flatten(table: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else key
        items = value if isinstance(value, list) and value and isinstance(value[0], dict) else None
        if isinstance(value, dict) and key not in ("set",):
            keys |= _flatten(value, path)
        elif items is not None:
            for item in items:
                keys |= _flatten(item, path)
        else:
            keys.add(path)
    return keys


def test_example_loads(imap_settings: type) -> None:
    config = load_config(EXAMPLE)

    work = config.account("work")
    assert isinstance(work.mail.settings, imap_settings)
    assert work.mail.settings.password == SecretSource(command="pass show mail/work")
    assert work.backup == "colleague"
    assert work.calendar is not None and work.calendar.type == "caldav"
    assert config.account("colleague").calendar is None
    subjects = [r.when.subject for r in config.policy.rules if r.when.subject]
    assert "(?i)offer|录用" in subjects
    salary = [r for r in config.policy.rules if r.salary_report]
    assert salary and salary[0].steps == tuple(parse_duration(t) for t in ("72h", "144h", "216h"))


def test_example_documents_every_key(imap_settings: type) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    written = _flatten(tomllib.loads(text))
    # Keys that cannot have a working value in a starter file (templates_dir
    # must exist) or belong to another mail type are shown commented out.
    commented = set(re.findall(r"^#\s*(\w+)\s*=", text, flags=re.MULTILINE))

    missing = [
        key
        for key in config_keys(imap_settings)
        if key not in written and key.rsplit(".", 1)[-1] not in commented
    ]
    assert missing == []
    for kind, module in connectors.MAIL_CONNECTORS.items():
        if module.startswith("gw_test_"):
            continue  # this file's stand-ins
        try:
            settings = connectors.load(kind, connectors.MAIL_CONNECTORS).Settings
        except (ImportError, AttributeError):
            continue  # a connector being written right now; it cannot be loaded either
        keys = config_keys(settings)
        undocumented = [
            k for k in keys if k not in written and k.rsplit(".", 1)[-1] not in commented
        ]
        assert undocumented == [], kind


def test_packaged_example_is_the_root_example() -> None:
    # daemon/data/config.example.toml is a symlink; a checkout without symlink
    # support (or a copy) must still hold the same text.
    packaged = REPO / "daemon" / "data" / "config.example.toml"
    assert packaged.read_bytes() == EXAMPLE.read_bytes()
    assert example_config_text() == EXAMPLE.read_text(encoding="utf-8")


def test_config_keys_come_from_the_dataclasses() -> None:
    keys = config_keys(FakeSettings)

    assert "policy.rules.set" in keys and "policy.rules.set_tags" not in keys
    assert "policy.rules.when.subject" in keys
    assert "accounts.mail.password_command" in keys and "accounts.mail.password" not in keys
    assert "source" not in keys
    assert len(keys) == len(set(keys))


# --- defaults ----------------------------------------------------------------------


def test_defaults_follow_spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = parse()

    assert config.daemon.database == f"sqlite:///{tmp_path}/.local/state/ghostwatch/ghostwatch.db"
    assert config.daemon.poll_interval == timedelta(minutes=2)
    assert config.daemon.lookback == timedelta(days=90)
    assert config.daemon.templates_dir is None
    policy = config.policy
    assert (policy.timezone, policy.holidays) == ("Asia/Shanghai", "CN")
    assert policy.working_hours == (time(9, 0), time(18, 0))
    assert [str(s) for s in policy.steps] == ["1bd", "3bd", "6bd"]
    assert (str(policy.close_after), str(policy.min_gap), str(policy.ooo_default)) == (
        "3bd",
        "1bd",
        "5bd",
    )
    assert (policy.on_draft_deleted, policy.max_drafts_per_cycle) == ("skip", 25)
    assert policy.rules == ()
    work = config.accounts[0]
    assert (work.locale, work.backup, work.aliases, work.calendar) == ("zh-CN", None, (), None)


def test_dataclass_defaults_match_loader_defaults() -> None:
    config = parse()
    assert config.policy == PolicyConfig()
    assert config.daemon == DaemonConfig()


def test_base_playbook() -> None:
    policy = parse(policy={"steps": ["2bd", "4bd"], "min_gap": "12h"}).policy
    assert policy.base_playbook() == Playbook(
        steps=(Duration(2, Unit.BUSINESS_DAYS), Duration(4, Unit.BUSINESS_DAYS)),
        close_after=Duration(3, Unit.BUSINESS_DAYS),
        min_gap=Duration(12, Unit.HOURS),
        ooo_default=Duration(5, Unit.BUSINESS_DAYS),
    )


def test_config_objects_are_frozen() -> None:
    config = parse()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.policy.timezone = "UTC"  # type: ignore[misc]


# --- collecting problems -----------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        daemon={"lookback": "ninety days"},
        policy={"timezone": "Mars/Olympus", "working_hours": "9-6", "on_draft_deleted": "keep"},
        accounts=[account(mail=mail(port="abc"))],
    )

    assert sorted(p.path for p in found) == [
        "accounts[0].mail.port",
        "daemon.lookback",
        "policy.on_draft_deleted",
        "policy.timezone",
        "policy.working_hours",
    ]
    port = next(p for p in found if p.path == "accounts[0].mail.port")
    assert port.value == "abc"
    assert str(port) == "accounts[0].mail.port: 'abc' is not a whole number; use a port like 993"


def test_str_lists_one_problem_per_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(policy={"steps": ["1x", "2y"]})
    lines = str(caught.value).splitlines()
    assert [line.split(":")[0] for line in lines] == ["policy.steps[0]", "policy.steps[1]"]


def test_unknown_key_suggests_the_close_one() -> None:
    (problem,) = problems(policy={"min_gaps": "1bd"})
    assert problem.path == "policy.min_gaps"
    assert "did you mean 'min_gap'?" in problem.message


def test_unknown_key_without_a_close_one_lists_the_valid_keys() -> None:
    (problem,) = problems(daemon={"zzz": 1})
    assert "database" in problem.message and "poll_interval" in problem.message


def test_unknown_top_level_section() -> None:
    assert paths(polcy={}) == ["polcy"]


def test_invalid_toml_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[daemon]\npoll_interval = "2m"\nlookback = [\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert "invalid TOML at line 4, column 1" in problem.message


def test_invalid_toml_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[policy]\nsteps = ["1bd",, "3bd"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "invalid TOML at line 2, column 16" in str(caught.value)


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.toml")
    assert "ghostwatch init" in str(caught.value)


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[accounts]]\nname = "work"\naddress = "a@example.com"\n'
        '[accounts.mail]\ntype = "fake"\nhost = "h"\nusername = "u"\npassword_env = "P"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.source == str(path)
    assert config.accounts[0].mail.type == "fake"


# --- durations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30m", timedelta(minutes=30)), ("1h", timedelta(hours=1)), ("2d", timedelta(days=2))],
)
def test_clock_durations(text: str, expected: timedelta) -> None:
    assert parse(daemon={"poll_interval": text}).daemon.poll_interval == expected


def test_business_days_are_refused_for_clock_durations() -> None:
    (problem,) = problems(daemon={"poll_interval": "1bd"})
    assert problem.path == "daemon.poll_interval"
    assert "use d, h or m" in problem.message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("3x", "is not a duration"), (3, 'e.g. "3bd"'), ("0bd", "at least 1")],
)
def test_bad_steps(value: object, fragment: str) -> None:
    (problem,) = problems(policy={"steps": ["1bd", value]})
    assert problem.path == "policy.steps[1]"
    assert fragment in problem.message


def test_steps_cannot_be_empty() -> None:
    assert paths(policy={"steps": []}) == ["policy.steps"]


def test_zero_min_gap_is_allowed() -> None:
    assert parse(policy={"min_gap": "0h"}).policy.min_gap == Duration(0, Unit.HOURS)


# --- policy values -----------------------------------------------------------------


def test_policy_values_are_normalised() -> None:
    policy = parse(
        policy={
            "holidays": "hk",
            "working_hours": "08:30 - 17:45",
            "internal_domains": ["@Example.COM"],
            "ignore": ["*NoReply*"],
            "max_drafts_per_cycle": 5,
        }
    ).policy
    assert policy.holidays == "HK"
    assert policy.working_hours == (time(8, 30), time(17, 45))
    assert policy.internal_domains == ("example.com",)
    assert policy.ignore == ("*noreply*",)
    assert policy.max_drafts_per_cycle == 5


@pytest.mark.parametrize(("code", "expected"), [("None", "none"), ("us-ca", "US-CA"), ("CN", "CN")])
def test_holidays(code: str, expected: str) -> None:
    assert parse(policy={"holidays": code}).policy.holidays == expected


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("timezone", "Asia/Shanghia", "did you mean 'Asia/Shanghai'?"),
        ("holidays", "XQ", "holidays package"),
        ("holidays", "US-XX", "no subdivision"),
        ("working_hours", "18:00-09:00", "ends before it starts"),
        ("working_hours", "09:00-09:00", "ends before it starts"),
        ("working_hours", "9am-6pm", "HH:MM-HH:MM"),
        ("working_hours", "09:00-24:00", "23:59"),
        ("on_draft_deleted", "delete", "skip | stop"),
        ("max_drafts_per_cycle", 0, "at least 1"),
        ("max_drafts_per_cycle", "25", "whole number"),
        ("internal_domains", "example.com", "not a list"),
    ],
)
def test_bad_policy_values(key: str, value: object, fragment: str) -> None:
    (problem,) = problems(policy={key: value})
    assert problem.path == f"policy.{key}"
    assert fragment in problem.message


# --- rules -------------------------------------------------------------------------


def test_rules() -> None:
    rules = parse(
        policy={
            "rules": [
                {"when": {"role": "Exec"}, "steps": ["3bd", "10bd"], "close_after": "5bd"},
                {
                    "when": {"subject": "(?i)offer|录用"},
                    "set": {"stage": "offer", "kind": "client"},
                },
                {
                    "when": {"stage": "salary-negotiation", "kind": "candidate"},
                    "steps": ["72h"],
                    "min_gap": "24h",
                    "salary_report": "https://reports.example.com/salary-2025.pdf",
                },
            ]
        }
    ).policy.rules

    assert rules[0] == Rule(
        when=RuleMatch(role="exec"),
        steps=(Duration(3, Unit.BUSINESS_DAYS), Duration(10, Unit.BUSINESS_DAYS)),
        close_after=Duration(5, Unit.BUSINESS_DAYS),
    )
    assert rules[1].set_tags == (("stage", "offer"), ("kind", "client"))
    assert rules[1].when.subject == "(?i)offer|录用"
    assert rules[2].when == RuleMatch(stage="salary-negotiation", kind="candidate")
    assert rules[2].min_gap == Duration(24, Unit.HOURS)
    assert rules[2].salary_report == "https://reports.example.com/salary-2025.pdf"


def test_salary_report_path_expands_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    rule = {"when": {"stage": "salary"}, "salary_report": "~/report.pdf"}
    (parsed,) = parse(policy={"rules": [rule]}).policy.rules
    assert parsed.salary_report == str(tmp_path / "report.pdf")


@pytest.mark.parametrize(
    ("rule", "path", "fragment"),
    [
        ({"when": {"subject": "(offer"}, "set": {"stage": "offer"}}, "when.subject", "regular"),
        ({"when": {"kind": "boss"}, "steps": ["1bd"]}, "when.kind", "candidate | client"),
        ({"when": {"rol": "exec"}, "steps": ["1bd"]}, "when.rol", "did you mean 'role'?"),
        ({"when": {}, "steps": ["1bd"]}, "when", "empty"),
        ({"steps": ["1bd"]}, "when", "needs `when`"),
        ({"when": {"role": "exec"}}, "", "changes nothing"),
        ({"when": {"role": "exec"}, "set": {"stage": "final round"}}, "set.stage", "final-round"),
        ({"when": {"role": "exec"}, "set": {"owner": "me"}}, "set.owner", "unknown key"),
        ({"when": {"role": "exec"}, "steps": "3bd"}, "steps", "not a list"),
        (
            {"when": {"subject": "(?P<titel>.+) role"}},
            "when.subject",
            "(?P<titel>...) that nothing reads (did you mean 'title'?)",
        ),
        (
            {"when": {"subject": "(?P<city>\\w+)"}, "set": {"stage": "offer"}},
            "when.subject",
            "only (?P<title>...) and (?P<company>...)",
        ),
        ({"when": {"role": "exec"}, "set": {"title": "  "}}, "set.title", "empty"),
        ({"when": {"role": "exec"}, "set": {"company": 42}}, "set.company", "not text"),
        ({"when": {"role": "exec"}, "set": {"company": "A" * 81}}, "set.company", "80"),
    ],
)
def test_bad_rules(rule: dict[str, Any], path: str, fragment: str) -> None:
    (problem,) = problems(policy={"rules": [{"when": {"role": "tech"}, "steps": ["5d"]}, rule]})
    assert problem.path == "policy.rules[1]" + (f".{path}" if path else "")
    assert fragment in problem.message


def test_rules_name_the_job_by_set_or_by_subject_groups() -> None:
    rules = parse(
        policy={
            "rules": [
                {
                    "when": {"kind": "client"},
                    "set": {"company": " ACME  Labs ", "title": "Staff Engineer", "kind": "client"},
                },
                # Capturing the title is a rule's whole effect: not "changes nothing".
                {"when": {"subject": "(?P<company>[^|]+)[|]\\s*(?P<title>.+?) (职位|role)"}},
            ]
        }
    ).policy.rules

    assert (rules[0].set_title, rules[0].set_company) == ("Staff Engineer", "ACME Labs")
    assert rules[0].set_tags == (("kind", "client"),)
    assert rules[1].when.subject is not None and "(?P<title>" in rules[1].when.subject
    assert "policy.rules.set_title" not in config_keys(FakeSettings)


def test_every_bad_named_group_is_reported_at_once() -> None:
    bad = [{"when": {"subject": f"(?P<{name}>x)"}} for name in ("company_name", "job")]
    found = problems(policy={"rules": bad})
    assert [p.path for p in found] == [
        "policy.rules[0].when.subject",
        "policy.rules[1].when.subject",
    ]
    assert all(
        p.value == f"(?P<{n}>x)" for p, n in zip(found, ("company_name", "job"), strict=True)
    )


def test_rules_must_be_an_array_of_tables() -> None:
    assert paths(policy={"rules": {"when": {"role": "exec"}}}) == ["policy.rules"]


# --- daemon values -----------------------------------------------------------------


def test_postgres_url_is_kept() -> None:
    url = "postgresql+psycopg://gw@db.example.com:5432/ghostwatch"
    assert parse(daemon={"database": url}).daemon.database == url


def test_other_postgres_driver_is_refused_without_echoing_the_password() -> None:
    (problem,) = problems(daemon={"database": "postgresql://gw:s3cret@db.example.com/gw"})
    assert "postgresql+psycopg://gw:***@db.example.com/gw" in problem.message
    assert "s3cret" not in repr(problem)


def test_unknown_database_scheme() -> None:
    assert paths(daemon={"database": "mysql://db.example.com/gw"}) == ["daemon.database"]


def test_templates_dir_adds_locales(tmp_path: Path) -> None:
    (tmp_path / "tpl" / "ja").mkdir(parents=True)
    data = {"daemon": {"templates_dir": "tpl"}, "accounts": [account(locale="ja")]}
    config = parse_config(data, "x", base_dir=tmp_path)
    assert config.daemon.templates_dir == str(tmp_path / "tpl")
    assert config.accounts[0].locale == "ja"


def test_templates_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {"daemon": {"templates_dir": "nope"}, "accounts": [account()]}, "x", base_dir=tmp_path
        )
    assert [p.path for p in caught.value.problems] == ["daemon.templates_dir"]


def test_log_level() -> None:
    assert parse(daemon={"log_level": "DEBUG"}).daemon.log_level == "debug"
    assert paths(daemon={"log_level": "loud"}) == ["daemon.log_level"]


# --- accounts ----------------------------------------------------------------------


def test_account_values_are_normalised() -> None:
    work = parse(
        accounts=[
            account(
                address="Li.Lei@Example.COM",
                aliases=["LEI@example.org"],
                display_name="李雷",
                locale="en",
            )
        ]
    ).accounts[0]
    assert work == AccountConfig(
        name="work",
        address="li.lei@example.com",
        display_name="李雷",
        locale="en",
        aliases=("lei@example.org",),
        mail=work.mail,
    )


def test_locale_matches_case_insensitively() -> None:
    assert parse(accounts=[account(locale="zh_cn")]).accounts[0].locale == "zh-CN"


def test_account_problems_across_accounts() -> None:
    found = problems(
        accounts=[
            account(backup="colleage", locale="fr"),
            account(address="other@example.com"),
            account(name="self", address="self@example.com", backup="self"),
        ]
    )
    assert sorted(p.path for p in found) == [
        "accounts[0].backup",
        "accounts[0].locale",
        "accounts[1].name",
        "accounts[2].backup",
    ]
    backup = next(p for p in found if p.path == "accounts[0].backup")
    assert "valid: self, work" in backup.message


def test_backup_names_another_account() -> None:
    config = parse(
        accounts=[account(backup="colleague"), account(name="colleague", address="c@example.com")]
    )
    assert config.account("work").backup == "colleague"


def test_duplicate_address() -> None:
    assert paths(accounts=[account(), account(name="second")]) == ["accounts[1].address"]


@pytest.mark.parametrize(
    ("accounts", "path"),
    [
        ([], "accounts"),
        ({"name": "work"}, "accounts"),
        ([account(name="my work")], "accounts[0].name"),
        ([account(address="li.lei")], "accounts[0].address"),
        ([{k: v for k, v in account().items() if k != "mail"}], "accounts[0].mail"),
        ([{k: v for k, v in account().items() if k != "name"}], "accounts[0].name"),
    ],
)
def test_bad_accounts(accounts: object, path: str) -> None:
    assert paths(accounts=accounts) == [path]


def test_no_accounts_section() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({}, "x")
    assert [p.path for p in caught.value.problems] == ["accounts"]


# --- connector settings ------------------------------------------------------------


def test_generic_settings_builder_reads_every_type() -> None:
    settings = (
        parse(
            accounts=[
                account(
                    mail=mail(
                        port=143,
                        security="starttls",
                        timeout=5,
                        idle=False,
                        folders=["INBOX", "Clients"],
                        sent_folder="Sent Items",
                        cache="/var/cache/gw",
                    )
                )
            ]
        )
        .accounts[0]
        .mail.settings
    )
    assert settings == FakeSettings(
        host="imap.example.com",
        username="li.lei",
        password=SecretSource(env="GW_PASSWORD"),
        port=143,
        security="starttls",
        timeout=5.0,
        idle=False,
        folders=("INBOX", "Clients"),
        sent_folder="Sent Items",
        cache=Path("/var/cache/gw"),
    )


def test_settings_defaults_apply() -> None:
    settings = parse().accounts[0].mail.settings
    assert (settings.port, settings.security, settings.folders) == (993, "tls", ("INBOX",))


def test_settings_type_problems_are_all_reported() -> None:
    found = problems(
        accounts=[
            account(
                mail=mail(
                    host=None,
                    port=True,
                    security="ssl",
                    timeout="fast",
                    idle="yes",
                    folders=["INBOX", 7],
                    hots="x",
                )
            )
        ]
    )
    prefix = "accounts[0].mail."
    assert sorted(p.path.removeprefix(prefix) for p in found) == [
        "folders[1]",
        "host",
        "hots",
        "idle",
        "port",
        "security",
        "timeout",
    ]
    hots = next(p for p in found if p.path.endswith("hots"))
    assert "did you mean 'host'?" in hots.message


def test_settings_post_init_refusal_is_a_problem() -> None:
    (problem,) = problems(accounts=[account(mail=mail(security="plain"))])
    assert problem.path == "accounts[0].mail"
    assert "127.0.0.1" in problem.message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "password_file",
            "~/.config/ghostwatch/work.secret",
            SecretSource(file="~/.config/ghostwatch/work.secret"),
        ),
        ("password_command", "pass show mail/work", SecretSource(command="pass show mail/work")),
        ("password_env", "GW_PASSWORD", SecretSource(env="GW_PASSWORD")),
    ],
)
def test_secret_sources(key: str, value: str, expected: SecretSource) -> None:
    table = {**mail(password_env=None), key: value}
    assert parse(accounts=[account(mail=table)]).accounts[0].mail.settings.password == expected


def test_inline_password_is_refused_and_not_echoed() -> None:
    found = problems(accounts=[account(mail=mail(password_env=None, password="hunter2"))])
    (problem,) = found
    assert problem.path == "accounts[0].mail.password"
    assert "secrets only via password_file / password_command / password_env" in problem.message
    assert "hunter2" not in str(problem) and problem.value != "hunter2"


def test_inline_password_is_refused_where_no_secret_is_taken(tmp_path: Path) -> None:
    # FakeSettings without its secret field: "password" is still no mere unknown key.
    @dataclasses.dataclass(frozen=True)
    class NoSecret:
        path: str

    with pytest.MonkeyPatch.context() as mp:
        _register(mp, "nosecret", NoSecret)
        table = {"type": "nosecret", "path": str(tmp_path), "password": "hunter2"}
        (problem,) = problems(accounts=[account(mail=table)])
    assert "secrets only via" in problem.message


def test_secret_needs_exactly_one_source() -> None:
    both = mail(password_file="/run/secret")
    assert paths(accounts=[account(mail=both)]) == ["accounts[0].mail"]
    neither = mail(password_env=None)
    assert paths(accounts=[account(mail=neither)]) == ["accounts[0].mail.password"]


def test_maildir_account(tmp_path: Path) -> None:
    from connectors.maildir import Settings as MaildirSettings

    table = {"type": "maildir", "path": str(tmp_path / "Maildir"), "folders": ["INBOX"]}

    work = parse(accounts=[account(mail=table)]).accounts[0]

    expected = MaildirSettings(path=str(tmp_path / "Maildir"), folders=("INBOX",))
    assert work.mail == ConnectorConfig("maildir", expected)


def test_maildir_layout_is_checked(tmp_path: Path) -> None:
    table = {"type": "maildir", "path": str(tmp_path), "layout": "mbox"}
    (problem,) = problems(accounts=[account(mail=table)])
    assert problem.path == "accounts[0].mail.layout"
    assert "auto | maildir++ | verbatim" in problem.message


def test_mail_type_not_available_yet() -> None:
    (problem,) = problems(accounts=[account(mail={"type": "gmail"})])
    assert problem.path == "accounts[0].mail.type"
    assert "not available" in problem.message


def test_unknown_mail_type_suggests() -> None:
    (problem,) = problems(accounts=[account(mail={"type": "imapp"})])
    assert "did you mean 'imap'?" in problem.message


def test_connector_without_settings_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("gw_test_broken")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(connectors.MAIL_CONNECTORS, "broken", module.__name__)
    assert paths(accounts=[account(mail={"type": "broken"})]) == ["accounts[0].mail.type"]


# --- calendars ---------------------------------------------------------------------


def test_calendar_none_and_absent() -> None:
    assert parse(accounts=[account(calendar={"type": "none"})]).accounts[0].calendar is None
    assert parse().accounts[0].calendar is None


def test_unregistered_calendar_keeps_a_frozen_table() -> None:
    table = {"type": "google", "url": "https://dav.example.com/", "password_file": "~/dav.secret"}
    calendar = parse(accounts=[account(calendar=table)]).accounts[0].calendar
    assert calendar is not None and calendar.type == "google"
    assert dict(calendar.settings) == {
        "url": "https://dav.example.com/",
        "password_file": "~/dav.secret",
    }
    with pytest.raises(TypeError):
        calendar.settings["url"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(
    ("table", "path", "fragment"),
    [
        ({"type": "caldab"}, "type", "did you mean 'caldav'?"),
        ({"url": "https://dav.example.com/"}, "type", "missing"),
        (
            {"type": "caldav", "url": "https://dav.example.com/", "password": "hunter2"},
            "password",
            "secrets only via",
        ),
        ({"type": "none", "url": "x"}, "url", "unknown key"),
    ],
)
def test_bad_calendars(table: dict[str, Any], path: str, fragment: str) -> None:
    (problem,) = problems(accounts=[account(calendar=table)])
    assert problem.path == f"accounts[0].calendar.{path}"
    assert fragment in problem.message


# --- where the config lives --------------------------------------------------------


def test_default_config_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GHOSTWATCH_CONFIG", raising=False)
    assert default_config_path() == tmp_path / ".config" / "ghostwatch" / "config.toml"
    monkeypatch.setenv("GHOSTWATCH_CONFIG", "~/gw.toml")
    assert default_config_path() == tmp_path / "gw.toml"


def test_imap_account(imap_settings: type) -> None:
    table = {
        "type": "imap",
        "host": "imap.example.com",
        "port": 993,
        "security": "tls",
        "username": "li.lei@example.com",
        "password_command": "pass show mail/work",
    }

    settings = parse(accounts=[account(mail=table)]).accounts[0].mail.settings

    assert isinstance(settings, imap_settings)
    assert (settings.host, settings.port, settings.security) == ("imap.example.com", 993, "tls")
    assert settings.password == SecretSource(command="pass show mail/work")


# --- draft language and several recipients -------------------------------------------


def test_a_rule_sets_the_draft_locale_checked_against_the_templates(tmp_path: Path) -> None:
    rules = parse(policy={"rules": [{"when": {"role": "exec"}, "set": {"locale": "EN"}}]})
    assert rules.policy.rules[0].set_locale == "en"
    found = problems(policy={"rules": [{"when": {"role": "exec"}, "set": {"locale": "fr"}}]})
    assert [p.path for p in found] == ["policy.rules[0].set.locale"]
    assert "no templates" in found[0].message and "zh-CN, en" in found[0].message
    (tmp_path / "fr").mkdir()  # a templates_dir folder adds the language
    ok = parse(
        daemon={"templates_dir": str(tmp_path)},
        policy={"rules": [{"when": {"role": "exec"}, "set": {"locale": "fr"}}]},
    )
    assert ok.policy.rules[0].set_locale == "fr"
    assert "policy.rules.set_locale" not in config_keys(FakeSettings)


def test_max_recipients() -> None:
    assert parse().policy.max_recipients == 10
    assert parse(policy={"max_recipients": 3}).policy.max_recipients == 3
    assert paths(policy={"max_recipients": 0}) == ["policy.max_recipients"]
