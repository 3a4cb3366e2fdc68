"""The ghosting case library: ended sequences and what they have in common.

Pure aggregation over `sequences` rows: which source channels, stages, roles
and warning signs end in silence, and the consultant's own rhythm (gaps
between touches). Rendered as JSON, CSV or a self-contained HTML page.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from statistics import median

from jinja2 import Environment, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.db.tables import Account
from daemon.db.tables import Sequence as Sequence_
from daemon.tracker.states import ENDED_STATES, State

OUTCOMES = ENDED_STATES


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    account: str
    contact: str
    subject: str
    outcome: str
    step_reached: int
    started_at: str
    ended_at: str | None
    silence_days: float | None
    source: str
    role: str
    stage: str
    kind: str
    red_flags: tuple[str, ...]
    touch_gaps_days: tuple[float, ...]
    # A contact who wrote back after the sequence ended: both outcomes are kept.
    returned_from: str | None = None
    returned_after_days: float | None = None

    @property
    def outcome_history(self) -> tuple[str, ...]:
        return (self.returned_from, "returned") if self.returned_from else (self.outcome,)


@dataclass(frozen=True, slots=True)
class Group:
    dimension: str
    value: str
    cases: int
    ghosted: int
    replied_or_met: int
    returned: int = 0  # of the replied: contacts who came back after the sequence ended

    @property
    def ghost_rate(self) -> float:
        return round(self.ghosted / self.cases, 3) if self.cases else 0.0


def cases_since(s: Session, since: datetime | None) -> list[Case]:
    """Every ended sequence of every account (started at or after `since`), oldest first."""
    query = select(Sequence_, Account.name).join(Account, Account.id == Sequence_.account_id)
    query = query.where(Sequence_.state.in_(OUTCOMES))
    if since is not None:
        query = query.where(Sequence_.started_at >= since)
    return [case_of(row, name) for row, name in s.execute(query.order_by(Sequence_.started_at))]


def case_of(row: Sequence_, account: str) -> Case:
    """A stored, ended sequence as a case; hours become days for people."""
    day = 24.0
    return Case(
        id=row.id,
        account=account,
        contact=row.contact_addr,
        subject=row.subject,
        outcome=row.state,
        step_reached=row.step_reached,
        started_at=row.started_at.isoformat(),
        ended_at=row.ended_at.isoformat() if row.ended_at else None,
        silence_days=round(row.silence_hours / day, 2) if row.silence_hours is not None else None,
        source=row.source or "unknown",
        role=row.role or "unknown",
        stage=row.stage or "unknown",
        kind=row.contact_kind or "candidate",
        red_flags=tuple(row.red_flags or ()),
        touch_gaps_days=tuple(round(g / day, 2) for g in row.touch_gaps_hours or ()),
        returned_from=row.returned_from,
        returned_after_days=(
            round(row.returned_after_hours / day, 2) if row.returned_after_hours else None
        ),
    )


def group_by(cases: Sequence[Case]) -> list[Group]:
    """Ghosting per source, stage, role, contact kind, red flag and step reached."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for case in cases:
        keys = [
            ("source", case.source),
            ("stage", case.stage),
            ("role", case.role),
            ("kind", case.kind),
            ("steps reached", str(case.step_reached)),
            *(("red flag", flag) for flag in case.red_flags or ("none",)),
        ]
        for key in keys:
            row = counts[key]
            row[0] += 1
            row[1] += case.outcome == State.GHOSTED
            row[2] += case.outcome in (State.REPLIED, State.MET)
            row[3] += case.returned_from is not None
    groups = [Group(d, v, *c) for (d, v), c in counts.items()]
    return sorted(groups, key=lambda g: (g.dimension, -g.ghost_rate, g.value))


def habits(cases: Sequence[Case]) -> dict[str, float | int | None]:
    """The consultant's own rhythm: how far apart the touches were, by outcome."""
    out: dict[str, float | int | None] = {"cases": len(cases)}
    for outcome in (State.REPLIED, State.GHOSTED):
        gaps = [g for c in cases if c.outcome == outcome for g in c.touch_gaps_days]
        out[f"median_gap_days_{outcome}"] = round(median(gaps), 2) if gaps else None
    silences = [c.silence_days for c in cases if c.outcome == State.GHOSTED and c.silence_days]
    out["median_days_to_ghosted"] = round(median(silences), 2) if silences else None
    return out


def to_json(cases: Sequence[Case]) -> str:
    payload = {
        "cases": [{**asdict(c), "outcome_history": list(c.outcome_history)} for c in cases],
        "groups": [{**asdict(g), "ghost_rate": g.ghost_rate} for g in group_by(cases)],
        "habits": habits(cases),
    }
    return json.dumps(payload, ensure_ascii=False, indent=2)


def to_csv(cases: Iterable[Case]) -> str:
    buf = io.StringIO()
    fields = list(Case.__dataclass_fields__)
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for case in cases:
        row = asdict(case)
        row["red_flags"] = " ".join(case.red_flags)
        row["touch_gaps_days"] = " ".join(str(g) for g in case.touch_gaps_days)
        writer.writerow(row)
    return buf.getvalue()


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ghostwatch case library</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}
.ghosted{color:#b00}.replied,.met{color:#070}</style></head><body>
<h1>Ghosting case library</h1>
<p>{{ habits.cases }} ended sequences{% if since %} since {{ since }}{% endif %}, made {{ made }}.
Median gap between your touches: {{ habits.median_gap_days_replied or "-" }} days when they
replied, {{ habits.median_gap_days_ghosted or "-" }} days when they went silent.</p>
<h2>What leads to silence</h2>
<table><tr><th>by</th><th>value</th><th>cases</th><th>ghosted</th><th>replied or met</th>
<th>returned</th><th>ghost rate</th></tr>
{% for g in groups %}<tr><td>{{ g.dimension }}</td><td>{{ g.value }}</td><td>{{ g.cases }}</td>
<td>{{ g.ghosted }}</td><td>{{ g.replied_or_met }}</td><td>{{ g.returned }}</td>
<td>{{ "%.0f"|format(g.ghost_rate * 100) }}%</td></tr>
{% endfor %}</table>
<h2>Cases</h2>
<table><tr><th>contact</th><th>subject</th><th>outcome</th><th>steps</th><th>source</th><th>stage</th>
<th>role</th><th>red flags</th><th>started</th></tr>
{% for c in cases %}<tr><td>{{ c.contact }}</td><td>{{ c.subject }}</td>
<td class="{{ c.outcome }}">{% if c.returned_from %}{{ c.returned_from }}, then returned
after {{ c.returned_after_days|int }} days{% else %}{{ c.outcome }}{% endif %}</td>
<td>{{ c.step_reached }}</td><td>{{ c.source }}</td>
<td>{{ c.stage }}</td><td>{{ c.role }}</td><td>{{ c.red_flags|join(", ") }}</td>
<td>{{ c.started_at[:10] }}</td></tr>
{% endfor %}</table></body></html>
"""


def to_html(cases: Sequence[Case], since: str | None, made: datetime) -> str:
    # Subjects and names come from mail: autoescaped, never interpreted.
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    return env.from_string(_HTML).render(
        cases=cases,
        groups=group_by(cases),
        habits=habits(cases),
        since=since,
        made=made.isoformat(),
    )


def free_path(directory: Path, day: date, extension: str) -> Path:
    """ghostwatch-report-<day>.<ext> in `directory`, numbered rather than overwriting."""
    stem = f"ghostwatch-report-{day.isoformat()}"
    path = directory / f"{stem}.{extension}"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"{stem}-{n}.{extension}"
    return path
