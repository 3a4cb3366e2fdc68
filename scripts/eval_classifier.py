#!/usr/bin/env python3
"""Score the message classifier against the shared corpus of real mail.

    scripts/eval_classifier.py [CORPUS_DIR] [--mode pipeline|full|both]

`pipeline` replays what ingest does: classify only the HEADER_FIELDS of each
message, and only when the verdict asks for the body classify the first
256 KB again. `full` classifies every whole file at once (the CLI's
`ghostwatch classify`). Prints per-class precision/recall per corpus and
overall, then every miss with its reason; exits 1 when a target is missed:
>= 99% of real bounces classified `bounce`, and no human message classified
as anything else.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daemon.classify import HEADER_FIELDS, Classification, classify

KINDS = ("human", "auto_reply", "bounce", "bulk")
BODY_FETCH_LIMIT = 256 * 1024  # what ingest fetches when a verdict needs the body
BOUNCE_TARGET = 0.99
_INBOUND_LABELS = {
    "human_reply": "human",
    "auto_reply": "auto_reply",
    "bounce": "bounce",
    "bulk": "bulk",
}
_WANTED = {name.lower() for name in HEADER_FIELDS}


@dataclass(frozen=True)
class Sample:
    corpus: str
    path: Path
    expected: str
    real_bounce: bool = False  # counts toward the bounce-recall target


@dataclass
class Result:
    sample: Sample
    verdict: Classification


@dataclass
class Report:
    mode: str
    results: list[Result] = field(default_factory=list)

    @property
    def misses(self) -> list[Result]:
        return [r for r in self.results if r.verdict.kind != r.sample.expected]

    @property
    def bounce_recall(self) -> float:
        real = [r for r in self.results if r.sample.real_bounce]
        hit = sum(r.verdict.kind == "bounce" for r in real)
        return hit / len(real) if real else 1.0

    @property
    def humans_misclassified(self) -> list[Result]:
        return [
            r for r in self.results if r.sample.expected == "human" and r.verdict.kind != "human"
        ]

    @property
    def ok(self) -> bool:
        return self.bounce_recall >= BOUNCE_TARGET and not self.humans_misclassified


def default_corpus() -> Path:
    return Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def load_samples(corpus: Path) -> list[Sample]:
    samples: list[Sample] = []
    bounces = corpus / "bounces"
    for path in sorted(bounces.glob("*.eml")):
        expected = _bounce_folder_label(path.name)
        if expected is not None:
            samples.append(Sample("bounces", path, expected, real_bounce=expected == "bounce"))
    inbound = corpus / "inbound"
    labels_file = inbound / "labels.json"
    if labels_file.exists():
        labels = json.loads(labels_file.read_text(encoding="utf-8"))
        for name, entry in sorted(labels.items()):
            expected = _INBOUND_LABELS[entry["label"]]
            samples.append(
                Sample("inbound", inbound / name, expected, real_bounce=expected == "bounce")
            )
    return samples


def _bounce_folder_label(name: str) -> str | None:
    """The truth a sisimai file name states (see the corpus README)."""
    if name.startswith(("lhost-", "rhost-", "rfc3464-")):
        return "bounce"
    if name.startswith("rfc3834-"):
        return "auto_reply"
    if name.startswith("arf-"):
        return "bulk"  # abuse reports: automatic, neither a bounce of our mail nor human
    if name.startswith("is-not-bounce-"):
        return "human"
    return None  # rb-issue-368-bug.eml and anything unknown stay out of the scores


def header_block(raw: bytes) -> bytes:
    """Only the HEADER_FIELDS lines of the header block, as ingest fetches them."""
    end = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0), default=len(raw))
    kept: list[bytes] = []
    keep = False
    for line in re.split(rb"\r?\n", raw[:end]):
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        keep = b":" in line and name.decode("latin-1") in _WANTED
        if keep:
            kept.append(line)
    return b"\r\n".join(kept) + b"\r\n\r\n"


def classify_sample(raw: bytes, mode: str) -> Classification:
    if mode == "full":
        return classify(raw, has_body=True)
    verdict = classify(header_block(raw), has_body=False)
    if verdict.needs_body:
        verdict = classify(raw[:BODY_FETCH_LIMIT], has_body=True)
    return verdict


def evaluate(corpus: Path, mode: str = "pipeline") -> Report:
    report = Report(mode)
    for sample in load_samples(corpus):
        raw = sample.path.read_bytes()
        report.results.append(Result(sample, classify_sample(raw, mode)))
    return report


def table(results: Iterable[Result], title: str) -> list[str]:
    results = list(results)
    expected = Counter(r.sample.expected for r in results)
    predicted = Counter(r.verdict.kind for r in results)
    correct = Counter(r.sample.expected for r in results if r.verdict.kind == r.sample.expected)
    lines = [
        f"{title}: {len(results)} messages, "
        f"{sum(correct.values())} correct ({_pct(sum(correct.values()), len(results))})",
        f"  {'class':<11} {'n':>5} {'predicted':>9} {'precision':>10} {'recall':>8}",
    ]
    for kind in KINDS:
        lines.append(
            f"  {kind:<11} {expected[kind]:>5} {predicted[kind]:>9} "
            f"{_pct(correct[kind], predicted[kind]):>10} "
            f"{_pct(correct[kind], expected[kind]):>8}"
        )
    return lines


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def render(report: Report) -> list[str]:
    lines = [f"== mode: {report.mode}"]
    for corpus in ("bounces", "inbound"):
        lines += table((r for r in report.results if r.sample.corpus == corpus), corpus)
    lines += table(report.results, "overall")
    real = sum(r.sample.real_bounce for r in report.results)
    lines.append(
        f"targets: real bounces classified bounce {100 * report.bounce_recall:.1f}% "
        f"of {real} (need >= {100 * BOUNCE_TARGET:.0f}%); human messages misclassified "
        f"{len(report.humans_misclassified)} (need 0) -> "
        f"{'OK' if report.ok else 'MISSED'}"
    )
    lines.append(f"misclassified ({len(report.misses)}):")
    for r in report.misses:
        lines.append(
            f"  {r.sample.corpus}/{r.sample.path.name}: expected {r.sample.expected}, "
            f"got {r.verdict.kind} ({r.verdict.reason})"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=default_corpus())
    parser.add_argument("--mode", choices=("pipeline", "full", "both"), default="both")
    args = parser.parse_args(argv)
    if not (args.corpus / "bounces").is_dir() and not (args.corpus / "inbound").is_dir():
        print(f"no corpus at {args.corpus} (expected bounces/ and inbound/)", file=sys.stderr)
        return 2
    modes = ("pipeline", "full") if args.mode == "both" else (args.mode,)
    ok = True
    for mode in modes:
        report = evaluate(args.corpus, mode)
        print("\n".join(render(report)))
        print()
        ok = ok and report.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
