"""Bounce reasons against sisimai's results for ../shared/corpus (skipped when it is absent)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

pytestmark = pytest.mark.corpus


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scores() -> object:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    _load("eval_classifier")  # eval_bounces imports it by name
    return _load("eval_bounces").evaluate(CORPUS)


def test_reasons_agree_with_sisimai_on_the_corpus(scores: object) -> None:
    outcomes = scores.outcomes  # type: ignore[attr-defined]
    assert len(outcomes) > 550  # the table matched the corpus files
    hard = scores.share("hard_ok")  # type: ignore[attr-defined]
    fam = scores.share("family_ok")  # type: ignore[attr-defined]
    misses = "\n".join(
        f"{o.name}: {[r.reason for r in o.expected]} vs {o.reason}"
        for o in outcomes
        if not (o.hard_ok and o.family_ok)
    )
    assert hard >= 0.90, misses
    assert fam >= 0.90, misses


def test_expected_table_is_small_data_not_the_corpus() -> None:
    table = SCRIPTS / "bounce_expected.json"
    assert table.stat().st_size < 100_000
    assert b"Received:" not in table.read_bytes()
