"""The classifier against real mail in ../shared/corpus (skipped when it is absent)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "eval_classifier.py"

pytestmark = pytest.mark.corpus


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eval_classifier", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("eval_classifier", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def evaluation() -> ModuleType:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return _load_script()


@pytest.mark.parametrize("mode", ["pipeline", "full"])
def test_corpus_targets(evaluation: ModuleType, mode: str) -> None:
    report = evaluation.evaluate(CORPUS, mode)
    assert len(report.results) > 700  # both folders were read
    misses = "\n".join(evaluation.render(report)[-len(report.misses) :])
    assert report.bounce_recall >= 0.99, misses
    assert report.humans_misclassified == [], misses


def test_no_human_in_the_bounce_folder_is_a_bounce(evaluation: ModuleType) -> None:
    report = evaluation.evaluate(CORPUS, "pipeline")
    humans = [r for r in report.results if r.sample.path.name.startswith("is-not-bounce-")]
    assert humans and all(r.verdict.kind == "human" for r in humans)


def test_delay_notices_are_soft_bounces(evaluation: ModuleType) -> None:
    for name in ("fluflbounce-dsn_05.eml", "rubymail-report_422.eml"):
        verdict = evaluation.classify_sample((CORPUS / "inbound" / name).read_bytes(), "pipeline")
        assert verdict.kind == "bounce"
        assert verdict.bounce is not None and verdict.bounce.hard is False


def test_label_mapping(evaluation: ModuleType) -> None:
    label = evaluation._bounce_folder_label
    assert [
        label(n)
        for n in (
            "lhost-exim-01.eml",
            "rhost-aol-01.eml",
            "rfc3464-01.eml",
            "rfc3834-01.eml",
            "arf-01.eml",
            "is-not-bounce-01.eml",
            "rb-issue-368-bug.eml",
        )
    ] == ["bounce", "bounce", "bounce", "auto_reply", "bulk", "human", None]
