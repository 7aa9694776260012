"""report.html: one self-contained page (inline CSS, inline SVG drawn here, no script, nothing
fetched) so it opens from a CI artefact store, an e-mail attachment or an air-gapped machine.

Every string from the report goes through ``html.escape``: questions and answers are news
text, and news text contains ``<``, ``&`` and quotes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from eval.metric_table import BY_KIND, GATED, LOWER_IS_BETTER, format_value
from eval.triage import problems

__all__ = ["bar_chart", "highlight", "histogram", "judge_text", "render_html"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2430;
background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600}
.pass{background:#2f8f46}.fail{background:#c23b3b}.muted{color:#66707f}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:14px 16px;margin:10px 0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:12px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e6e9ee;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.st-fail{color:#c23b3b;font-weight:600}.st-pass{color:#2f8f46}
.claim{background:#fff3f3;border-left:3px solid #c23b3b;padding:4px 8px;margin:8px 0 2px}
.claim.ok{background:#f1faf3;border-left-color:#2f8f46}
.score{font-variant-numeric:tabular-nums;white-space:nowrap;margin-left:6px}
mark{background:#ffe08a;padding:0 1px}
.passage{background:#f3f6fb;border-left:3px solid #7a8ca8;padding:4px 8px;margin:4px 0;
white-space:pre-wrap;font-size:13px}
.tag{display:inline-block;background:#fde8e8;color:#8a1f1f;border-radius:4px;padding:0 6px;
margin-right:4px;font-size:12px}
svg{max-width:100%;height:auto}svg text{font-family:system-ui,sans-serif}
.wide{grid-column:1/-1}
"""

