"""BulkInsert's fast value conversions write what the column types' own processors write."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.dialects import sqlite

from daemon.db.bulk import _json_lists, _json_text, _sqlite_datetimes
from daemon.db.tables import Message

_ALPHABET = ["a", "Z", " ", '"', "\\", "/", "\x00", "\x1f", "\x7f", "é", "中", "\u2028", "\ud800",
             "\U0001f600", "<", "@", "\t", "\n"]  # fmt: skip


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 6)))


def _values(rng: random.Random) -> list[Any]:
    out: list[Any] = []
    for _ in range(3000):
        kind = rng.random()
        if kind < 0.4:
            out.append([_text(rng) for _ in range(rng.randint(0, 4))])
        elif kind < 0.8:
            out.append([[_text(rng) for _ in range(3)] for _ in range(rng.randint(0, 3))])
        else:  # what the fast path hands back to json.dumps
            out.append(rng.choice([None, [1, "a"], [["a", 2]], ("a",), [None], {"a": "b"}, [[]]]))
    return out


def _sqlite_processor(column: str) -> Any:
    return Message.__table__.c[column].type._cached_bind_processor(sqlite.dialect())  # type: ignore[attr-defined]


def test_json_lists_write_what_json_dumps_writes() -> None:
    proc = _sqlite_processor("recipients")
    fast = _json_lists(proc)
    assert fast is not proc, "the fast path is not in use on SQLite"
    for value in _values(random.Random(3)):
        assert fast(value) == proc(value) == json.dumps(value), repr(value)
        text = _json_text(value)
        assert text is None or text == json.dumps(value)


def test_json_lists_keep_a_serialiser_that_is_not_plain_json_dumps() -> None:
    def other(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    assert _json_lists(other) is other


def test_sqlite_datetimes_write_what_the_type_writes() -> None:
    proc = _sqlite_processor("sent_at")
    fast = _sqlite_datetimes(proc, sqlite.dialect())
    assert fast is not proc, "the fast path is not in use on SQLite"
    rng = random.Random(5)
    zones = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-9, minutes=-30))]
    for _ in range(5000):
        value = datetime(
            rng.randint(1, 9998), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
            rng.randint(0, 59), rng.randint(0, 59), rng.choice([0, rng.randint(0, 999_999)]),
            tzinfo=rng.choice(zones),
        )  # fmt: skip
        assert fast(value) == proc(value), value
    assert fast(None) is None
    with pytest.raises(ValueError):
        fast(datetime(2025, 1, 1))
