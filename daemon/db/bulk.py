"""Bulk inserts for the first sync: plain DBAPI executemany with ids chosen up front.

A 100k-message first scan inserts ~100k messages, their threads and refs. Core
`insert().returning()` spends most of its time in SQLAlchemy's per-row
bookkeeping (insertmanyvalues batching, result splicing), so the hot inserts
take their ids before inserting, run one `executemany` per table, and convert
values with the column types' own bind processors, which keeps the stored bytes
exactly what the ORM would write on either database.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Table, func, select, text
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

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
                    proc = _empty_list_shortcut(proc)
                if proc is not None:
                    processors.append((i, proc))
            shape: Callable[[list[Any]], Any]
            if dialect.positional:
                # The compiled placeholders follow the table's column order, not ours.
                order = [self.columns.index(str(name)) for name in compiled.positiontup or ()]
                if sorted(order) != list(range(len(self.columns))):
                    raise ValueError(f"{self.table.name}: parameters do not match {self.columns}")
                pick = operator.itemgetter(*order)
                shape = pick if len(order) > 1 else (lambda v: (pick(v),))
            else:
                names = self.columns
                shape = lambda values: dict(zip(names, values, strict=True))  # noqa: E731
            found = _Compiled(str(compiled), processors, shape)
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
        if len(constants) != len(self.columns) - self.row_width:
            raise ValueError(f"{self.table.name}: expected values for {self.columns}")
        conn = _connection(s)
        plan = self._compiled(conn.dialect)
        width = self.row_width
        fixed = list(constants)
        for i, proc in plan.processors:
            if i >= width:
                fixed[i - width] = proc(fixed[i - width])
        per_row = [(i, proc) for i, proc in plan.processors if i < width]
        shape = plan.shape
        params: list[Any] = []
        for row in rows:
            values = [*row, *fixed]
            for i, proc in per_row:
                values[i] = proc(values[i])
            params.append(shape(values))
        conn.exec_driver_sql(plan.sql, params)


def _empty_list_shortcut(proc: Processor) -> Processor:
    """Most JSON list columns (tags, problems, bounce recipients) are empty: serialise [] once."""
    empty = proc([])
    if not isinstance(empty, str):
        return proc  # a driver wrapper object (psycopg's Json): not ours to share between rows

    def process(value: Any) -> Any:
        return empty if value.__class__ is list and not value else proc(value)

    return process


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    processors: list[tuple[int, Processor]]
    shape: Callable[[list[Any]], Any]


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
