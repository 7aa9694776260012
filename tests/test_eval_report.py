"""The eval report's worst cases: every claim with the judge's score against its threshold and
the evidence span that supports it best, marked inside its passage, in report.html and
report.json alike.

A small real run: four demo-suite questions against the demo articles, the real assistant
and the fast judge, with an answerer that adds one HTML-laden sentence to each answer (the
report must escape it, and the judge must fail it).
"""

from __future__ import annotations

import json
import os
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from conftest import DEMO, REPO

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import broken_answerer

from assistant.judge.claims import strip_citations
from assistant.judge.support import DEFAULT_THRESHOLD, default_scorer
from eval.faithfulness import faithfulness
from eval.html_report import highlight
from eval.testing import SuiteOutcome, check_suite
from index.embedder import Embedder

DEMO_SUITE = REPO / "eval" / "suites" / "demo.jsonl"
CASES = ("speaker", "lewiston-toll", "rafah", "nobel-literature")
MARKUP = broken_answerer.MarkupAnswerer.SENTENCE


@pytest.fixture(scope="module")
def run(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteOutcome, Path]:
    folder = tmp_path_factory.mktemp("worst-cases")
    suite = folder / "worst.jsonl"
    lines = DEMO_SUITE.read_text(encoding="utf-8").splitlines()
    suite.write_text(
        "\n".join(line for line in lines if json.loads(line)["id"] in CASES) + "\n",
        encoding="utf-8",
    )
    report = folder / "report"
    outcome = check_suite(
        suite, [DEMO], embedder=embedder, answerer=broken_answerer.with_markup, report_dir=report
    )
    return outcome, report


def _cases(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in report["cases"]}


@pytest.mark.slow
def test_report_json_carries_each_claims_score_threshold_judge_and_evidence(
    run: tuple[SuiteOutcome, Path],
) -> None:
    report = json.loads((run[1] / "report.json").read_text(encoding="utf-8"))
    faith = report["config"]["scorer"]["faithfulness"]
    assert faith["judge"] == "fast" and faith["threshold"] == DEFAULT_THRESHOLD
    claims = [(case, claim) for case in report["cases"] for claim in case["claims"]]
    assert len(claims) >= 6  # three answered cases, each its honest claims plus the markup one
    for case, claim in claims:
        assert claim["judge"] == "fast" and claim["threshold"] == DEFAULT_THRESHOLD
        assert claim["supported"] == (claim["score"] >= DEFAULT_THRESHOLD)
        evidence = claim["evidence"]
        assert evidence is not None, claim
        assert evidence["citation"] == claim["best_citation"] in claim["citations"]
        passage = next(c["passage"] for c in case["citations"] if c["id"] == evidence["citation"])
        assert passage[evidence["start"] : evidence["end"]] == evidence["text"]
        assert len(evidence["text"]) > 20  # a sentence or more, not a stray fragment
    # The honest answers' claims are supported, the planted sentence is not.
    markup = strip_citations(MARKUP)[0]
    for case in _cases(report).values():
        if case["refused"]:
            continue
        verdicts = {c["text"]: c["supported"] for c in case["claims"]}
        assert verdicts.pop(markup) is False
        assert verdicts and all(verdicts.values()), case["claims"]


@pytest.mark.slow
def test_html_worst_cases_show_claim_scores_and_marked_evidence(
    run: tuple[SuiteOutcome, Path],
) -> None:
    report = json.loads((run[1] / "report.json").read_text(encoding="utf-8"))
    html = (run[1] / "report.html").read_text(encoding="utf-8")
    assert f"judge fast (threshold {DEFAULT_THRESHOLD})" in html  # the header names the judge
    worst = html[html.index('<h2 id="worst-cases">') : html.index("<h2>All cases</h2>")]
    answered = [c for c in report["cases"] if c["claims"]]
    assert len(answered) == 3
    for case in answered:  # each has an unsupported claim, so each is among the worst
        assert escape_text(case["question"]) in worst
        for claim in case["claims"]:
            shown = f"fast judge <b class='{'st-pass' if claim['supported'] else 'st-fail'}'>"
            assert f"{shown}{claim['score']:.2f}</b>" in worst
    assert worst.count("<div class='claim ok'>") == sum(
        c["supported"] for case in answered for c in case["claims"]
    )
    assert worst.count("<div class='claim bad'>") == 3
    assert f"{DEFAULT_THRESHOLD:g}" in worst and " &lt; " in worst and " ≥ " in worst
    # Every marked span is the judge's evidence, and a substring of its cited passage.
    marked = [unescape(m) for m in re.findall(r"<mark>(.*?)</mark>", worst, flags=re.DOTALL)]
    passages = [c["passage"] for case in answered for c in case["citations"]]
    evidence = {claim["evidence"]["text"] for case in answered for claim in case["claims"]}
    assert len(marked) == sum(len(case["claims"]) for case in answered)
    for span in marked:
        assert span in evidence
        assert any(span in passage for passage in passages), span


@pytest.mark.slow
def test_html_escapes_answers_and_claims(run: tuple[SuiteOutcome, Path]) -> None:
    html = (run[1] / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<b>220" not in html
    claim = strip_citations(MARKUP)[0]
    assert escape_text(claim) in html  # the claim, in its card
    assert html.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;") >= 6  # A: and claim
    markdown = (run[1] / "report.md").read_text(encoding="utf-8")
    assert f"judge fast (threshold {DEFAULT_THRESHOLD})" in markdown


def escape_text(text: str) -> str:
    from html import escape

    return escape(text, quote=True)


def test_highlight_marks_the_span_and_escapes_around_it() -> None:
    passage = "A & B <i>met</i> on Friday. " + "Filler words here. " * 40 + "The end."
    start = passage.index("on Friday")
    shown = highlight(passage, start, start + len("on Friday."), context=30)
    assert "<mark>on Friday.</mark>" in shown
    assert shown.startswith("A &amp; B &lt;i&gt;met&lt;/i&gt; ") and shown.endswith("…")
    late = passage.index("The end.")
    shown = highlight(passage, late, len(passage), context=25)
    assert shown.startswith("…") and shown.endswith("<mark>The end.</mark>")
    assert "<mark>" in highlight("x < y", 0, 1) and "&lt; y" in highlight("x < y", 0, 1)


def test_evidence_span_is_the_passage_as_written(embedder: Embedder) -> None:
    """Offsets point into the passage with its markers and line breaks, not the judge's
    cleaned copy of it, and pick the sentence the claim restates."""
    passage = (
        "Thousands of mourners filled the mosque in Doha [2].\n\n"
        "The ministry  said 1,400 people\nwere killed in the October attack [3]. "
        "The weather was hot."
    )
    result = faithfulness(
        "The ministry said 1,400 people were killed [1].", {1: passage}, default_scorer(embedder)
    )
    span = result.claims[0].evidence
    assert span is not None and passage[span.start : span.end] == span.text
    assert span.text.startswith("The ministry  said 1,400 people\nwere killed")
    assert "mourners" not in span.text and "weather" not in span.text
