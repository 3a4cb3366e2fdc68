"""Playbook policy: durations, rules and the playbook they resolve to (pure, no I/O).

TYPES BELOW ARE THE SHARED CONTRACT (daemon.config builds them); the calendar
math that applies them is in `daemon.tracker.business_calendar`.
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType


class Unit(enum.StrEnum):
    BUSINESS_DAYS = "bd"
    DAYS = "d"
    HOURS = "h"
    MINUTES = "m"


@dataclass(frozen=True, slots=True)
class Duration:
    amount: int
    unit: Unit

    def __str__(self) -> str:
        return f"{self.amount}{self.unit.value}"


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """`when` of a rule: every given field must match (subject is a regex)."""

    role: str | None = None
    stage: str | None = None
    kind: str | None = None  # candidate | client
    source: str | None = None
    subject: str | None = None  # regular expression, searched in the subject


@dataclass(frozen=True, slots=True)
class Rule:
    """One [[policy.rules]] entry: first match wins for playbook fields;
    `set` tags (e.g. stage=offer) are applied by every matching rule."""

    when: RuleMatch
    steps: tuple[Duration, ...] | None = None
    close_after: Duration | None = None
    min_gap: Duration | None = None
    set_tags: tuple[tuple[str, str], ...] = ()  # e.g. (("stage", "offer"),)
    salary_report: str | None = None  # a path or URL named in config, offered in stage drafts
    # `set = { title = "...", company = "..." }`: the job itself, free text as written.
    # A subject regex may capture them too, with (?P<title>...) / (?P<company>...).
    set_title: str | None = None
    set_company: str | None = None
    set_locale: str | None = None  # `set = { locale = "en" }`: the drafts' language


@dataclass(frozen=True, slots=True)
class Playbook:
    """The effective cadence for one thread after rules are applied."""

    steps: tuple[Duration, ...]
    close_after: Duration
    min_gap: Duration
    ooo_default: Duration
    tags: tuple[tuple[str, str], ...] = ()  # effective role/stage/kind/source
    matched_rules: tuple[int, ...] = field(default=())  # 0-based indexes; explain shows n + 1
    salary_report: str | None = None
    trace: tuple[str, ...] = ()  # how rules produced this playbook, for explain
    title: str | None = None  # the job title, e.g. "高级产品经理"; not the role tag
    company: str | None = None  # the hiring company
    locale: str | None = None  # from the first matching rule with `set = { locale }`
    locale_rule: str = ""  # which rule, for explain

    def reminder_kind(self, step: int) -> str | None:
        """The calendar reminder that comes with follow-up `step`'s draft, if any.

        The last step of a playbook of two or more is always the final one.
        """
        if step == len(self.steps) and len(self.steps) >= 2:
            return "final"
        return STEP_REMINDERS.get(step)


# Which follow-up steps bring a reminder beside their draft (a call before the
# second, a final touch at the third), whatever the cadence of the steps.
STEP_REMINDERS: Mapping[int, str] = MappingProxyType({2: "call", 3: "final"})


_UNITS = {"bd": Unit.BUSINESS_DAYS, "d": Unit.DAYS, "h": Unit.HOURS, "m": Unit.MINUTES}


def parse_duration(text: str) -> Duration:
    """'3bd', '10d', '48h', '2m' -> Duration; ValueError says what is valid."""
    raw = str(text).strip().lower()
    for suffix in sorted(_UNITS, key=len, reverse=True):
        number = raw[: -len(suffix)]
        if raw.endswith(suffix) and number.isdigit():
            return Duration(int(number), _UNITS[suffix])
    raise ValueError(
        f"{text!r} is not a duration; write a whole number and a unit: "
        "bd (business days), d (days), h (hours) or m (minutes), e.g. '3bd'"
    )


# ---------------------------------------------------------------------------
# Rules -> effective playbook
# ---------------------------------------------------------------------------


# The thread tags a rule can match or set; the order is how Playbook.tags lists them.
TAG_KEYS: tuple[str, ...] = ("role", "stage", "kind", "source")


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, TypeError, ValueError, RecursionError):
        return None


# Free-text facts about the job, for the wording of drafts and reminders. Unlike
# TAG_KEYS they select no rule, so they keep their case and spaces as written.
DETAIL_KEYS: tuple[str, ...] = ("title", "company")
DETAIL_MAX_LENGTH = 80


def clean_detail(value: object) -> str | None:
    """A job title or company fit to print in a draft, None when nothing is left.

    The values come from subjects and tags anybody can send: control and format
    characters go (U+202E would reorder what the consultant reads before sending),
    line breaks and whitespace runs become one space, and the length is capped so
    a greedy subject regex cannot paste a whole subject line into the draft.
    """
    if value is None:
        return None
    kept = [
        " " if ch.isspace() else ch
        for ch in str(value)
        if ch.isspace() or not unicodedata.category(ch).startswith("C")
    ]
    text = " ".join("".join(kept).split())
    return text[:DETAIL_MAX_LENGTH].rstrip() or None


def _norm(value: str) -> str:
    # Tags typed in a mail client ("Exec", " offer") must still hit config rules.
    return str(value).strip().casefold()


def _describe_when(when: RuleMatch) -> str:
    parts = [f"{k}={getattr(when, k)}" for k in TAG_KEYS if getattr(when, k) is not None]
    if when.subject is not None:
        parts.append(f"subject ~ {when.subject!r}")
    return ", ".join(parts) or "always"


def rule_matches(when: RuleMatch, tags: Mapping[str, str], subject: str) -> bool:
    """Every field given in `when` must match; an invalid subject regex never matches."""
    for key in TAG_KEYS:
        wanted = getattr(when, key)
        if wanted is not None and tags.get(key) != _norm(wanted):
            return False
    if when.subject is not None:
        pattern = _compile(when.subject)
        if pattern is None or pattern.search(subject or "") is None:
            return False
    return True


def resolve_playbook(
    base: Playbook, rules: Sequence[Rule], tags: Mapping[str, str], subject: str
) -> Playbook:
    """The playbook for one thread: base defaults overridden by the matching rules.

    Tag precedence: the user's gw: tags > `set` of rules (first setter wins) >
    tags already on `base`. Then, per field (steps, close_after, min_gap,
    salary_report), the first rule that defines it and matches the final tags wins.
    Title and company (free text, case kept): a gw:title:/gw:company: tag, else
    the first matching rule that gives one by `set` or by a named subject group.
    """
    trace: list[str] = []
    effective: dict[str, str] = {}
    for key, value in base.tags:
        if _norm(key) in TAG_KEYS and _norm(value):
            effective[_norm(key)] = _norm(value)
    user: dict[str, str] = {}
    for key, value in tags.items():
        if _norm(key) in TAG_KEYS and _norm(value):
            user[_norm(key)] = _norm(value)
    effective.update(user)
    for key, value in user.items():
        trace.append(f"tag gw:{key}:{value}")

    set_by: dict[str, int] = {}
    used: set[int] = set()  # rules that gave anything: a tag, a timing field, the job
    for index, rule in enumerate(rules):
        if rule.when.subject is not None and _compile(rule.when.subject) is None:
            trace.append(f"rule {index + 1}: invalid subject regex {rule.when.subject!r}, ignored")
            continue
        if not rule.set_tags or not rule_matches(rule.when, effective, subject):
            continue
        for raw_key, raw_value in rule.set_tags:
            key, value = _norm(raw_key), _norm(raw_value)
            head = f"rule {index + 1} ({_describe_when(rule.when)}): set {key}={value}"
            if key not in TAG_KEYS:
                trace.append(f"{head} ignored, only {'/'.join(TAG_KEYS)} can be set")
            elif key in user:
                trace.append(f"{head} ignored, tag gw:{key}:{user[key]} wins")
            elif key in set_by:
                trace.append(f"{head} ignored, rule {set_by[key] + 1} set it first")
            else:
                effective[key] = value
                set_by[key] = index
                used.add(index)
                trace.append(head)

    chosen: dict[str, object] = {}
    fields = ("steps", "close_after", "min_gap", "salary_report")
    for index, rule in enumerate(rules):
        given = [f for f in fields if f not in chosen and getattr(rule, f) is not None]
        if not given or not rule_matches(rule.when, effective, subject):
            continue
        for f in given:
            chosen[f] = getattr(rule, f)
        used.add(index)
        shown = ", ".join(f"{f} {_describe_value(getattr(rule, f))}" for f in given)
        trace.append(f"rule {index + 1} ({_describe_when(rule.when)}): {shown}")

    details = _resolve_details(base, rules, tags, effective, subject, trace, used)
    locale, locale_rule = None, ""
    for index, rule in enumerate(rules):
        if rule.set_locale and rule_matches(rule.when, effective, subject):
            locale = rule.set_locale
            locale_rule = f"rule {index + 1} ({_describe_when(rule.when)})"
            used.add(index)
            trace.append(f"{locale_rule}: locale {locale}")
            break

    return Playbook(
        steps=chosen.get("steps", base.steps),  # type: ignore[arg-type]
        close_after=chosen.get("close_after", base.close_after),  # type: ignore[arg-type]
        min_gap=chosen.get("min_gap", base.min_gap),  # type: ignore[arg-type]
        ooo_default=base.ooo_default,
        tags=tuple((k, effective[k]) for k in TAG_KEYS if k in effective),
        matched_rules=tuple(sorted(used)),
        salary_report=chosen.get("salary_report", base.salary_report),  # type: ignore[arg-type]
        trace=tuple(trace),
        title=details.get("title"),
        company=details.get("company"),
        locale=locale,
        locale_rule=locale_rule,
    )


def _rule_details(rule: Rule, subject: str) -> dict[str, tuple[str, str]]:
    """What one rule says about the job: {key: (value, where from)}, if it matched."""
    given: dict[str, tuple[str, str]] = {}
    pattern = _compile(rule.when.subject) if rule.when.subject is not None else None
    found = pattern.search(subject or "") if pattern is not None else None
    if pattern is not None and found is not None:
        for key in DETAIL_KEYS:
            if key in pattern.groupindex:
                value = clean_detail(found.group(key))
                if value:
                    given[key] = (value, "from the subject")
    # What the config states outright beats what the same rule's regex guessed.
    for key, stated in (("title", rule.set_title), ("company", rule.set_company)):
        value = clean_detail(stated)
        if value:
            given[key] = (value, "from set")
    return given


def _resolve_details(
    base: Playbook,
    rules: Sequence[Rule],
    tags: Mapping[str, str],
    effective: Mapping[str, str],
    subject: str,
    trace: list[str],
    used: set[int],
) -> dict[str, str]:
    """Title and company: gw:title:/gw:company: tag > first matching rule that gives
    one (a `set` value or a named subject group) > `base`. Appends to `trace`, and the
    index of each rule that gave one to `used`."""
    found: dict[str, str] = {}
    by_tag: set[str] = set()
    for raw_key, raw_value in tags.items():
        key = _norm(raw_key)
        value = clean_detail(raw_value) if key in DETAIL_KEYS else None
        if value:
            found[key] = value
            by_tag.add(key)
            trace.append(f"{key} {value!r} from tag gw:{key}")
    for index, rule in enumerate(rules):
        given = _rule_details(rule, subject)
        if not given or not rule_matches(rule.when, effective, subject):
            continue
        parts = []
        for key, (value, how) in given.items():
            if key in by_tag:
                parts.append(f"{key} {value!r} ignored, tag gw:{key} wins")
            elif key not in found:
                found[key] = value
                parts.append(f"{key} {value!r} {how}")
                used.add(index)
        if parts:
            trace.append(f"rule {index + 1} ({_describe_when(rule.when)}): {'; '.join(parts)}")
    for key, stated in (("title", base.title), ("company", base.company)):
        value = clean_detail(stated)
        if key not in found and value:
            found[key] = value
    return found


def _describe_value(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)
