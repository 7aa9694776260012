"""`newsdesk eval run|compare|build-suites|validate-scorer`.

Module-level imports stay at argparse, pathlib and the metric table (the --min/--max options
come from it) so `newsdesk --help` does not pay for the model stack; each command imports what
it needs when it runs. Exit status: 0 pass, 1 a measured metric below its threshold (or a case
the target failed on), 2 usage errors.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.settings import Settings
    from eval.gate import Thresholds

from eval.metric_table import GATED

__all__ = ["EvalUsageError", "add_commands"]

_BOUND_OPTIONS = tuple(m for m in GATED if m.option)
"""The metrics with a --min-NAME (floor) or --max-NAME (ceiling) option, floors first."""


class EvalUsageError(Exception):
    """A problem with the user's input: printed as one line like newsdesk's own CliError,
    exit status 2. Handled here rather than by raising newsdesk.cli.CliError, because under
    ``python -m newsdesk.cli`` that module runs as ``__main__`` and a lazily imported
    ``newsdesk.cli.CliError`` is a different class its handler would not catch."""


def _usage_error(message: str) -> EvalUsageError:
    return EvalUsageError(message)


Command = Callable[[argparse.Namespace, "Settings"], int]


def _guarded(command: Command) -> Command:
    @functools.wraps(command)
    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return command(args, settings)
        except EvalUsageError as exc:
            print(f"newsdesk: error: {exc}", file=sys.stderr)
            return 2

    return run


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    parser = subparsers.add_parser(
        "eval",
        parents=[common],
        help="evaluate answers: run suites, compare reports, build benchmark suites",
        description="Measure faithfulness, citations, correctness, retrieval and refusals.",
    )
    commands = parser.add_subparsers(dest="eval_command", required=True, metavar="EVAL_COMMAND")

    run = commands.add_parser(
        "run",
        parents=[common],
        help="run a suite and gate on thresholds",
        description="Ask every question of SUITE (JSON Lines), score the answers, write "
        "reports, and exit 1 when a measured metric is below its threshold.",
    )
    run.add_argument("suite", type=Path, metavar="SUITE")
    run.add_argument(
        "--corpus",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        metavar="PATH",
        help="evaluate on these files/folders, in a temporary copy of their index from the "
        "eval cache (embedded on first use; $NEWSDESK_EVAL_CACHE_DIR, default "
        "DATA_DIR/eval-cache)",
    )
    run.add_argument(
        "--fresh",
        action="store_true",
        help="re-embed the --corpus files instead of reusing the eval cache's index of them",
    )
    run.add_argument("--report", type=Path, default=None, metavar="DIR", help="write reports here")
    run.add_argument("--against", default=None, metavar="URL", help="drive a running server")
    run.add_argument("--top-k", type=int, default=None, metavar="K")
    for metric in _BOUND_OPTIONS:
        run.add_argument(
            f"--{metric.option_prefix}-{metric.name.replace('_', '-')}",
            dest=f"{metric.option_prefix}_{metric.name}",
            type=float,
            default=None,
            metavar="X",
        )
    run.add_argument(
        "--thresholds",
        type=Path,
        default=None,
        metavar="FILE.json",
        help="thresholds file (default: eval/thresholds.json unless a --min/--max is given)",
    )
    run.add_argument(
        "--answerer",
        default=None,
        metavar="MODULE:FACTORY",
        help="answer with FACTORY(assistant) instead of the built-in assistant",
    )
    _add_judge_option(run)
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.set_defaults(run=_guarded(run_eval))

    compare = commands.add_parser(
        "compare", parents=[common], help="metric deltas and changed cases between two reports"
    )
    compare.add_argument("before", type=Path, metavar="A")
    compare.add_argument("after", type=Path, metavar="B")
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(run=_guarded(run_compare))

    build = commands.add_parser(
        "build-suites",
        parents=[common],
        help="write suites and corpora from the benchmark data in ../shared",
    )
    build.add_argument("--shared", type=Path, default=None, metavar="PATH")
    build.add_argument("--out", type=Path, default=Path("build/eval"), metavar="DIR")
    build.add_argument("--full", action="store_true", help="also build the full suites")
    build.add_argument("--subsets", type=Path, default=None, help=argparse.SUPPRESS)
    build.set_defaults(run=_guarded(run_build_suites))

    validate = commands.add_parser(
        "validate-scorer",
        parents=[common],
        help="check the faithfulness judge against human judgements (QAGS)",
        description="AUC and balanced accuracy of the judge at its one shipped threshold on "
        "every QAGS file given (default: QAGS-CNNDM and QAGS-XSum from ../shared), the same "
        "combination cross-validated by article, and the cost per claim.",
    )
    validate.add_argument(
        "paths", type=Path, nargs="*", default=[], metavar="PATH", help="QAGS JSON Lines files"
    )
    validate.add_argument(
        "--qags",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="a QAGS file (repeatable; same as a positional PATH)",
    )
    validate.add_argument(
        "--max-articles",
        type=int,
        default=None,
        metavar="N",
        help="a deterministic subset of N articles per file (quick checks; the llm judge "
        "costs seconds a claim)",
    )
    _add_judge_option(validate)
    validate.add_argument(
        "--verifier-cache",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep the llm judge's verdicts in DIR (keyed by model and prompt) and reuse them: "
        "one pass of the model feeds every later run in seconds (experiments)",
    )
    validate.add_argument(
        "--verifier-chunk",
        type=int,
        default=None,
        metavar="WORDS",
        help="give the llm judge's model the run of consecutive sentences (at most WORDS "
        "words) closest to the claim instead of its 8 closest sentences (experiments: the "
        "shipped constants were fitted with the sentences)",
    )
    validate.add_argument(
        "--llm-gate",
        type=float,
        default=None,
        metavar="P",
        help="ask the llm judge's model about claims the fast judge scores below P (default "
        "the shipped gate; 1 asks about every claim). Experiments: the shipped constants were "
        "fitted at the shipped gate, so only the cross-validated figures (refitted at P) hold",
    )
    validate.add_argument("--json", action="store_true")
    validate.set_defaults(run=_guarded(run_validate_scorer))


def _add_judge_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--judge",
        choices=("fast", "llm"),
        default=None,
        help="faithfulness judge: 'fast' (embeddings + lexical checks, ~ms a claim) or 'llm' "
        "(also asks the local model about the claims the fast judge cannot decide; needs the "
        "'local' extra, seconds a claim); default: NEWSDESK_JUDGE (fast)",
    )


def _thresholds(args: argparse.Namespace, suite: str) -> Thresholds:
    """--thresholds FILE, else the shipped defaults unless any --min/--max is given (then
    only those bounds apply); --min/--max always override the file's entries."""
    from eval.gate import Thresholds, default_thresholds_path, load_thresholds

    overrides: dict[str, float | None] = {
        m.name: getattr(args, f"{m.option_prefix}_{m.name}") for m in _BOUND_OPTIONS
    }
    given = any(v is not None for v in overrides.values())
    if args.thresholds is not None:
        base = load_thresholds(args.thresholds, suite)
    elif not given:
        base = load_thresholds(default_thresholds_path(), suite)
    else:
        base = Thresholds()
    return base.with_overrides(overrides)


