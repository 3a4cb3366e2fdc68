"""The return date an out-of-office reply states, in Chinese, English and a few more.

Only dates next to return wording count ("back on", "returning", "until",
"返回", "回到办公室", "上班"), so the dates of a quoted original or of the
absence's first day are not mistaken for the return. Dates without a year mean
their next occurrence on or after the day the reply was received; weekdays
("back on Monday", "下周一") mean the next such day after it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

MAX_SCAN = 8_000  # a responder states its return date near the top

_MONTH_TABLES = (
    (
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ),
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    (
        "januar",
        "februar",
        "märz",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "dezember",
    ),
    (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
)
_MONTHS = {name: i for table in _MONTH_TABLES for i, name in enumerate(table, 1)} | {"sept": 9}
_WEEKDAY_TABLES = (
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
    ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
    tuple("一二三四五六日"),
)
_WEEKDAYS = {name: i for table in _WEEKDAY_TABLES for i, name in enumerate(table)} | {
    "tues": 1,
    "thur": 3,
    "thurs": 3,
    "天": 6,
    "七": 6,
}
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY_EN = (
    "monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|thu(rs?)?|fri|sat|sun"
)
_YEAR = r"(?:,?\s*(?P<y>\d{4}))?"
# "Monday, 1 December" is one date: the weekday must not count as "next Monday".
_LEAD_WEEKDAY = rf"(?:(?:{_WEEKDAY_EN})\.?,?\s+(?:the\s+)?)?"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "ymd",
        re.compile(
            r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号號]?"
        ),
    ),
    ("md_zh", re.compile(r"(?<!\d)(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号號]")),
    (
        "d_month",
        re.compile(
            rf"(?<![\w]){_LEAD_WEEKDAY}(?P<d>\d{{1,2}})(?:st|nd|rd|th|er|\.|º)?\s+(?:of\s+|de\s+)?(?P<mon>{_MONTH_NAMES})\.?"
            rf"(?:\s+(?:de\s+)?|,\s*)?(?P<y>\d{{4}})?(?![\w])",
            re.I,
        ),
    ),
    (
        "month_d",
        re.compile(
            rf"(?<![\w]){_LEAD_WEEKDAY}(?P<mon>{_MONTH_NAMES})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?!\d){_YEAR}(?![\w])",
            re.I,
        ),
    ),
    (
        "numeric",
        re.compile(
            r"(?<![\d/.-])(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?:(?P=sep)(?P<y>\d{4}|\d{2}))?(?![\d/])"
        ),
    ),
)
_RELATIVE = re.compile(
    rf"(?P<next>next\s+|下(?:个)?)?(?:(?<![\w])(?P<en>{_WEEKDAY_EN})\b|(?:周|星期|礼拜|禮拜)(?P<zh>[一二三四五六日天七]))"
    r"|(?P<tomorrow>tomorrow|明天|明日)|(?P<after>后天|後天|day after tomorrow)"
    r"|(?P<nextweek>next week|下周|下星期|下礼拜)",
    re.I,
)
# Return wording. Strong words state the return itself; weak ones ("until",
# "至") end the absence, which in practice is the same day.
_STRONG_BEFORE = re.compile(
    r"(back|return(ing|s)?|resum(e|ing)|in the office|in office|reachable|available( again)?|"
    r"zurück|wieder (im büro|da|erreichbar)|\bab( dem)?\b|de retour|retour|"
    r"regreso|regresaré|vuelvo|"
    r"返回|回到|回来|回國|回国|返岗|上班|恢复|回复)[^.。!！\n]{0,30}$",
    re.I,
)
_WEAK_BEFORE = re.compile(
    r"(until|till|'til|through|thru|to|bis|jusqu'?au|hasta|至|到|~|-|–)\s*[^.。!！\n]{0,15}$", re.I
)
_AFTER = re.compile(
    r"^\s*([(（][^)）]{0,8}[)）])?\s*(起|开始)?\s*(返回|回到|回来|回国|回國|返岗|上班|正常上班|恢复|回复|之后|以后|后|後)",
    re.I,
)
_MONTH_FIRST_REGIONS = {"us", "ph", "fm", "mh", "pw", "gu", "pr", "as", "vi", "um"}


@dataclass(frozen=True)
class _Candidate:
    start: int
    value: date
    strength: int  # 2: return wording, 1: end of absence


def month_first(locale: str | None) -> bool:
    """True for locales that write 12/01 for December 1 (en-US and a few more)."""
    if not locale:
        return False
    parts = re.split(r"[-_]", locale.split(",")[0].strip().lower())
    return len(parts) > 1 and parts[1] in _MONTH_FIRST_REGIONS


def find_return_date(text: str, received: date, locale: str | None = None) -> date | None:
    text = unicodedata.normalize("NFKC", text[:MAX_SCAN])
    found: list[_Candidate] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if any(s < match.end() and match.start() < e for s, e in taken):
                continue
            value = _absolute(kind, match, received, month_first(locale))
            if value is None:
                continue
            taken.append((match.start(), match.end()))
            strength = _strength(text, match.start(), match.end())
            if strength:
                found.append(_Candidate(match.start(), value, strength))
    for match in _RELATIVE.finditer(text):
        # A weekday right next to a stated date ("12月1日(周一)") only names that date.
        if any(s - 3 < match.end() and match.start() < e + 3 for s, e in taken):
            continue
        strength = _strength(text, match.start(), match.end())
        value = _relative(match, received)
        if strength and value is not None:
            found.append(_Candidate(match.start(), value, strength))
    if not found:
        return None
    best = max(c.strength for c in found)
    return min((c for c in found if c.strength == best), key=lambda c: c.start).value


def _strength(text: str, start: int, end: int) -> int:
    before = text[max(0, start - 40) : start]
    if _STRONG_BEFORE.search(before) or _AFTER.match(text[end : end + 12]):
        return 2
    if _WEAK_BEFORE.search(before):
        return 1
    return 0


def _absolute(kind: str, match: re.Match[str], received: date, us_order: bool) -> date | None:
    groups = match.groupdict()
    year = int(groups["y"]) if groups.get("y") else None
    if year is not None and year < 100:
        year += 2000
    if kind in ("ymd", "md_zh"):
        month, day = int(groups["m"]), int(groups["d"])
    elif kind in ("d_month", "month_d"):
        month, day = _MONTHS[groups["mon"].lower().rstrip(".")], int(groups["d"])
    else:
        if groups["sep"] != "/" and year is None:
            return None  # "3.5" or "10-12" without a year is a number or a range, not a date
        first, second = int(groups["a"]), int(groups["b"])
        if first > 12 or (not us_order and second <= 12):
            day, month = first, second
        else:
            month, day = first, second
    return _make(year, month, day, received)


def _make(year: int | None, month: int, day: int, received: date) -> date | None:
    try:
        if year is not None:
            return date(year, month, day)
        value = date(received.year, month, day)
        return value if value >= received else date(received.year + 1, month, day)
    except ValueError:
        return None


def _relative(match: re.Match[str], received: date) -> date | None:
    if match.group("tomorrow"):
        return received + timedelta(days=1)
    if match.group("after"):
        return received + timedelta(days=2)
    if match.group("nextweek"):
        return received + timedelta(days=7 - received.weekday())
    name = (match.group("en") or match.group("zh") or "").lower()
    weekday = _WEEKDAYS.get(name)
    if weekday is None:
        return None
    if match.group("next") and match.group("zh"):
        # 下周一: Monday of next calendar week, even if this week's has not come yet.
        monday = received + timedelta(days=7 - received.weekday())
        return monday + timedelta(days=weekday)
    ahead = (weekday - received.weekday()) % 7 or 7
    return received + timedelta(days=ahead)
