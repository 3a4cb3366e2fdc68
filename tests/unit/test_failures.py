"""What a failed cycle tells the user: useful, and never the mail itself."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import OperationalError

from connectors.errors import AuthFailed
from daemon import failures


def test_connector_error_is_shown_with_its_hint() -> None:
    text = failures.describe(AuthFailed("the server refused the login for li.lei"))
    assert text.startswith("the server refused the login for li.lei (check the username")


def test_database_error_hides_sql_parameters() -> None:
    exc = OperationalError(
        "INSERT INTO messages (subject) VALUES (?)",
        ("Offer 确认：数据平台负责人",),
        sqlite3.OperationalError("database or disk is full"),
    )
    text = failures.describe(exc)
    assert "Offer" not in text and "INSERT" not in text
    assert text.startswith("cannot write the database: database or disk is full (free disk")
    assert failures.is_disk_full(exc)


def test_unexpected_error_names_type_and_place_not_its_message() -> None:
    def parse() -> None:
        raise ValueError("王芳您好，offer 细节如下")

    try:
        parse()
    except ValueError as exc:
        text = failures.describe(exc)
    assert "王芳" not in text
    assert text.startswith("unexpected ValueError at test_failures.py:")
    assert text.endswith("in parse (details with -v)")