def _progress_printer(quiet: bool) -> Any:
    def progress(position: int, total: int, result: Any) -> None:
        if quiet:
            return
        if result.error:
            state = "error"
        elif result.refused:
            state = "refused"
        else:
            state = {True: "correct", False: "wrong", None: "answered"}[result.correct]
        faith = "" if result.faithfulness is None else f" faith {result.faithfulness:.2f}"
        ms = "" if result.latency_ms is None else f" {result.latency_ms:.0f} ms"
        print(
            f"  [{position}/{total}] {result.case.id}: {state}{faith}{ms}",
            file=sys.stderr,
            flush=True,
        )

    return progress


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from eval.gate import ThresholdError, check

    if args.against and (args.corpus or args.answerer):
        raise _usage_error("--against drives a running server: drop --corpus/--answerer")
    if args.fresh and not args.corpus:
        raise _usage_error("--fresh re-embeds a --corpus: give --corpus PATH")
    from core.records import check_top_k

    try:
        check_top_k(args.top_k)
    except ValueError as exc:
        raise _usage_error(str(exc)) from None
    try:
        thresholds = _thresholds(args, args.suite.stem)
    except ThresholdError as exc:
        raise _usage_error(str(exc)) from None
    if args.report is not None and args.report.exists() and not args.report.is_dir():
        raise _usage_error(f"--report {args.report}: exists and is not a folder")

    from assistant.llm.base import ModelUnavailable
    from eval.report import build_report, failures, summary_table, write_reports
    from eval.runner import evaluate
    from eval.suite import SuiteError
    from eval.targets import AnswererError, TargetError
    from eval.workspace import CorpusError
    from index.embedder import EmbedderError
    from index.store import IndexMismatch

    def log(message: str) -> None:
        print(f"eval: {message}", file=sys.stderr, flush=True)

    try:
        run = evaluate(
            args.suite,
            settings,
            corpus=args.corpus,
            against=args.against,
            answerer=args.answerer,
            top_k=args.top_k,
            judge=args.judge or settings.judge,
            progress=_progress_printer(quiet=False),
            log=log,
            fresh=args.fresh,
        )
    except (
        SuiteError,
        CorpusError,
        AnswererError,
        ModelUnavailable,
        IndexMismatch,
        EmbedderError,
    ) as exc:
        raise _usage_error(str(exc)) from None
    except TargetError as exc:
        raise _usage_error(f"cannot reach the server: {exc}") from None

    checks = check(run.aggregate, thresholds, run.counts["errors"])
    report = build_report(run, checks, thresholds)
    written = write_reports(report, args.report) if args.report is not None else []
    if args.json:
        summary = {
            "suite": report["suite"],
            "passed": report["passed"],
            "aggregate": report["aggregate"],
            "counts": report["counts"],
            "checks": report["gate"]["checks"],
            "report": [str(p) for p in written],
        }
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(summary_table(report))
        if written:
            print(f"reports: {', '.join(str(p) for p in written)}")
    if not report["passed"]:
        print("newsdesk: eval: below threshold: " + "; ".join(failures(report)), file=sys.stderr)
        return 1
    return 0


