"""The run's record: report.json (everything), report.md (a table for a CI log) and the
printed summary. The HTML page is eval.html_report's job.

report.json is the interface: ``compare`` reads it back, CI archives it, and its
``aggregate`` object has a fixed set of keys with null for what the suite cannot measure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.gate import Check, Thresholds
from eval.html_report import judge_text, render_html
from eval.metric_table import BY_KIND, METRICS, format_value
from eval.runner import EvalRun
from eval.triage import problems

__all__ = [
    "SCHEMA",
    "ReportError",
    "build_report",
    "failures",
    "load_report",
    "markdown",
    "summary_table",
    "write_reports",
]

SCHEMA = "newsdesk-eval-report/1"


class ReportError(ValueError):
    """A report path that does not hold a readable report.json: a usage error."""


def build_report(run: EvalRun, checks: Sequence[Check], thresholds: Thresholds) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "suite": {"name": run.name, "path": str(run.suite_path)},
        "passed": all(c.status != "fail" for c in checks),
        "aggregate": {m.name: run.aggregate.get(m.name) for m in METRICS},
        "counts": run.counts,
        "by_kind": run.by_kind,
        "gate": {
            "thresholds": thresholds.bounds,
            "source": thresholds.source,
            "checks": [c.as_dict() for c in checks],
        },
        "config": run.config,
        "cases": [r.as_dict() for r in run.results],
    }


def _rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    checks = {c["metric"]: c for c in report["gate"]["checks"]}
    rows: list[tuple[str, str, str, str]] = []
    for metric in METRICS:
        name = metric.name
        value = report["aggregate"].get(name)
        c = checks.get(name)
        bound = f"{c['op']} {format_value(name, c['bound'])}" if c else ""
        status = c["status"] if c else ("not measured" if value is None else "")
        rows.append((name, format_value(name, value), bound, status))
    errors = checks.get("errors")
    if errors and errors["value"]:
        rows.append(("errors", str(errors["value"]), "<= 0", errors["status"]))
    return rows


def _headline(report: dict[str, Any]) -> str:
    config = report["config"]
    target = config.get("against") or (
        f"local {'temporary index' if config.get('corpus') else 'index'}"
    )
    if config.get("answerer"):
        target += f", answerer {config['answerer']}"
    if config.get("scorer", {}).get("faithfulness"):
        target += f", {judge_text(config)}"
    return (
        f"{report['suite']['name']}: {report['aggregate']['n_cases']} cases, "
        f"{config.get('seconds', 0):.1f} s, {target}, top_k={config.get('top_k')}"
    )


def failures(report: dict[str, Any]) -> list[str]:
    return [
        f"{c['metric']} = {format_value(c['metric'], c['value'])} "
        f"(required {c['op']} {format_value(c['metric'], c['bound'])})"
        for c in report["gate"]["checks"]
        if c["status"] == "fail"
    ]


def summary_table(report: dict[str, Any]) -> str:
    rows = [("metric", "value", "threshold", "status"), *_rows(report)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [_headline(report), ""]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    failed = failures(report)
    lines.append("")
    lines.append("FAIL: " + "; ".join(failed) if failed else "PASS: every measured threshold met")
    return "\n".join(lines)


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Eval: {report['suite']['name']} — {'PASS' if report['passed'] else 'FAIL'}",
        "",
        _headline(report),
        "",
        "| metric | value | threshold | status |",
        "|---|---:|---|---|",
    ]
    lines += [f"| {m} | {v} | {b} | {s} |" for m, v, b, s in _rows(report)]
    if report.get("by_kind"):
        metrics = BY_KIND
        lines += ["", "## By kind", "", "| kind | " + " | ".join(metrics) + " |"]
        lines.append("|---|" + "---:|" * len(metrics))
        for kind, agg in report["by_kind"].items():
            cells = " | ".join(format_value(m, agg.get(m)) for m in metrics)
            lines.append(f"| {kind} | {cells} |")
    bad = [c for c in report["cases"] if _is_bad(c)]
    if bad:
        lines += ["", "## Cases to look at", "", "| id | problem | question | answer |"]
        lines.append("|---|---|---|---|")
        for case in bad[:25]:
            lines.append(
                f"| {case['id']} | {', '.join(problems(case))} | {_cell(case['question'], 90)} "
                f"| {_cell(case['answer'] or case.get('error') or '')} |"
            )
    return "\n".join(lines) + "\n"


def _is_bad(case: dict[str, Any]) -> bool:
    return bool(problems(case))


def write_reports(report: dict[str, Any], directory: str | Path) -> list[Path]:
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ReportError(f"{directory}: exists and is not a folder")
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "report.json": json.dumps(report, indent=2, ensure_ascii=False) + "\n",
        "report.md": markdown(report),
        "report.html": render_html(report),
    }
    written = []
    for name, text in paths.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def load_report(path: str | Path) -> dict[str, Any]:
    """A report by its folder or its report.json."""
    path = Path(path)
    file = path / "report.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(
            f"{file}: no such report (expected a report folder or report.json)"
        ) from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{file}: malformed JSON ({exc.msg})") from None
    if not isinstance(data, dict) or "aggregate" not in data or "cases" not in data:
        raise ReportError(f"{file}: not an eval report (no 'aggregate' and 'cases')")
    return data
