#!/usr/bin/env python3
"""Score the bounce reasons against sisimai's published results for the corpus samples.

    scripts/eval_bounces.py [CORPUS_DIR] [--misses]

The expected results (scripts/bounce_expected.json) are the test tables of the sisimai
project (BSD 2-Clause, Copyright (C) azumakuniyuki and the sisimai development team):
go-sisimai fact/*_test.go, and p5-sisimai t/*-lhost-*.t for the samples the Go tables
lack ("from": "p5"); lhost-trendmicro / lhost-mailmarshal are the renamed interscanmss /
mailmarshalsmtp samples. 17 corpus bounces appear in neither table (newer samples such
as rhost-zoho-*, lhost-mimecast-*) and stay out of the scores, as do arf-, rfc3834-,
is-not-bounce- and rb-issue- files, which are not bounces.

Each file is classified whole, as `ghostwatch classify` does. Per file:
- hard/soft agrees when our `hard` equals "some recipient is a hard bounce" in sisimai's
  table (a notice with several recipients is one bounce to us; its lead is the hard one);
- the reason agrees when ours is one of the table's reasons for that file;
- the family (gone / rejected / mailbox / temporary, see daemon/classify/bounce_reason.py)
  agrees likewise. Floors: 90% for hard/soft and for the family; the exact reason is
  printed but has no floor.

Deliberate differences from sisimai:
- One reason per bounce message: a notice for several recipients is led by the hard one
  (for a consultant the question is whether this contact's address is dead).
- Reasons are the classifier's; what the tracker does adds one rule: any 4.x.x status is
  temporary whatever the reason (a 4.2.2 "mailbox full" may still be delivered), so the
  thread follows "temporary" where sisimai's family would say "mailbox".
- onhold / undefined (no reason found) are soft, as in sisimai: the address is not called
  dead on no evidence; sisimai's private pseudo status codes (5.0.9xx) are not produced.
- Disagreements that remain are mostly sisimai's per-MTA modules deciding from their own
  knowledge (a "user unknown" after DATA is "filtered", some providers' 5.2.1 "User
  Unknown" is "suspend" or "userunknown") and MTAs without any wording we recognise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_classifier import default_corpus

from daemon.classify import classify
from daemon.classify.bounce_reason import family

EXPECTED = Path(__file__).with_name("bounce_expected.json")
FLOOR = 0.90


@dataclass(frozen=True)
class Row:
    status: str
    reason: str
    hard: bool

    @property
    def family(self) -> str:
        # sisimai's hard flag settles notaccept (5.x gone, 4.x temporary).
        return "gone" if self.hard else family(self.reason, "4.0.0")


@dataclass(frozen=True)
class Outcome:
    name: str
    expected: tuple[Row, ...]
    kind: str
    reason: str
    hard: bool
    status: str
    diagnostic: str

    @property
    def hard_ok(self) -> bool:
        return self.kind == "bounce" and self.hard == any(r.hard for r in self.expected)

    @property
    def reason_ok(self) -> bool:
        return self.kind == "bounce" and self.reason in {r.reason for r in self.expected}

    @property
    def family_ok(self) -> bool:
        ours = family(self.reason, self.status, self.diagnostic)
        return self.kind == "bounce" and ours in {r.family for r in self.expected}


@dataclass
class Scores:
    outcomes: list[Outcome] = field(default_factory=list)

    def share(self, attr: str) -> float:
        hits = sum(getattr(o, attr) for o in self.outcomes)
        return hits / len(self.outcomes) if self.outcomes else 0.0

    @property
    def ok(self) -> bool:
        return self.share("hard_ok") >= FLOOR and self.share("family_ok") >= FLOOR


def load_expected() -> dict[str, tuple[Row, ...]]:
    data = json.loads(EXPECTED.read_text(encoding="utf-8"))
    return {name: tuple(Row(*row) for row in entry["expect"]) for name, entry in data.items()}


def evaluate(corpus: Path) -> Scores:
    scores = Scores()
    folder = corpus / "bounces"
    for name, expected in sorted(load_expected().items()):
        path = folder / name
        if not path.exists():
            continue
        verdict = classify(path.read_bytes())
        info = verdict.bounce
        scores.outcomes.append(
            Outcome(
                name=name,
                expected=expected,
                kind=verdict.kind,
                reason=info.reason if info else "",
                hard=info.hard if info else False,
                status=info.status if info else "",
                diagnostic=info.diagnostic if info else "",
            )
        )
    return scores


def report(scores: Scores, misses: bool) -> str:
    n = len(scores.outcomes)
    lines = [
        f"bounce samples with sisimai results: {n}",
        f"hard/soft agreement: {scores.share('hard_ok'):.1%}",
        f"reason family agreement: {scores.share('family_ok'):.1%}",
        f"exact reason agreement: {scores.share('reason_ok'):.1%}",
    ]
    wrong = Counter(
        (
            sorted({r.family for r in o.expected})[0],
            family(o.reason, o.status, o.diagnostic)
            if o.kind == "bounce"
            else f"not a bounce ({o.kind})",
        )
        for o in scores.outcomes
        if not o.family_ok
    )
    if wrong:
        lines.append("family disagreements (sisimai -> ours):")
        lines += [f"  {a} -> {b}: {k}" for (a, b), k in wrong.most_common()]
    if misses:
        lines.append("disagreements:")
        for o in scores.outcomes:
            if o.family_ok and o.hard_ok:
                continue
            want = ", ".join(_show(r.reason, r.hard, r.status) for r in o.expected)
            got = _show(o.reason, o.hard, o.status) if o.kind == "bounce" else o.kind
            lines.append(f"  {o.name}: sisimai {want}; ours {got} | {o.diagnostic[:90]}")
    return "\n".join(lines)


def _show(reason: str, hard: bool, status: str) -> str:
    return f"{reason}{'/hard' if hard else ''} {status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=default_corpus())
    parser.add_argument("--misses", action="store_true", help="list every disagreement")
    args = parser.parse_args(argv)
    if not (args.corpus / "bounces").is_dir():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    scores = evaluate(args.corpus)
    print(report(scores, args.misses))
    return 0 if scores.ok else 1


if __name__ == "__main__":
    sys.exit(main())
