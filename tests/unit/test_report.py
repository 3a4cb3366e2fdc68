"""The case library: what leads to silence, and the page that shows it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from daemon.analytics.case_library import Case, group_by, habits, to_csv, to_html, to_json


def case(
    outcome: str, source: str, flags: tuple[str, ...] = (), gaps: tuple[float, ...] = ()
) -> Case:
    return Case(
        id=f"s{source}{outcome}{len(flags)}", account="work", contact="x@y.example",
        subject="<script>alert(1)</script> 面试", outcome=outcome, step_reached=len(gaps),
        started_at="2026-11-02T01:30:00+00:00", ended_at=None, silence_days=6.0,
        source=source, role="tech", stage="offer", kind="candidate", red_flags=flags,
        touch_gaps_days=gaps,
    )  # fmt: skip


CASES = [
    case("ghosted", "linkedin", ("rescheduled",), (1.0, 2.0)),
    case("ghosted", "linkedin", (), (3.0,)),
    case("replied", "linkedin"),
    case("replied", "referral", (), (1.0,)),
    case("met", "referral"),
]


def test_groups_say_which_channels_and_signs_lead_to_silence() -> None:
    by = {(g.dimension, g.value): g for g in group_by(CASES)}
    assert (by["source", "linkedin"].cases, by["source", "linkedin"].ghosted) == (3, 2)
    assert by["source", "linkedin"].ghost_rate == 0.667
    assert by["source", "referral"].ghost_rate == 0.0
    assert by["red flag", "rescheduled"].ghost_rate == 1.0


def test_habits_compare_the_rhythm_by_outcome() -> None:
    h = habits(CASES)
    assert h["median_gap_days_ghosted"] == 2.0
    assert h["median_gap_days_replied"] == 1.0


def test_formats() -> None:
    assert len(json.loads(to_json(CASES))["cases"]) == 5
    rows = list(csv.DictReader(io.StringIO(to_csv(CASES))))
    assert rows[0]["red_flags"] == "rescheduled" and rows[0]["touch_gaps_days"] == "1.0 2.0"
    page = to_html(CASES, None, datetime(2026, 11, 23, tzinfo=UTC))
    assert "<script>" not in page and "&lt;script&gt;" in page  # mail text is escaped
    assert "面试" in page
