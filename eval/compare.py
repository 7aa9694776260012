"""Before/after of two reports: every metric's delta, and the cases that changed.

Aggregates can hide churn (two cases fixed, two others broken, same correctness), so the
cases whose correctness flipped or whose faithfulness moved are listed by id.
"""

from __future__ import annotations

from typing import Any

from eval.metric_table import METRICS, format_delta, format_value

__all__ = ["compare_reports", "format_comparison"]

_FAITH_EPSILON = 0.005


def compare_reports(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    metrics = []
    for row in METRICS:
        a = before["aggregate"].get(row.name)
        b = after["aggregate"].get(row.name)
        delta = round(b - a, 4) if a is not None and b is not None else None
        better = None
        if delta and row.higher_is_better is not None:
            better = (delta > 0) if row.higher_is_better else (delta < 0)
        metrics.append(
            {"metric": row.name, "before": a, "after": b, "delta": delta, "improved": better}
        )
    old = {c["id"]: c for c in before["cases"]}
    new = {c["id"]: c for c in after["cases"]}
    changed = []
    for case_id, b in new.items():
        a = old.get(case_id)
        if a is None:
            continue
        what = []
        if a.get("correct") != b.get("correct"):
            what.append(f"correct {_flag(a.get('correct'))} -> {_flag(b.get('correct'))}")
        fa, fb = a.get("faithfulness"), b.get("faithfulness")
        if (fa is None) != (fb is None) or (
            fa is not None and fb is not None and abs(fa - fb) > _FAITH_EPSILON
        ):
            what.append(f"faithfulness {_num(fa)} -> {_num(fb)}")
        if a.get("refused") != b.get("refused"):
            what.append(f"refused {_flag(a.get('refused'))} -> {_flag(b.get('refused'))}")
        if what:
            changed.append({"id": case_id, "question": b["question"], "changes": what})
    return {
        "before": before.get("suite", {}).get("name"),
        "after": after.get("suite", {}).get("name"),
        "metrics": metrics,
        "changed_cases": changed,
        "only_before": sorted(set(old) - set(new)),
        "only_after": sorted(set(new) - set(old)),
    }


def _flag(value: object) -> str:
    return "–" if value is None else ("yes" if value else "no")


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def format_comparison(comparison: dict[str, Any]) -> str:
    rows = [("metric", "before", "after", "delta", "")]
    for m in comparison["metrics"]:
        metric = m["metric"]
        delta = m["delta"]
        shown = "n/m" if delta is None else format_delta(metric, delta)
        mark = {True: "better", False: "worse", None: ""}[m["improved"]]
        rows.append(
            (
                metric,
                format_value(metric, m["before"]),
                format_value(metric, m["after"]),
                shown,
                mark,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for i, row in enumerate(rows):
        lines.append(
            "  ".join(
                c.rjust(widths[j]) if 0 < j < 4 else c.ljust(widths[j]) for j, c in enumerate(row)
            ).rstrip()
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    changed = comparison["changed_cases"]
    lines.append("")
    lines.append(f"{len(changed)} case(s) changed" + (":" if changed else ""))
    for case in changed:
        lines.append(f"  {case['id']}: {'; '.join(case['changes'])}  — {case['question'][:80]}")
    for key, label in (("only_before", "only in A"), ("only_after", "only in B")):
        if comparison[key]:
            lines.append(
                f"{len(comparison[key])} case(s) {label}: {', '.join(comparison[key][:20])}"
            )
    return "\n".join(lines)
