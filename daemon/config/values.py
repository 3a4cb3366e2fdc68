"""The value converters of the config: each checks one TOML value and returns it
typed, or raises `Invalid` with the bad value and the fix (durations, time zones,
holiday calendars, working hours, domains, tags, subject patterns, addresses,
locales, the database URL). `daemon.config.loader` applies them key by key.
"""

from __future__ import annotations

import functools
import os
import re
import zoneinfo
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from daemon.config.schema import Invalid, describe, nonempty_str, suggest, to_int, to_str
from daemon.config.settings import expand_database
from daemon.tracker.business_calendar import holiday_countries, holiday_subdivisions
from daemon.tracker.policy import (
    DETAIL_KEYS,
    DETAIL_MAX_LENGTH,
    Duration,
    Unit,
    clean_detail,
    parse_duration,
)


def _mask_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def database_url(value: object) -> str:
    url = nonempty_str(value)
    scheme, sep, rest = url.partition("://")
    if scheme == "sqlite" and sep:
        return expand_database(url)
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


def duration(value: object) -> Duration:
    if isinstance(value, int) and not isinstance(value, bool):
        raise Invalid(f'{value} has no unit; write it in quotes with one, e.g. "{value}bd"')
    try:
        return parse_duration(to_str(value))
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def step(value: object) -> Duration:
    step = duration(value)
    if step.amount <= 0:
        raise Invalid(f'{describe(value)} is no wait at all; a step needs at least 1, e.g. "1bd"')
    return step


_CLOCK_UNITS = {Unit.DAYS: "days", Unit.HOURS: "hours", Unit.MINUTES: "minutes"}


def clock_duration(value: object) -> timedelta:
    wait = step(value)
    if wait.unit is Unit.BUSINESS_DAYS:
        raise Invalid(
            f"{describe(value)}: business days only apply to follow-ups; "
            f'use d, h or m here, e.g. "{wait.amount}d"'
        )
    return timedelta(**{_CLOCK_UNITS[wait.unit]: wait.amount})


def directory(base_dir: Path | None) -> Any:
    def conv(value: object) -> str:
        path = Path(nonempty_str(value)).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        if not path.is_dir():
            raise Invalid(f"{describe(value)} is not a directory ({path} does not exist)")
        return str(path)

    return conv


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone(value: object) -> str:
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


def holidays(value: object) -> str:
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


def working_hours(value: object) -> tuple[time, time]:
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


def positive_int(value: object) -> int:
    number = to_int("number", 25)(value)
    if number < 1:
        raise Invalid(f"{describe(value)} is less than 1; use at least 1")
    return number


_DOMAIN = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?")


def domain(value: object) -> str:
    domain = nonempty_str(value).lower().removeprefix("@")
    if not _DOMAIN.fullmatch(domain):
        raise Invalid(f'{describe(value)} is not a mail domain; write e.g. "example.com"')
    return domain


def address_pattern(value: object) -> str:
    return nonempty_str(value).lower()


_TAG_VALUE = re.compile(r"[\w.+-]+")


def tag_value(value: object) -> str:
    text = nonempty_str(value).lower()
    if not _TAG_VALUE.fullmatch(text):
        # Tags travel as IMAP keywords (gw:stage:offer), which cannot hold spaces.
        fixed = re.sub(r"[^\w.+-]+", "-", text).strip("-") or "offer"
        raise Invalid(
            f"{describe(value)} cannot be a tag; use letters, digits, '-', '_' or '.', "
            f'e.g. "{fixed}"'
        )
    return text


def subject_regex(value: object) -> str:
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


def named_groups(pattern: str) -> tuple[str, ...]:
    try:
        return tuple(re.compile(pattern).groupindex)
    except re.error:
        return ()


def detail(value: object) -> str:
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


def report_path(value: object) -> str:
    text = nonempty_str(value)
    return text if "://" in text else os.path.expanduser(text)


_ACCOUNT_NAME = re.compile(r"\w[\w.-]*")


def account_name(value: object) -> str:
    name = nonempty_str(value)
    if not _ACCOUNT_NAME.fullmatch(name):
        # The name is typed on the command line and becomes a systemd instance name.
        raise Invalid(
            f"{describe(value)} is not a usable name; use letters, digits, '-', '_' or '.'"
        )
    return name


_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def address(value: object) -> str:
    address = nonempty_str(value).lower()
    if not _ADDRESS.fullmatch(address):
        raise Invalid(f'{describe(value)} is not a mail address; write e.g. "li.lei@example.com"')
    return address


def locale_of(locales: tuple[str, ...]) -> Any:
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
