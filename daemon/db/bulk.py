"""Bulk inserts for the first sync: plain DBAPI executemany with ids chosen up front.

A 100k-message first scan inserts ~100k messages, their threads and refs. Core
`insert().returning()` spends most of its time in SQLAlchemy's per-row
bookkeeping (insertmanyvalues batching, result splicing), so the hot inserts
take their ids before inserting, run one `executemany` per table, and convert
values with the column types' own bind processors, which keeps the stored bytes
exactly what the ORM would write on either database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from itertools import repeat
from typing import Any

from sqlalchemy import JSON, Table, func, select, text
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

from daemon.db.tables import UTCDateTime

Processor = Callable[[Any], Any]


class BulkInsert:
    """`INSERT INTO table (columns..., constants...)`.

    Rows are tuples in `columns` order; the `constants` columns take one value
    per `execute` (the account, the batch's clock), converted once.
    """

    def __init__(self, table: Table, columns: Sequence[str], constants: Sequence[str] = ()) -> None:
        self.table = table
        self.row_width = len(columns)
        self.columns = (*columns, *constants)
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            compiled = self.table.insert().compile(dialect=dialect, column_keys=list(self.columns))
            processors: list[tuple[int, Processor]] = []
            for i, name in enumerate(self.columns):
                col_type = self.table.c[name].type
                proc: Processor | None = col_type._cached_bind_processor(dialect)
                if proc is not None and isinstance(col_type, JSON):
                    proc = _json_lists(proc)
                elif proc is not None and isinstance(col_type, UTCDateTime):
                    proc = _sqlite_datetimes(proc, dialect)
                if proc is not None:
                    processors.append((i, proc))
            order: tuple[int, ...] | None = None
            if dialect.positional:
                # The compiled placeholders follow the table's column order, not ours.
                order = tuple(self.columns.index(str(name)) for name in compiled.positiontup or ())
                if sorted(order) != list(range(len(self.columns))):
                    raise ValueError(f"{self.table.name}: parameters do not match {self.columns}")
            found = _Compiled(str(compiled), processors, order)
            self._by_dialect[dialect.name] = found
        return found

    def execute(
        self,
        s: Session | Connection,
        rows: Sequence[Sequence[Any]],
        constants: Sequence[Any] = (),
    ) -> None:
        if not rows:
            return
        width = self.row_width
        if len(constants) != len(self.columns) - width:
            raise ValueError(f"{self.table.name}: expected values for {self.columns}")
        if any(len(row) != width for row in rows):
            raise ValueError(f"{self.table.name}: each row needs {self.columns[:width]}")
        conn = _connection(s)
        plan = self._compiled(conn.dialect)
        # Column by column: one map() per converted column and one zip() for the rows
        # keep the per-value work in C, where a loop over rows and columns would not.
        columns: list[Iterable[Any]] = [*zip(*rows, strict=True)]
        columns += [repeat(value) for value in constants]
        for i, proc in plan.processors:
            if i < width:
                columns[i] = map(proc, columns[i])
            else:
                columns[i] = repeat(proc(constants[i - width]))
        # Not strict: the constants repeat forever; the rows' columns set the length.
        params: list[Any]
        if plan.order is not None:
            params = list(zip(*[columns[i] for i in plan.order], strict=False))
        else:
            names = self.columns
            params = [
                dict(zip(names, values, strict=True)) for values in zip(*columns, strict=False)
            ]
        conn.exec_driver_sql(plan.sql, params)


# json.dumps' own string encoder (the C one when available) with its default
# ensure_ascii=True: joining its output with json.dumps' default ", " separator
# gives exactly the text json.dumps writes for a list of strings.
_encode_str: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]

# Values the fast paths below must serialise exactly as the column type's own
# processor does before they are used; anything unusual in them (escapes,
# non-ASCII, surrogates, control characters) is where an encoder would differ.
_JSON_SAMPLES: tuple[list[Any], ...] = (
    [],
    ["a"],
    ["<a@b>", 'q"uo\\te', "\u674e\u5a1c", "\x00\x1f\x7f", "\ud800", "\U0001f600", ""],
    [["a@b.c", '\u674e "x"', "to"], ["d@e.f", "", "cc"]],
    [[]],
)
_DATETIME_SAMPLES: tuple[datetime, ...] = (
    datetime(2025, 12, 12, 11, 48, 26, tzinfo=UTC),
    datetime(2025, 12, 12, 23, 48, 26, 5, tzinfo=UTC).astimezone(),
    datetime.fromisoformat("0999-01-02T03:04:05.123456+08:00"),
    datetime.fromisoformat("2026-03-29T01:30:00-09:30"),
)


def _json_text(value: Any, fallback: Processor | None = None) -> Any:
    """json.dumps(value) for a list of strings or of lists of strings.

    Anything else goes to `fallback` (None without one).
    """
    if value.__class__ is not list:
        return fallback(value) if fallback else None
    if not value:
        return "[]"  # most list columns (tags, problems, bounce recipients) are empty
    enc = _encode_str
    parts: list[str] = []
    for item in value:
        cls = item.__class__
        if cls is str:
            parts.append(enc(item))
        elif cls is list and all(part.__class__ is str for part in item):
            parts.append("[" + ", ".join(map(enc, item)) + "]")
        else:
            return fallback(value) if fallback else None
    return "[" + ", ".join(parts) + "]"


def _json_lists(proc: Processor) -> Processor:
    """The JSON list columns (recipients, references, tags...) without the general encoder.

    json.dumps walks every value through its generic encoder: several times the cost
    of joining pre-encoded strings, ~40k times per 20k messages. Used only when the
    column's own processor is plain json.dumps text (not psycopg's Json wrapper,
    not a custom serialiser), checked on samples; other values still go through it.
    """
    for sample in _JSON_SAMPLES:
        if proc(sample) != _json_text(sample):
            return proc
    return partial(_json_text, fallback=proc)


def _sqlite_datetimes(proc: Processor, dialect: Dialect) -> Processor:
    """UTCDateTime on SQLite in one step: UTC, naive, then the dialect's default text form.

    The TypeDecorator chain (process_bind_param, then DATETIME's %-format with a dict
    of seven fields) costs more than the rest of a message's values together. Used
    only when it yields the same text as the column type's own processor on samples,
    so a changed storage format falls back to that processor.
    """
    if dialect.name != "sqlite":
        return proc  # PostgreSQL takes the datetime object itself

    def process(value: datetime | None) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the database")
        # In UTC the offset is always "+00:00": cut, it leaves the naive value's text.
        return value.astimezone(UTC).isoformat(" ", "microseconds")[:-6]

    for sample in _DATETIME_SAMPLES:
        if process(sample) != proc(sample):
            return proc
    return process


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    processors: list[tuple[int, Processor]]
    order: tuple[int, ...] | None  # positional drivers: the columns in placeholder order


def _connection(s: Session | Connection) -> Connection:
    """The session's connection, after writing its pending ORM changes.

    Raw statements skip the ORM's autoflush; without this a lookup would miss
    a change made earlier in the same batch (a message just marked gone).
    """
    if isinstance(s, Session):
        s.flush()
        return s.connection()
    return s


def reserve_ids(s: Session | Connection, table: Table, count: int) -> list[int]:
    """`count` fresh primary keys for `table`, taken inside the caller's transaction.

    PostgreSQL draws them from the column's sequence, so later inserts that let
    the database choose never collide. SQLite (no AUTOINCREMENT) would itself
    pick max(rowid) + 1; one writer at a time holds the daemon lock, and a
    colliding insert would fail and roll the whole batch back, never overwrite.
    """
    if count <= 0:
        return []
    conn = _connection(s)
    if conn.dialect.name == "postgresql":
        seq = conn.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name})
        rows = conn.execute(
            text("SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n)"),
            {"seq": seq, "n": count},
        )
        return [int(v) for (v,) in rows]
    top = conn.scalar(select(func.max(table.c.id))) or 0
    return list(range(top + 1, top + 1 + count))


def select_in(
    s: Session | Connection, sql: str, params: Sequence[Any], values: Sequence[Any], size: int = 500
) -> list[tuple[Any, ...]]:
    """Rows of `sql` for `values`, `size` at a time; for lookups of a whole batch.

    `sql` uses `?` for each of `params` and `(*)` for the list, e.g.
    `... WHERE account_id = ? AND ref IN (*)`. Only for plain columns (text,
    integers, booleans): values go to the driver as they are. Spares
    SQLAlchemy's coercion and rendering of every element of a 500-element IN,
    which cost more than the lookup.
    """
    conn = _connection(s)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    out: list[tuple[Any, ...]] = []
    for i in range(0, len(values), size):
        chunk = list(values[i : i + size])
        text_ = sql.replace("(*)", "(" + ", ".join([mark] * len(chunk)) + ")")
        if mark != "?":
            text_ = text_.replace("?", mark)
        out.extend(tuple(r) for r in conn.exec_driver_sql(text_, (*params, *chunk)))
    return out


def execute_in(
    s: Session | Connection, sql: str, params: Sequence[Any], values: Sequence[Any], size: int = 500
) -> None:
    """`select_in` for statements without rows (UPDATE, DELETE ... IN (*)).

    Same rules: `?` for each of `params`, `(*)` for the list, plain column values only.
    A Core `update(...).where(col.in_(list))` costs ~0.5 ms to build and compile
    per call; a merge of threads runs four of them.
    """
    conn = _connection(s)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    for i in range(0, len(values), size):
        chunk = list(values[i : i + size])
        text_ = sql.replace("(*)", "(" + ", ".join([mark] * len(chunk)) + ")")
        if mark != "?":
            text_ = text_.replace("?", mark)
        conn.exec_driver_sql(text_, (*params, *chunk))