def run_compare(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from eval.compare import compare_reports, format_comparison
    from eval.report import ReportError, load_report

    try:
        before, after = load_report(args.before), load_report(args.after)
    except ReportError as exc:
        raise _usage_error(str(exc)) from None
    comparison = compare_reports(before, after)
    print(json.dumps(comparison) if args.json else format_comparison(comparison))
    return 0


def run_build_suites(args: argparse.Namespace, settings: Settings) -> int:
    from eval.build import BuildError, build_suites
    from eval.datasets import default_shared

    shared = args.shared or default_shared()

    def log(message: str) -> None:
        print(f"eval: {message}", file=sys.stderr, flush=True)

    try:
        built, skipped = build_suites(
            shared, args.out, full=args.full, subsets=args.subsets, log=log
        )
    except BuildError as exc:
        raise _usage_error(str(exc)) from None
    for reason in skipped:
        print(f"skipped {reason}")
    for suite in built:
        print(f"{suite.name}: {suite.cases} cases over {suite.articles} articles ({suite.notes})")
        print(f"  {suite.command()}")
    print(f"manifest: {args.out / 'manifest.json'}")
    return 0 if built else 2


def run_validate_scorer(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from eval.datasets import default_shared

    paths: list[Path] = [*args.paths, *args.qags]
    if not paths:
        folder = default_shared() / "data" / "qags"
        paths = [p for p in (folder / "mturk_cnndm.jsonl", folder / "mturk_xsum.jsonl")]
        paths = [p for p in paths if p.is_file()]
        if not paths:
            raise _usage_error(f"no QAGS files in {folder} (pass PATH or --qags PATH)")
    for path in paths:
        if not path.is_file():
            raise _usage_error(f"{path}: no such QAGS file")
    if args.max_articles is not None and args.max_articles < 2:
        raise _usage_error("--max-articles must be at least 2")
    if args.verifier_chunk is not None and args.verifier_chunk < 20:
        raise _usage_error("--verifier-chunk must be at least 20 words")
    if args.llm_gate is not None and not 0 < args.llm_gate <= 1:
        raise _usage_error("--llm-gate must be in (0, 1]")
    args.judge = args.judge or settings.judge
    llm_only = [args.verifier_cache, args.verifier_chunk, args.llm_gate]
    if args.judge != "llm" and any(o is not None for o in llm_only):
        raise _usage_error("--verifier-cache, --verifier-chunk and --llm-gate need --judge llm")

    from assistant.judge.support import FITTED_ON, default_scorer, judge_model, llm_scorer
    from assistant.llm.base import ModelUnavailable
    from eval.encode_cache import cached
    from eval.qags import validate_judge
    from index.embedder import Embedder

    embedder = cached(Embedder.from_settings(settings))
    if args.judge == "llm":
        try:
            from assistant.judge.verifier import VerdictCache

            cache = VerdictCache(args.verifier_cache) if args.verifier_cache else None
            judge: Any = llm_scorer(
                embedder, judge_model(settings), cache=cache, chunk_words=args.verifier_chunk
            )
            if args.llm_gate is not None:
                judge.gate = args.llm_gate
        except (ModelUnavailable, TypeError) as exc:
            raise _usage_error(f"--judge llm: {exc}") from None
    else:
        judge = default_scorer(embedder)
    try:
        result = validate_judge(
            judge,
            paths,
            fitted_on=FITTED_ON[args.judge],
            max_articles=args.max_articles,
            log=lambda message: print(f"eval: {message}", file=sys.stderr, flush=True),
        )
    except (ValueError, KeyError) as exc:
        raise _usage_error(f"not a QAGS file ({exc})") from None
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"judge      {result['judge']} (threshold {result['threshold']:g})")
    print(f"fitted on  {', '.join(result['fitted_on']) or 'none of these'}")
    print(f"cv         {result['cross_validation']}")
    header = f"{'set':<8} {'n':>5} {'AUC':>6} {'BA':>6}   {'cv AUC':>6} {'cv BA':>6}   cost"
    print(header)
    for name, entry in result["sets"].items():
        cv = entry.get("cross_validated", {})
        cost = f"{entry['fast_ms_per_claim']:.0f} ms/claim fast"
        if "llm_ms_per_claim" in entry:
            cost = (
                f"{entry['llm_ms_per_claim']:.0f} ms/claim llm "
                f"({entry['verified_share']:.0%} asked, "
                f"{entry['llm_ms_per_verified_claim']:.0f} ms each); {cost}"
            )
        mark = "*" if entry["in_sample"] else " "
        print(
            f"{name:<8} {entry['n']:>5} {entry['auc']:>6.3f} {entry['balanced_accuracy']:>6.3f}"
            f"{mark}  {cv.get('auc', float('nan')):>6.3f} "
            f"{cv.get('balanced_accuracy', float('nan')):>6.3f}   {cost}"
        )
    if any(e["in_sample"] for e in result["sets"].values()):
        print("* in-sample: the shipped constants were fitted on this set; cv is held out")
    return 0
