"""Return dates stated by out-of-office replies, zh and en, with locale date order."""

from __future__ import annotations

from datetime import date

import pytest

from daemon.classify.returndate import find_return_date, month_first

FRIDAY = date(2026, 11, 20)  # the reply arrived on a Friday

CASES = [
    # Chinese
    ("12月1日返回", None, date(2026, 12, 1)),
    ("我将于2026年12月1日回到办公室", None, date(2026, 12, 1)),
    ("本人休假至12月5日，期间不能及时回复邮件", None, date(2026, 12, 5)),
    ("12月1日（周一）返回上班", None, date(2026, 12, 1)),
    ("下周一回来后回复您", None, date(2026, 11, 23)),
    ("我周三回来", None, date(2026, 11, 25)),
    ("1月3日后回复", None, date(2027, 1, 3)),  # no year: next occurrence after receipt
    ("将于２０２６年１２月１日返回", None, date(2026, 12, 1)),  # full-width digits
    # English
    ("I am away, back on Monday, 1 December.", None, date(2026, 12, 1)),
    ("I will be back on Monday", None, date(2026, 11, 23)),
    ("Back on Friday.", None, date(2026, 11, 27)),  # the next Friday, not today
    ("Out of the office until 01/12/2026", None, date(2026, 12, 1)),
    ("Out of the office until 01/12/2026", "en-GB", date(2026, 12, 1)),
    ("Out of the office until 01/12/2026", "en-US", date(2026, 1, 12)),
    ("Out of the office until 25/12/2026", "en-US", date(2026, 12, 25)),  # 25 cannot be a month
    ("I'm out Friday 12th December returning on Monday 15th December", None, date(2026, 12, 15)),
    (
        "On vacation from September 5th until Sunday, September 21st, back in the office on "
        "Monday, September 22nd.",
        None,
        date(2027, 9, 22),
    ),
    ("Returning January 5, 2027.", None, date(2027, 1, 5)),
    ("I'll be back tomorrow", None, date(2026, 11, 21)),
    ("AUTO: The User is out of the office (returning 09/18/2026)", None, date(2026, 9, 18)),
    ("Ich bin ab dem 3. Dezember wieder im Büro", None, date(2026, 12, 3)),
    ("Ich bin bis 3. Dezember 2026 nicht im Büro", None, date(2026, 12, 3)),
]


@pytest.mark.parametrize(("text", "locale", "expected"), CASES)
def test_return_date(text: str, locale: str | None, expected: date | None) -> None:
    assert find_return_date(text, FRIDAY, locale) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for the update, I will call you.",
        "Our meeting on 3 December went well.",  # a date, but not a return date
        "Order 12/34 shipped",
        "Version 2.5.1 released",
    ],
)
def test_no_return_date(text: str) -> None:
    assert find_return_date(text, FRIDAY) is None


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en-US", True),
        ("en_us", True),
        ("en-PH", True),
        ("en-GB", False),
        ("en", False),
        ("zh-CN", False),
        ("de-DE", False),
        (None, False),
        ("", False),
        ("en-US, fr", True),
    ],
)
def test_month_first(locale: str | None, expected: bool) -> None:
    assert month_first(locale) is expected


def test_invalid_dates_are_ignored() -> None:
    assert find_return_date("back on 31/02/2026", FRIDAY) is None
    assert find_return_date("2月30日返回", FRIDAY) is None
