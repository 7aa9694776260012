"""Run a suite against a target and score it: the one entry point the CLI and pytest share.

The embedding model is loaded once per run and shared: the runtime's embedder answers
questions and also powers the support scorer, so a local run never holds two copies.
"""

from __future__ import annotations

import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.settings import Settings
from eval.scoring import (
    CaseResult,
    Scorers,
    aggregate,
    counts,
    default_scorers,
    score_case,
)
from eval.suite import SuiteCase, load_suite, suite_digest
from eval.targets import Answerer, Target, TargetError

if TYPE_CHECKING:
    from assistant.answering import Assistant
    from assistant.judge.support import JudgeKind
    from index.embedder import Embedder

__all__ = ["AnswererFactory", "EvalRun", "Progress", "evaluate", "run_cases"]

Progress = Callable[[int, int, CaseResult], None]
"""Called after each case with its 1-based position, the total and its result."""

AnswererFactory = Callable[["Assistant"], Answerer]


@dataclass
class EvalRun:
    suite_path: Path
    results: list[CaseResult]
    aggregate: dict[str, float | int | None]
    counts: dict[str, int]
    by_kind: dict[str, dict[str, float | int | None]]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.suite_path.stem


def run_cases(
    cases: Sequence[SuiteCase],
    target: Target,
    scorers: Scorers,
    top_k: int,
    progress: Progress | None = None,
) -> list[CaseResult]:
    """Ask every question, fetch its top-k passages, score. A target failure on one case is
    recorded on that case (and fails the gate) instead of aborting the run, so one flaky
    request does not cost the whole report."""
    results: list[CaseResult] = []
    for position, case in enumerate(cases, start=1):
        error: str | None = None
        answer = None
        latency: float | None = None
        started = time.perf_counter()
        try:
            answer = target.ask(case, top_k)
            latency = round((time.perf_counter() - started) * 1000.0, 1)
        except Exception as exc:  # a user-supplied answerer may raise anything
            error = f"ask: {_describe(exc)}"
        try:
            retrieved = target.search(case, top_k)
        except Exception as exc:
            retrieved = []
            error = f"{error}; search: {_describe(exc)}" if error else f"search: {_describe(exc)}"
        result = score_case(case, answer, retrieved, latency, scorers, error)
        results.append(result)
        if progress is not None:
            progress(position, len(cases), result)
    return results


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, TargetError) else f"{type(exc).__name__}: {exc}"


def by_kind(results: Sequence[CaseResult]) -> dict[str, dict[str, float | int | None]]:
    """Per-kind aggregates (MultiHop's inference/comparison/temporal/null; RealTimeQA with or
    without a gold page): an average over mixed kinds hides where the assistant fails."""
    kinds = sorted({r.case.kind for r in results if r.case.kind})
    if len(kinds) < 2:
        return {}
    return {k: aggregate([r for r in results if r.case.kind == k]) for k in kinds}


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def evaluate(
    suite_path: str | Path,
    settings: Settings,
    *,
    corpus: Sequence[Path] = (),
    against: str | None = None,
    answerer: str | AnswererFactory | None = None,
    top_k: int | None = None,
    embedder: Embedder | None = None,
    judge: JudgeKind | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
    fresh: bool = False,
) -> EvalRun:
    """Load the suite, open the target, run and score every case.

    Usage problems (bad suite line, unreadable corpus, unreachable server, answerer that
    does not import) raise before any question is asked: SuiteError, CorpusError,
    AnswererError or TargetError. ``judge`` picks the faithfulness judge (``settings.judge``
    unless given; "fast", or "llm": the local model asked about the claims the fast judge
    cannot decide; it opens the model up front, raising ModelUnavailable when it cannot).
    ``fresh`` re-embeds ``corpus`` instead of starting from the eval cache's copy of it.
    """
    from eval.targets import HttpTarget, LocalTarget, load_answerer
    from eval.workspace import open_index

    suite_path = Path(suite_path)
    cases = load_suite(suite_path)
    if against and (corpus or answerer):
        raise ValueError(
            "--against drives a server as it is: it cannot take --corpus or --answerer"
        )
    k = top_k or settings.top_k
    judge = judge or settings.judge
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    config: dict[str, Any] = {
        "suite": str(suite_path),
        "suite_digest": suite_digest(suite_path),
        "started_at": started_at.isoformat(timespec="seconds"),
        "top_k": k,
        "corpus": [str(p) for p in corpus],
        "against": against,
        "answerer": answerer if isinstance(answerer, str) or answerer is None else repr(answerer),
        "judge": judge,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "settings": settings.model_dump(mode="json", exclude={"api_key"}),
    }

    if against:
        http = HttpTarget(against)
        config["server"] = http.health()  # raises TargetError when unreachable
        if embedder is None:
            from index.embedder import Embedder

            embedder = Embedder.from_settings(settings)
        scorers = default_scorers(embedder, judge, settings)
        config["target"] = "http"
        results = run_cases(cases, http, scorers, k, progress)
    else:
        with open_index(settings, corpus, embedder, log, fresh=fresh) as (runtime, info):
            assistant = runtime.assistant
            if isinstance(answerer, str):
                plugged: Answerer | None = load_answerer(answerer, assistant)
            else:
                plugged = answerer(assistant) if answerer is not None else None
            target = LocalTarget(assistant, plugged)
            # The same embedding model instance, loaded once; the llm judge shares the reader's
            # local model when it has one. The model comes from the caller's settings, not
            # the run's: a --corpus run's data folder is temporary and must not get a copy.
            scorers = default_scorers(runtime.embedder, judge, settings, runtime.model)
            config["target"] = "local"
            config["index"] = vars(info)
            config["embedding_model"] = runtime.embedder.name
            config["embedding"] = runtime.embedder.identity()
            if log is not None:
                log(f"asking {len(cases)} questions ({target.description}, top_k={k})")
            results = run_cases(cases, target, scorers, k, progress)

    config["scorer"] = scorers.describe()
    config["seconds"] = round(time.perf_counter() - clock, 2)
    return EvalRun(
        suite_path=suite_path,
        results=results,
        aggregate=aggregate(results),
        counts=counts(results),
        by_kind=by_kind(results),
        config=config,
    )