_GREEN, _RED, _GREY, _BLUE = "#2f8f46", "#c23b3b", "#b7bec9", "#4a78b8"


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def bar_chart(values: dict[str, float | None], bounds: dict[str, float], width: int = 640) -> str:
    """Horizontal bars on a 0..1 scale with each threshold drawn as a vertical tick; the bar
    is red when the threshold fails, grey (labelled "not measured") when the value is null."""
    row, left, right = 26, 190, 70
    span = width - left - right
    height = row * len(values) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="aggregate metrics">'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + span * tick
        parts.append(
            f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{height - 22}" stroke="#e3e6eb"/>'
            f'<text x="{x:.1f}" y="{height - 8}" font-size="11" text-anchor="middle" '
            f'fill="#66707f">{tick:g}</text>'
        )
    for i, (metric, value) in enumerate(values.items()):
        y = 6 + i * row
        lower = metric in LOWER_IS_BETTER
        label = metric + (" ↓" if lower else "")
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        bound = bounds.get(metric)
        if value is None:
            parts.append(
                f'<rect x="{left}" y="{y + 3}" width="{span}" height="16" fill="#f0f1f4"/>'
                f'<text x="{left + 6}" y="{y + 15}" font-size="11" fill="#66707f">'
                "not measured</text>"
            )
        else:
            ok = bound is None or (value <= bound if lower else value >= bound)
            colour = _BLUE if bound is None else (_GREEN if ok else _RED)
            w = span * max(0.0, min(1.0, value))
            parts.append(
                f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="16" fill="{colour}" '
                f'rx="2"><title>{escape(metric)} = {value:.3f}</title></rect>'
                f'<text x="{left + span + 6}" y="{y + 15}" font-size="12">{value:.3f}</text>'
            )
        if bound is not None:
            x = left + span * max(0.0, min(1.0, bound))
            parts.append(
                f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 22}" stroke="#1d2430" '
                f'stroke-width="2" stroke-dasharray="3 2"><title>threshold '
                f"{'<=' if lower else '>='} {bound:g}</title></line>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _nice_step(maximum: float, bins: int) -> float:
    raw = maximum / bins if maximum > 0 else 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def histogram(
    values: Sequence[float],
    title: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    bins: int = 10,
    unit: str = "",
    width: int = 420,
    height: int = 200,
) -> str:
    """Counts per equal-width bin; fixed 0..1 bins for scores so runs compare by eye, and
    round-numbered bins from 0 for latencies."""
    if lo is None or hi is None:
        step = _nice_step(max(values, default=1.0), bins)
        lo, hi = 0.0, step * bins
    step = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        index = min(bins - 1, max(0, int((v - lo) / step))) if step > 0 else 0
        counts[index] += 1
    top = max(counts, default=0) or 1
    left, bottom, pad = 34, 34, 26
    plot_w, plot_h = width - left - pad, height - bottom - 24
    bar_w = plot_w / bins
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_attr(title)}">',
        f'<text x="{left}" y="14" font-size="12" font-weight="600">{escape(title)} '
        f"(n={len(values)})</text>",
        f'<line x1="{left}" y1="{24 + plot_h}" x2="{left + plot_w}" y2="{24 + plot_h}" '
        'stroke="#66707f"/>',
        f'<text x="{left - 6}" y="30" font-size="10" text-anchor="end">{top}</text>',
        f'<text x="{left - 6}" y="{24 + plot_h}" font-size="10" text-anchor="end">0</text>',
    ]
    for i, count in enumerate(counts):
        h = plot_h * count / top
        x = left + i * bar_w
        start, end = lo + i * step, lo + (i + 1) * step
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{24 + plot_h - h:.1f}" width="{bar_w - 2:.1f}" '
            f'height="{h:.1f}" fill="{_BLUE}"><title>{start:g}–{end:g}{unit}: {count}'
            "</title></rect>"
        )
        if count:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{24 + plot_h - h - 3:.1f}" font-size="10" '
                f'text-anchor="middle">{count}</text>'
            )
    for i in range(0, bins + 1, 2 if bins > 6 else 1):
        x = left + i * bar_w
        parts.append(
            f'<text x="{x:.1f}" y="{24 + plot_h + 14}" font-size="10" text-anchor="middle">'
            f"{lo + i * step:g}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" font-size="11" '
        f'text-anchor="middle" fill="#66707f">{escape(unit.strip() or "score")}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _metrics_table(report: dict[str, Any]) -> str:
    checks = {c["metric"]: c for c in report["gate"]["checks"]}
    rows = []
    for metric, value in report["aggregate"].items():
        c = checks.get(metric)
        status = c["status"] if c else ("not measured" if value is None else "")
        bound = f"{c['op']} {format_value(metric, c['bound'])}" if c else ""
        rows.append(
            f"<tr><td>{escape(metric)}</td><td class='num'>{format_value(metric, value)}</td>"
            f"<td>{escape(bound)}</td><td class='st-{status.split()[0] if status else ''}'>"
            f"{escape(status)}</td></tr>"
        )
    return (
        "<table><tr><th>metric</th><th>value</th><th>threshold</th><th>status</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _severity(case: dict[str, Any]) -> tuple[float, int]:
    faith = case.get("faithfulness")
    return (
        faith if faith is not None else 1.0,
        -int(bool(case.get("error") or case.get("wrong_refusal") or case.get("correct") is False)),
    )


def highlight(passage: str, start: int, end: int, context: int = 300) -> str:
    """``passage`` escaped, with ``passage[start:end]`` inside ``<mark>`` and at most
    ``context`` characters either side (cut at a space, "…" where cut)."""
    start, end = max(0, min(start, len(passage))), max(0, min(end, len(passage)))
    lo, hi = max(0, start - context), min(len(passage), end + context)
    if lo > 0:
        lo = passage.find(" ", lo, start) + 1 or lo
    if hi < len(passage):
        cut = passage.rfind(" ", end, hi)
        hi = cut if cut > end else hi
    return (
        ("…" if lo > 0 else "")
        + escape(passage[lo:start])
        + f"<mark>{escape(passage[start:end])}</mark>"
        + escape(passage[end:hi])
        + ("…" if hi < len(passage) else "")
    )


def _claim_html(claim: dict[str, Any], citations: dict[int, dict[str, Any]], judge: str) -> str:
    """One claim: its text, the judge's score against the threshold (pass/fail styled), and
    the passage it is best supported by with the judge's best span marked."""
    ok = bool(claim.get("supported"))
    threshold = claim.get("threshold")
    score = claim["score"]
    versus = "" if threshold is None else f" {'≥' if score >= threshold else '<'} {threshold:g}"
    verifier = (
        f", model P(yes) {claim['verifier']:.2f}" if claim.get("verifier") is not None else ""
    )
    marks = "".join(f"[{n}]" for n in claim.get("citations", []))
    head = (
        f"<div class='claim {'ok' if ok else 'bad'}'>"
        f"<span class='{'st-pass' if ok else 'st-fail'}'>{'supported' if ok else 'unsupported'}"
        f"</span> {escape(claim['text'])} <span class='muted'>{escape(marks)}</span>"
        f"<span class='score'>{escape(claim.get('judge') or judge)} judge "
        f"<b class='{'st-pass' if ok else 'st-fail'}'>{score:.2f}</b>{escape(versus)}"
        f"{escape(verifier)}</span></div>"
    )
    evidence = claim.get("evidence")
    if evidence and evidence.get("citation") in citations:
        cited = citations[evidence["citation"]]
        body = highlight(cited["passage"], evidence["start"], evidence["end"])
        return (
            head + f"<div class='passage evidence'><b>[{evidence['citation']}] "
            f"{escape(cited['title'])}</b> <span class='muted'>best evidence, similarity "
            f"{evidence['similarity']:.2f}</span>\n{body}</div>"
        )
    missing = [n for n in claim.get("citations", []) if n not in citations]
    if not claim.get("citations"):
        return head + "<div class='muted'>cites nothing</div>"
    if missing:
        return head + (
            f"<div class='muted'>no such citation: {escape(', '.join(map(str, missing)))}</div>"
        )
    return head


def _case_card(case: dict[str, Any], judge: str) -> str:
    tags = "".join(f"<span class='tag'>{escape(p)}</span>" for p in problems(case))
    citations = {c["id"]: c for c in case.get("citations", [])}
    claims = case.get("claims", [])
    claims_html = (
        "<h4>Claims: judge score and the evidence that supports each best</h4>"
        + "".join(_claim_html(c, citations, judge) for c in claims)
        if claims
        else ""
    )
    gold = case.get("gold_answers") or []
    gold_html = (
        f"<div><b>Gold:</b> {escape(' | '.join(gold))}</div>"
        if gold
        else ("<div><b>Gold:</b> unanswerable</div>" if case.get("unanswerable") else "")
    )
    fake = (
        f"<div><b>Planted answer:</b> {escape(case['fake_answer'])}</div>"
        if case.get("fake_answer")
        else ""
    )
    answer = case.get("answer") or ""
    error = f"<div class='st-fail'>{escape(case['error'])}</div>" if case.get("error") else ""
    return (
        f"<div class='card'><div>{tags}<span class='muted'>{escape(case['id'])}"
        f"{' · ' + escape(case['kind']) if case.get('kind') else ''}</span></div>"
        f"<div><b>Q:</b> {escape(case['question'])}</div>{gold_html}{fake}"
        f"<div><b>A:</b> {escape(answer)}</div>{error}{claims_html}</div>"
    )


def _cases_table(cases: Sequence[dict[str, Any]]) -> str:
    def cell(value: object, good: bool | None = True) -> str:
        """``good``: whether True is the good outcome (None: neither, shown plain)."""
        if value is None:
            return "<td class='muted'>–</td>"
        if isinstance(value, bool) and good is None:
            return f"<td>{'yes' if value else 'no'}</td>"
        if isinstance(value, bool):
            return (
                f"<td class='{'st-pass' if value else 'st-fail'}'>{'yes' if value else 'no'}</td>"
            )
        if isinstance(value, float):
            return f"<td class='num'>{value:.2f}</td>"
        return f"<td>{escape(str(value))}</td>"

    rows = "".join(
        "<tr>"
        + cell(c["id"])
        + cell(c.get("kind") or "")
        + f"<td>{escape(c['question'])}</td>"
        + cell(c.get("refused"), good=None)
        + cell(c.get("correct"))
        + cell(c.get("faithfulness"))
        + cell(c.get("recall_at_k"))
        + cell(None if c.get("latency_ms") is None else round(c["latency_ms"]))
        + "</tr>"
        for c in cases
    )
    return (
        "<table><tr><th>id</th><th>kind</th><th>question</th><th>refused</th><th>correct</th>"
        "<th>faithful</th><th>recall@k</th><th>ms</th></tr>" + rows + "</table>"
    )


def _judge(config: dict[str, Any]) -> tuple[str, str]:
    """The faithfulness judge's variant (fast|llm) and threshold, as the run recorded them."""
    faith = config.get("scorer", {}).get("faithfulness", {})
    variant = faith.get("judge") or config.get("judge") or faith.get("name") or "?"
    return str(variant), str(faith.get("threshold", "?"))


def judge_text(config: dict[str, Any]) -> str:
    """ "judge fast (threshold 0.58)": what every report's headline says it was judged by."""
    variant, threshold = _judge(config)
    return f"judge {variant} (threshold {threshold})"


def render_html(report: dict[str, Any], worst: int = 15) -> str:
    aggregate = report["aggregate"]
    bounds = report["gate"]["thresholds"]
    # The gated metrics on a 0..1 scale (latencies are not), floors first.
    rates = {
        m.name: aggregate.get(m.name) for m in GATED if m.on_unit_scale and m.name in aggregate
    }
    cases = report["cases"]
    faith = [c["faithfulness"] for c in cases if c.get("faithfulness") is not None]
    latency = [c["latency_ms"] for c in cases if c.get("latency_ms") is not None]
    bad = sorted((c for c in cases if problems(c)), key=_severity)[:worst]
    judge, threshold = _judge(report["config"])
    faith_plot = histogram(faith, "Per-case faithfulness", lo=0.0, hi=1.0)
    config = report["config"]
    passed = report["passed"]
    failing = [c for c in report["gate"]["checks"] if c["status"] == "fail"]
    fail_text = (
        "<p class='st-fail'>Below threshold: "
        + escape(
            ", ".join(f"{c['metric']} {format_value(c['metric'], c['value'])}" for c in failing)
        )
        + "</p>"
        if failing
        else ""
    )
    by_kind = ""
    if report.get("by_kind"):
        metrics = BY_KIND
        by_kind = (
            "<h2>By kind</h2><table><tr><th>kind</th>"
            + "".join(f"<th>{m}</th>" for m in metrics)
            + "</tr>"
            + "".join(
                f"<tr><td>{escape(kind)}</td>"
                + "".join(f"<td class='num'>{format_value(m, agg.get(m))}</td>" for m in metrics)
                + "</tr>"
                for kind, agg in report["by_kind"].items()
            )
            + "</table>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Eval {escape(report["suite"]["name"])}: {"PASS" if passed else "FAIL"}</title>
<style>{_CSS}</style></head>
<body><main>
<h1>{escape(report["suite"]["name"])}
<span class="badge {"pass" if passed else "fail"}">{"PASS" if passed else "FAIL"}</span></h1>
<div class="muted">{aggregate.get("n_cases")} cases · {escape(str(config.get("started_at", "")))}
· {escape(config.get("against") or config.get("target") or "")} · top_k {config.get("top_k")}
· {config.get("seconds", 0):.1f} s · commit {escape(str(config.get("git_commit") or "?"))}
· {escape(judge_text(config))}</div>
{fail_text}
<h2>Aggregate metrics</h2>
<div class="grid"><div class="card wide">{bar_chart(rates, bounds, width=900)}
<div class="muted">Dashed line: threshold. ↓ lower is better. Null metrics are not measured by
this suite and never fail.</div></div>
<div class="card wide">{_metrics_table(report)}</div></div>
<h2>Distributions</h2>
<div class="grid"><div class="card">{faith_plot}</div>
<div class="card">{histogram(latency, "Latency per question", unit=" ms")}</div></div>
{by_kind}
<h2 id="worst-cases">Worst cases ({len(bad)})</h2>
<p class="muted">Lowest faithfulness and failing cases first. Each claim is scored by the
{escape(judge)} judge against its shipped threshold {escape(threshold)}; the marked text is
the span of the cited passage that supports the claim best.</p>
{"".join(_case_card(c, judge) for c in bad) or "<p class='muted'>No failing case.</p>"}
<h2>All cases</h2>
{_cases_table(cases)}
</main></body></html>
"""
