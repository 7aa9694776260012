"""Gate a suite from any pytest test, DeepEval-style::

    from eval.testing import assert_suite

    def test_answers_stay_faithful(embedder):
        assert_suite("eval/suites/demo.jsonl", ["demo/articles"], {"faithfulness": 0.95},
                     embedder=embedder)

The failure message is the same table the CLI prints plus the worst cases, so a red test
says which metric fell and on which questions, without opening a report.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.settings import Settings

if TYPE_CHECKING:
    from eval.gate import Check, Thresholds
    from eval.runner import AnswererFactory, EvalRun
    from index.embedder import Embedder

__all__ = ["SuiteOutcome", "assert_suite", "check_suite"]


@dataclass
class SuiteOutcome:
    run: EvalRun
    checks: list[Check]
    report: dict[str, Any]

    @property
    def passed(self) -> bool:
        return bool(self.report["passed"])

    @property
    def aggregate(self) -> dict[str, float | int | None]:
        return self.run.aggregate


def _thresholds(thresholds: Mapping[str, float] | str | Path | None, suite: str) -> Thresholds:
    from eval.gate import default_thresholds_path, load_thresholds, parse_thresholds

    if thresholds is None:
        return load_thresholds(default_thresholds_path(), suite)
    if isinstance(thresholds, str | Path):
        return load_thresholds(thresholds, suite)
    return parse_thresholds(dict(thresholds), "assert_suite(thresholds=...)", suite)


def check_suite(
    suite_path: str | Path,
    corpus_paths: Sequence[str | Path] = (),
    thresholds: Mapping[str, float] | str | Path | None = None,
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    answerer: str | AnswererFactory | None = None,
    against: str | None = None,
    top_k: int | None = None,
    report_dir: str | Path | None = None,
) -> SuiteOutcome:
    """Run and gate without raising: for tests that expect a gate to fail.

    ``thresholds``: a flat ``{metric: bound}``, a thresholds file, or None for the shipped
    defaults (eval/thresholds.json, the suite's entry when it has one). ``embedder``: pass
    the test session's model so a test does not load another. Without ``settings`` a
    throwaway data directory is used, which only matters when no corpus is given.
    """
    from eval.gate import check
    from eval.report import build_report, write_reports
    from eval.runner import evaluate

    suite_path = Path(suite_path)
    bounds = _thresholds(thresholds, suite_path.stem)
    with tempfile.TemporaryDirectory(prefix="newsdesk-assert-") as scratch:
        run = evaluate(
            suite_path,
            settings or Settings(data_dir=Path(scratch) / "data"),
            corpus=[Path(p) for p in corpus_paths],
            against=against,
            answerer=answerer,
            top_k=top_k,
            embedder=embedder,
        )
    checks = check(run.aggregate, bounds, run.counts["errors"])
    report = build_report(run, checks, bounds)
    if report_dir is not None:
        write_reports(report, report_dir)
    return SuiteOutcome(run, checks, report)


def failure_message(outcome: SuiteOutcome, worst: int = 8) -> str:
    from eval.report import summary_table
    from eval.triage import problems

    lines = [summary_table(outcome.report), "", "worst cases:"]
    bad = [c for c in outcome.report["cases"] if problems(c)]
    for case in bad[:worst]:
        lines.append(f"  {case['id']} ({', '.join(problems(case))}): {case['question']}")
        lines.append(f"    answer: {(case['answer'] or case.get('error') or '')[:200]}")
        lines.extend(f"    unsupported: {claim[:160]}" for claim in case["unsupported"][:3])
    return "\n".join(lines)


def assert_suite(
    suite_path: str | Path,
    corpus_paths: Sequence[str | Path] = (),
    thresholds: Mapping[str, float] | str | Path | None = None,
    **options: Any,
) -> SuiteOutcome:
    """Run a suite and raise AssertionError when a measured metric misses its threshold
    (or a case errored). Options are check_suite's. Returns the outcome for further
    assertions."""
    outcome = check_suite(suite_path, corpus_paths, thresholds, **options)
    if not outcome.passed:
        raise AssertionError(f"eval gate failed for {suite_path}\n{failure_message(outcome)}")
    return outcome
