"""Is the schema current? Answered without Alembic, so a command on a current database
never imports it (Alembic and its Mako templates cost ~0.2 s of every start).

The head revision is read from the migration files themselves (each declares
`revision` and `down_revision` at module level), so adding a migration needs
no second list here. Anything unexpected -- no alembic_version table, another
revision, a parse problem -- answers "not current" and Alembic decides.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # status reads the head revisions without loading SQLAlchemy
    from sqlalchemy import Engine

VERSIONS = Path(__file__).with_name("migrations") / "versions"
_ASSIGN = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+)$", re.M)


@functools.cache
def head_revisions() -> frozenset[str]:
    """The revisions no other migration builds on (one, unless the history branches)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(VERSIONS.glob("*.py")):
        found = dict(_ASSIGN.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        revisions.add(str(ast.literal_eval(found["revision"].strip())))
        down = ast.literal_eval(found.get("down_revision", "None").strip())
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):
            parents.update(str(d) for d in down)
    return frozenset(revisions - parents)


def is_current(engine: Engine) -> bool:
    """True when the database's alembic_version holds exactly the head revision(s)."""
    from sqlalchemy.exc import DBAPIError

    heads = head_revisions()
    if not heads:
        return False
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:  # no such table yet: a new database
        return False
    return {row[0] for row in rows} == set(heads)
