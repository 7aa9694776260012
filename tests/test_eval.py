"""The evaluation harness: metrics, suites, gating, reports, and the real assistant under it.

Everything answer-side runs the real model and the real assistant (Chroma on disk in temp
folders, a real uvicorn server for --against). The broken answerer in broken_answerer.py
proves the gate catches swapped names and misdirected citations rather than passing
whatever it is given.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from pathlib import Path

import pytest

from conftest import DEMO, REPO, Server, newsdesk_command, shared_file

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import broken_answerer

from core.articles import Article, make_article
from eval.build import _realtimeqa_records
from eval.compare import compare_reports, format_comparison
from eval.datasets import Case, Search, realtimeqa_cases
from eval.gate import ThresholdError, Thresholds, check, load_thresholds, parse_thresholds
from eval.html_report import bar_chart, histogram, render_html
from eval.metrics import (
    contains_answer,
    exact_match,
    normalise,
    passage_matches,
    percentile,
    retrieval_scores,
    token_f1,
    word_overlap_correct,
)
from eval.report import build_report, load_report, markdown
from eval.runner import EvalRun, by_kind
from eval.scoring import AGGREGATE_METRICS, CaseResult, aggregate, counts, gold_statement
from eval.suite import SuiteCase, SuiteError, load_suite
from eval.testing import SuiteOutcome, assert_suite, check_suite
from index.embedder import Embedder
from newsdesk.cli import main

DEMO_SUITE = REPO / "eval" / "suites" / "demo.jsonl"
SUBSETS = REPO / "eval" / "suites" / "subsets.json"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        newsdesk_command(*args),
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


# --------------------------------------------------------------------------------------------
# (a) metrics, suites and gating: pure functions


class TestNormalisation:
    def test_case_punctuation_articles_accents(self) -> None:
        assert normalise("The Rafah crossing!") == "rafah crossing"
        assert normalise("Andrés Manuel López Obrador") == "andres manuel lopez obrador"
        assert normalise("the “Squid Game” series [2]") == "squid game series"

    def test_numbers_and_percentages(self) -> None:
        assert normalise("1,400 people") == normalise("1400 people")
        assert normalise("4 per cent") == normalise("4%")
        assert normalise("4.5") != normalise("45")

    def test_containment_needs_whole_words(self) -> None:
        assert contains_answer("A convoy of 20 trucks crossed [1].", ["20"])
        assert not contains_answer("About 180 people were hurt.", ["18"])
        assert contains_answer("Max Verstappen claimed his 16th victory.", ["Verstappen"])
        assert not contains_answer("Mike Johnson won.", ["Johnson Mike"])

    def test_a_small_number_in_words_and_a_plural_match_the_gold(self) -> None:
        """News copy writes "four" where the gold says "4", and "UFO sightings" where it says
        "UFOs": the same answer, not a wrong one."""
        assert contains_answer("Households can order four free tests [1].", ["4"])
        assert contains_answer("Reports of UFO sightings [1].", ["UFOs"])
        assert contains_answer("The Detroit Lion mascot", ["Detroit Lions"])
        assert not contains_answer("Households can order fourteen tests.", ["4"])
        assert not contains_answer("The Lions won.", ["Detroit Lions"])
        assert not contains_answer("Across the border", ["Acros"])

    def test_polar_gold_only_at_the_start(self) -> None:
        assert contains_answer("No, the article does not say so.", ["no"])
        assert not contains_answer("There is no sign of a ceasefire.", ["no"])

    def test_token_f1_and_exact_match(self) -> None:
        assert token_f1("Max Verstappen won", ["Max Verstappen"]) == pytest.approx(0.8)
        assert token_f1("nothing relevant", ["Max Verstappen"]) == 0.0
        assert token_f1("Verstappen", ["Lewis Hamilton", "Verstappen"]) == 1.0
        assert exact_match("The Rafah crossing.", ["Rafah crossing"])
        assert not exact_match("Through the Rafah crossing", ["Rafah crossing"])

    def test_gold_statement(self) -> None:
        assert gold_statement("Who won the Mexico City Grand Prix?", "Max Verstappen") == (
            "Max Verstappen won the Mexico City Grand Prix."
        )
        assert gold_statement("Who did Israel blame?", "Hamas") == "Who did Israel blame: Hamas."

    def test_percentile(self) -> None:
        assert percentile([], 50) is None
        assert percentile([10.0, 20.0, 30.0, 40.0], 50) == pytest.approx(25.0)
        assert percentile([10.0, 20.0, 30.0, 40.0], 95) == pytest.approx(38.5)


class TestAnchorAccuracy:
    """MultiHop-RAG's qa_evaluate.py rule: lower-cased, any shared word is a match."""

    def test_a_shared_word_is_enough(self) -> None:
        assert word_overlap_correct("Sam Altman", ["Sam Bankman-Fried"])  # loose, as the paper
        assert word_overlap_correct("It was reported by Google [2].", ["Google"])
        assert word_overlap_correct("Verstappen", ["Lewis Hamilton", "Max Verstappen"])

    def test_no_shared_word_is_wrong(self) -> None:
        assert not word_overlap_correct("Lewis Hamilton won.", ["Max Verstappen"])
        assert not word_overlap_correct("About 180 people.", ["18"])  # words, not substrings
        assert not word_overlap_correct("Sam Altman", [])

    def test_case_and_edge_punctuation_are_ignored(self) -> None:
        assert word_overlap_correct("GOOGLE.", ["google"])
        assert word_overlap_correct("“Sportsbooks”, it says", ["Sportsbooks"])
        # Punctuation inside a word stays, as str.split() leaves it in the source.
        assert not word_overlap_correct("Google's deal", ["Google"])

    def test_polar_gold_against_a_sentence(self) -> None:
        assert word_overlap_correct("Yes, the Verge and TechCrunch agree [1].", ["Yes"])
        assert not word_overlap_correct("Both articles agree [1].", ["Yes"])
        # The paper's looseness, kept: a "no" anywhere matches gold "no".
        assert word_overlap_correct("Yes, there is no doubt.", ["no"])

    def test_the_paper_answer_template_is_extracted(self) -> None:
        said = 'The answer to the question is "Google". Apple was also named.'
        assert word_overlap_correct(said, ["Google"])
        assert not word_overlap_correct(said, ["Apple"])

    def test_refusals(self) -> None:
        refusal = "I could not find an answer to that in the indexed news."
        assert word_overlap_correct(refusal, [], refused=True, unanswerable=True)
        assert not word_overlap_correct("Google did.", [], unanswerable=True)
        # Refusing an answerable question is wrong even if the refusal shares a word.
        assert not word_overlap_correct(refusal, ["the news"], refused=True)


class TestRetrievalMatching:
    FACT = "The lorries passed through the Rafah crossing, the only entry point into Gaza."

    def test_verbatim_after_normalisation(self) -> None:
        passage = "Aid arrived. THE LORRIES passed through the Rafah crossing - the only entry point into Gaza!"
        assert passage_matches(passage, self.FACT)

    def test_coverage_of_content_words(self) -> None:
        # Reworded around the edges but 80%+ of the fact's content words are there.
        reworded = (
            "Lorries passed through Rafah crossing, the only entry point into Gaza, on Saturday."
        )
        assert passage_matches(reworded, self.FACT)
        assert not passage_matches("Trucks waited in Egypt near the border.", self.FACT)

    def test_recall_and_mrr_over_evidence(self) -> None:
        passages = ["unrelated text about rates", "Mike Johnson won 220 votes.", self.FACT]
        recall, rr = retrieval_scores(passages, [self.FACT, "a fact nobody retrieved here"], [])
        assert recall == 0.5
        assert rr == pytest.approx(1 / 3)

    def test_answer_text_when_there_is_no_evidence(self) -> None:
        passages = ["The ECB held rates.", "Johnson won 220 votes on the floor."]
        assert retrieval_scores(passages, [], ["220 votes"]) == (1.0, 0.5)
        assert retrieval_scores(passages, [], ["Hakeem Jeffries"]) == (0.0, 0.0)
        assert retrieval_scores(passages, [], ["yes"]) == (None, None)
        assert retrieval_scores(passages, [], []) == (None, None)


def case_result(case_id: str, **fields: object) -> CaseResult:
    case_fields = {
        k: fields.pop(k) for k in ("answers", "unanswerable", "fake_answer", "kind") if k in fields
    }
    return CaseResult(case=SuiteCase(id=case_id, question="q?", **case_fields), **fields)  # type: ignore[arg-type]


class TestAggregates:
    def test_unmeasurable_metrics_are_null_not_zero(self) -> None:
        results = [
            case_result(
                "a",
                answers=("x",),
                faithfulness=1.0,
                citation_precision=1.0,
                citation_recall=1.0,
                correct=True,
                latency_ms=10.0,
            ),
        ]
        agg = aggregate(results)
        assert set(agg) == set(AGGREGATE_METRICS)
        assert agg["refusal_accuracy"] is None
        assert agg["counterfactual_repeat_rate"] is None
        assert agg["recall_at_k"] is None
        assert agg["correctness"] == 1.0
        assert agg["n_cases"] == 1

    def test_refusals_count_where_they_belong(self) -> None:
        results = [
            case_result("ok", answers=("x",), correct=True, faithfulness=1.0),
            case_result("wrongly-refused", answers=("y",), refused=True, correct=False),
            case_result("rightly-refused", unanswerable=True, refused=True),
            case_result("should-refuse", unanswerable=True, faithfulness=0.5),
        ]
        agg = aggregate(results)
        assert agg["refusal_accuracy"] == 0.5
        assert agg["wrong_refusal_rate"] == 0.5
        assert agg["correctness"] == 0.5
        # Refusals make no claims: faithfulness averages over answers that said something.
        assert agg["faithfulness"] == 0.75

    def test_anchor_accuracy_counts_unanswerable_cases_correctness_does_not(self) -> None:
        results = [
            case_result("hit", answers=("Yes",), correct=False, anchor_correct=True),
            case_result("miss", answers=("Google",), correct=False, anchor_correct=False),
            case_result("null-refused", unanswerable=True, refused=True, anchor_correct=True),
            case_result("evidence-only"),  # no gold answer: neither metric measures it
        ]
        agg = aggregate(results)
        assert agg["correctness"] == 0.0
        assert agg["anchor_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
        assert aggregate([case_result("evidence-only")])["anchor_accuracy"] is None

    def test_counterfactual_repeat_rate(self) -> None:
        results = [
            case_result("a", answers=("Tampa",), fake_answer="Glendale", fake_repeated=True),
            case_result("b", answers=("Tampa",), fake_answer="Glendale", fake_repeated=False),
        ]
        assert aggregate(results)["counterfactual_repeat_rate"] == 0.5


class TestPerKindReport:
    def test_the_report_shows_anchor_accuracy_overall_and_per_question_type(self) -> None:
        """A small MultiHop-shaped run: per question type, strict correctness beside the
        paper's accuracy, with null queries measured by the second only."""

        results = [
            case_result(
                "c1", kind="comparison_query", answers=("Yes",), correct=True, anchor_correct=True
            ),
            case_result(
                "c2", kind="comparison_query", answers=("no",), correct=False, anchor_correct=True
            ),
            case_result(
                "i1",
                kind="inference_query",
                answers=("Google",),
                correct=False,
                anchor_correct=False,
            ),
            case_result(
                "n1", kind="null_query", unanswerable=True, refused=True, anchor_correct=True
            ),
            case_result("n2", kind="null_query", unanswerable=True, anchor_correct=False),
        ]
        run = EvalRun(
            suite_path=Path("multihop-ci.jsonl"),
            results=results,
            aggregate=aggregate(results),
            counts=counts(results),
            by_kind=by_kind(results),
            config={"top_k": 5, "seconds": 0.0},
        )
        report = build_report(run, check(run.aggregate, Thresholds({})), Thresholds({}))
        assert report["aggregate"]["anchor_accuracy"] == 0.6
        kinds = report["by_kind"]
        assert kinds["comparison_query"]["correctness"] == 0.5
        assert kinds["comparison_query"]["anchor_accuracy"] == 1.0
        assert kinds["null_query"]["correctness"] is None
        assert kinds["null_query"]["anchor_accuracy"] == 0.5
        assert report["cases"][0]["anchor_correct"] is True

        md = markdown(report)
        assert "| anchor_accuracy | 0.600 |" in md
        header = next(line for line in md.splitlines() if line.startswith("| kind |"))
        assert "| correctness | anchor_accuracy |" in header
        assert "| null_query | n/m | 0.500 |" in md
        html = render_html(report)
        assert "<th>correctness</th><th>anchor_accuracy</th>" in html


class TestGate:
    def test_direction_follows_the_metric(self) -> None:
        bounds = Thresholds(
            {"faithfulness": 0.9, "wrong_refusal_rate": 0.1, "refusal_accuracy": 0.5}
        )
        aggregate_values = {
            "faithfulness": 0.95,
            "wrong_refusal_rate": 0.2,
            "refusal_accuracy": None,
        }
        checks = {c.metric: c for c in check(aggregate_values, bounds)}
        assert checks["faithfulness"].status == "pass"
        assert checks["wrong_refusal_rate"].status == "fail"
        assert checks["wrong_refusal_rate"].op == "<="
        assert checks["refusal_accuracy"].status == "not measured"
        assert checks["errors"].status == "pass"
        assert check(aggregate_values, Thresholds({}), errors=2)[-1].status == "fail"

    def test_suite_entries_lay_over_the_default(self) -> None:
        data = {
            "default": {"faithfulness": 0.9, "correctness": 0.5},
            "suites": {"rgb-ci": {"correctness": None, "counterfactual_repeat_rate": 1.0}},
        }
        assert parse_thresholds(data, "t.json", "demo").bounds == {
            "faithfulness": 0.9,
            "correctness": 0.5,
        }
        assert parse_thresholds(data, "t.json", "rgb-ci").bounds == {
            "faithfulness": 0.9,
            "counterfactual_repeat_rate": 1.0,
        }

    def test_bad_thresholds_are_usage_errors(self) -> None:
        with pytest.raises(ThresholdError, match="unknown metric 'faithfullness'"):
            parse_thresholds({"faithfullness": 0.9}, "t.json", "demo")
        with pytest.raises(ThresholdError, match="between 0 and 1"):
            parse_thresholds({"correctness": 50}, "t.json", "demo")

    def test_shipped_thresholds_parse_for_every_ci_suite(self) -> None:
        path = REPO / "eval" / "thresholds.json"
        for suite in ("demo", "multihop-ci", "realtimeqa-ci", "rgb-ci"):
            assert load_thresholds(path, suite).bounds, suite


class TestSuiteFiles:
    def write(self, tmp_path: Path, *lines: str) -> Path:
        path = tmp_path / "suite.jsonl"
        path.write_text("\n".join(lines) + "\n")
        return path

    def test_fields_and_defaults(self, tmp_path: Path) -> None:
        path = self.write(
            tmp_path,
            '{"question": "Who won?", "answer": ["Max Verstappen", "Verstappen"], "kind": "who"}',
            "",
            '{"id": 7, "question": "Who?", "unanswerable": true, '
            '"filters": {"source": "CNN", "published_after": "2023-10-01"}}',
            '{"question": "Where?", "evidence": "The Rafah crossing.", "fake_answer": "Erez"}',
        )
        first, second, third = load_suite(path)
        assert first.id == "1" and first.answers == ("Max Verstappen", "Verstappen")
        assert second.id == "7" and second.unanswerable and second.filters is not None
        assert second.filters_dict() == {"source": "CNN", "published_after": "2023-10-01"}
        assert third.evidence == ("The Rafah crossing.",) and third.fake_answer == "Erez"

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ('{"question": "Who?", "anwser": "x"}', "unknown key 'anwser'"),
            ('{"question": "Who?", "answer": 42}', "'answer' must be a non-empty string"),
            ('{"question": "", "answer": "x"}', "'question' is missing or empty"),
            ('{"question": "Who?", "answer": "x", "unanswerable": true}', "cannot have a gold"),
            ('{"question": "Who?", "filters": {"published_after": "last week"}}', "not a date"),
            (
                '{"question": "Who?", "filters": {"as_of": "someday"}}',
                "filters.as_of .* not a date",
            ),
            (
                '{"question": "Who?", '
                '"filters": {"published_after": "2023-10-10", "as_of": "2023-10-01"}}',
                "as_of must not be earlier than published_after",
            ),
            ('{"question": "Who?"', "malformed JSON"),
            ('["Who?"]', "expected a JSON object"),
        ],
    )
    def test_bad_line_names_file_and_line(self, tmp_path: Path, line: str, message: str) -> None:
        path = self.write(tmp_path, '{"question": "Fine?"}', line)
        with pytest.raises(SuiteError, match=message) as info:
            load_suite(path)
        assert str(info.value).startswith(f"{path}:2:")

    def test_filters_take_as_of(self, tmp_path: Path) -> None:
        path = self.write(
            tmp_path,
            '{"question": "Who won this week?", "filters": {"as_of": "2023-10-06"}}',
        )
        (case,) = load_suite(path)
        assert case.filters is not None and case.filters.as_of == date(2023, 10, 6)
        assert case.filters_dict() == {"as_of": "2023-10-06"}
        assert case.as_record()["filters"] == {"as_of": "2023-10-06"}

    @pytest.mark.shared
    def test_realtimeqa_suites_ask_as_of_the_day_of_the_search(self, tmp_path: Path) -> None:
        folder = shared_file("data", "realtimeqa-2023q4")
        out = tmp_path / "suites"
        result = run_cli("eval", "build-suites", "--out", str(out))
        assert result.returncode == 0, result.stderr
        lines = [json.loads(x) for x in (out / "realtimeqa-ci.jsonl").read_text().splitlines()]
        assert lines and all(r["filters"] == {"as_of": r["date"]} for r in lines)
        assert all(c.filters and c.filters.as_of for c in load_suite(out / "realtimeqa-ci.jsonl"))
        # The quiz dates its McCarthy questions 29 September, the first day of the week it
        # covers; the vote was on 3 October and the search ran on the 7th.
        cases = {c.id: c for c in realtimeqa_cases(folder)}
        assert cases["20231006_0"].date == "2023-10-07"
        assert all(c.date and c.date >= "2023-09-28" for c in cases.values())

    def test_realtimeqa_answerable_means_its_own_search_found_the_answer(self) -> None:
        """A page about another story that happens to contain the answer ("Israel", "5")
        does not make a question answerable; a page of its own search results published by
        the day it was asked does."""
        case = Case("q1", "Which country did Biden visit this week?", ["Israel"], date="2023-10-21")

        def page(url: str, published: str, text: str) -> Article:
            return make_article(title="t", text=text, published=published, url=url)

        elsewhere = page("https://a.example/1", "2022-01-05", "Israel and Egypt signed a deal.")
        later = page("https://a.example/2", "2023-10-25", "Biden's visit to Israel, reviewed.")
        own = page("https://a.example/3", "2023-10-18", "Biden landed in Israel on Wednesday.")
        other = page("https://a.example/4", "2023-10-19", "The president flew abroad.")

        def kind(pages: list[Article], urls: tuple[str, ...]) -> str:
            records = _realtimeqa_records([case], pages, {"q1": Search("2023-10-21", urls)})
            assert records[0]["filters"] == {"as_of": "2023-10-21"}
            return str(records[0]["kind"])

        everything = [elsewhere, later, own, other]
        assert kind(everything, (later.url, other.url)) == "realtimeqa-no-gold-page"
        assert kind(everything, (other.url,)) == "realtimeqa-no-gold-page"
        assert kind(everything, (other.url, own.url)) == "realtimeqa"
        assert kind([elsewhere, later, other], (own.url, other.url)) == "realtimeqa-no-gold-page"

    def test_duplicate_ids(self, tmp_path: Path) -> None:
        path = self.write(
            tmp_path, '{"id": "a", "question": "x?"}', '{"id": "a", "question": "y?"}'
        )
        with pytest.raises(SuiteError, match=r":2: duplicate id 'a' \(first on line 1\)"):
            load_suite(path)

    def test_cli_bad_suite_and_bad_options_exit_2(self, tmp_path: Path) -> None:
        path = self.write(tmp_path, '{"question": "Fine?"}', '{"question": "Who?", "anwser": "x"}')
        result = run_cli("eval", "run", str(path), "--corpus", str(DEMO))
        assert result.returncode == 2, result.stderr
        assert f"{path}:2: unknown key 'anwser'" in result.stderr
        result = run_cli(
            "eval", "run", str(path), "--against", "http://127.0.0.1:9", "--corpus", str(DEMO)
        )
        assert result.returncode == 2
        assert "--against" in result.stderr

    def test_demo_suite_is_well_formed(self) -> None:
        cases = load_suite(DEMO_SUITE)
        assert 10 <= len(cases) <= 16
        assert sum(c.unanswerable for c in cases) >= 3
        assert all(c.answers for c in cases if not c.unanswerable)

    def test_subsets_hold_ids_only(self) -> None:
        """The repo must not hold copies of ../shared data: only short ids."""
        data = json.loads(SUBSETS.read_text())
        for name in ("realtimeqa", "multihop", "rgb"):
            for ids in data[name].values():
                assert ids and all(
                    isinstance(i, str) and len(i) <= 32 and " " not in i for i in ids
                )


class TestPlots:
    def test_bar_chart_draws_thresholds_and_nulls(self) -> None:
        svg = bar_chart({"faithfulness": 0.5, "refusal_accuracy": None}, {"faithfulness": 0.9})
        assert svg.startswith("<svg") and svg.endswith("</svg>")
        assert "not measured" in svg
        assert "#c23b3b" in svg  # the failing bar is red
        assert "stroke-dasharray" in svg  # the threshold line

    def test_histogram_counts(self) -> None:
        svg = histogram([0.05, 0.95, 0.97, 1.0], "faith", lo=0.0, hi=1.0)
        assert ">3</text>" in svg and ">1</text>" in svg
        assert "<script" not in histogram([1.0, 2000.0], "<script>x</script>", unit=" ms")


# --------------------------------------------------------------------------------------------
# (b)-(e) the real assistant on the demo suite


@pytest.fixture(scope="module")
def honest(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> SuiteOutcome:
    report = tmp_path_factory.mktemp("honest") / "report"
    return assert_suite(DEMO_SUITE, [DEMO], embedder=embedder, report_dir=report)


@pytest.fixture(scope="module")
def honest_report_dir(honest: SuiteOutcome, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from eval.report import write_reports

    folder = tmp_path_factory.mktemp("honest-report")
    write_reports(honest.report, folder)
    return folder


@pytest.mark.slow
def test_real_assistant_passes_the_default_gate_on_the_demo_suite(honest: SuiteOutcome) -> None:
    agg = honest.aggregate
    assert honest.passed
    assert agg["n_cases"] == len(load_suite(DEMO_SUITE))
    # Every metric this suite can measure is measured.
    for metric in ("faithfulness", "correctness", "recall_at_k", "mrr", "refusal_accuracy"):
        assert agg[metric] is not None, metric
    assert agg["counterfactual_repeat_rate"] is None  # no fake_answer in the demo suite
    ids = {c["id"]: c for c in honest.report["cases"]}
    assert ids["nobel-literature"]["refused"]
    assert ids["rafah"]["correct"] and ids["rafah"]["retrieved"]


@pytest.mark.slow
def test_swapped_names_are_caught(honest: SuiteOutcome, embedder: Embedder) -> None:
    broken = check_suite(
        DEMO_SUITE, [DEMO], embedder=embedder, answerer=broken_answerer.swapped_names
    )
    assert not broken.passed
    assert broken.aggregate["faithfulness"] < honest.aggregate["faithfulness"] - 0.3  # type: ignore[operator]
    assert broken.aggregate["citation_precision"] < honest.aggregate["citation_precision"] - 0.3  # type: ignore[operator]
    speaker = next(c for c in broken.report["cases"] if c["id"] == "speaker")
    assert speaker["unsupported"], "the claim with a swapped name must be reported unsupported"
    assert "Mike Johnson" not in speaker["answer"]


@pytest.fixture(scope="module")
def broken_cli_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    report = tmp_path_factory.mktemp("broken") / "report"
    result = run_cli(
        "eval",
        "run",
        str(DEMO_SUITE),
        "--corpus",
        str(DEMO),
        "--report",
        str(report),
        "--answerer",
        "broken_answerer:factory",
        env={"PYTHONPATH": str(REPO / "tests")},
    )
    return result, report


@pytest.mark.slow
def test_cli_gate_fails_on_the_broken_answerer(
    broken_cli_run: tuple[subprocess.CompletedProcess[str], Path], honest: SuiteOutcome
) -> None:
    result, report_dir = broken_cli_run
    assert result.returncode == 1, result.stdout + result.stderr
    assert "below threshold" in result.stderr and "faithfulness" in result.stderr
    assert "FAIL" in result.stdout
    broken = load_report(report_dir)
    for metric in ("faithfulness", "citation_precision"):
        assert broken["aggregate"][metric] < honest.aggregate[metric] - 0.5  # type: ignore[operator]


@pytest.mark.slow
def test_report_files(honest_report_dir: Path, honest: SuiteOutcome) -> None:
    report = json.loads((honest_report_dir / "report.json").read_text())
    assert list(report["aggregate"]) == list(AGGREGATE_METRICS)
    assert report["config"]["suite"].endswith("demo.jsonl") and report["config"]["top_k"] == 5
    case = report["cases"][0]
    for key in ("unsupported", "retrieved", "latency_ms", "claims", "citations"):
        assert key in case
    assert report["aggregate"]["anchor_accuracy"] is not None
    unanswerable = report["by_kind"]["unanswerable"]
    assert unanswerable["anchor_accuracy"] == unanswerable["refusal_accuracy"]
    markdown = (honest_report_dir / "report.md").read_text()
    assert "| faithfulness |" in markdown
    assert "| anchor_accuracy |" in markdown and "| correctness | anchor_accuracy |" in markdown
    html = (honest_report_dir / "report.html").read_text()
    assert html.count("<svg") >= 3  # metrics bar chart, faithfulness and latency histograms
    assert "<script" not in html and "<link" not in html and " src=" not in html
    assert "Who was elected speaker of the House?" in html


@pytest.mark.slow
def test_html_shows_unsupported_claims_with_their_passages(
    broken_cli_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    html = (broken_cli_run[1] / "report.html").read_text()
    assert "Claims: judge score and the evidence that supports each best" in html
    assert "<div class='claim bad'>" in html and "<mark>" in html
    assert "FAIL" in html


@pytest.mark.slow
def test_compare_prints_deltas_and_changed_cases(
    honest_report_dir: Path, broken_cli_run: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    result = run_cli(
        "eval", "compare", str(honest_report_dir), str(broken_cli_run[1] / "report.json")
    )
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("faithfulness"))
    before, after, delta = line.split()[1:4]
    assert float(before) == 1.0 and float(after) < 0.5 and delta.startswith("-")
    assert "worse" in line
    assert "speaker: " in result.stdout  # a case whose faithfulness changed is listed
    assert any(x.startswith("anchor_accuracy") for x in result.stdout.splitlines())
    comparison = compare_reports(load_report(honest_report_dir), load_report(honest_report_dir))
    assert comparison["changed_cases"] == []
    assert "0 case(s) changed" in format_comparison(comparison)


# --------------------------------------------------------------------------------------------
# (f) the benchmark suites, (g) a running server, and the scorer check


@pytest.mark.slow
@pytest.mark.shared
def test_build_suites_and_run_the_multihop_ci_subset(tmp_path: Path, embedder: Embedder) -> None:
    shared_file("data", "multihop-rag-sample", "queries.json")
    out = tmp_path / "suites"
    result = run_cli("eval", "build-suites", "--out", str(out))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    built = {s["name"]: s for s in manifest["suites"]}
    assert built["multihop-ci"]["cases"] == 30 and built["multihop-ci"]["articles"] == 269
    outcome = assert_suite(
        out / "multihop-ci.jsonl", [out / "multihop-corpus.jsonl"], embedder=embedder
    )
    agg = outcome.aggregate
    assert agg["refusal_accuracy"] is not None and agg["recall_at_k"] is not None
    assert set(outcome.run.by_kind) == {
        "comparison_query",
        "inference_query",
        "null_query",
        "temporal_query",
    }
    nulls = outcome.run.by_kind["null_query"]
    assert nulls["correctness"] is None and nulls["anchor_accuracy"] is not None
    assert agg["anchor_accuracy"] is not None


@pytest.mark.slow
def test_against_a_running_server(demo_server: Server, embedder: Embedder) -> None:
    outcome = assert_suite(DEMO_SUITE, against=demo_server.url, embedder=embedder)
    assert outcome.report["config"]["target"] == "http"
    assert outcome.report["config"]["server"]["status"] == "ok"
    rafah = next(c for c in outcome.report["cases"] if c["id"] == "rafah")
    assert rafah["retrieved"] and rafah["citations"] and rafah["latency_ms"] > 0


@pytest.mark.shared
def test_validate_scorer_command_on_a_qags_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qags = shared_file("data", "qags", "mturk_cnndm.jsonl")
    sample = tmp_path / "qags.jsonl"
    lines = qags.read_text().splitlines()[:6]
    sample.write_text("\n".join(lines) + "\n")
    n = sum(len(json.loads(x)["summary_sentences"]) for x in lines)
    assert main(["eval", "validate-scorer", str(sample), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["judge"] == "combined-fast" and data["threshold"] > 0
    entry = data["sets"]["qags"]
    assert entry["n"] == n and 0.5 < entry["auc"] <= 1.0
    assert {"balanced_accuracy", "cross_validated", "fast_ms_per_claim"} <= set(entry)
    assert main(["eval", "validate-scorer", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such QAGS file" in capsys.readouterr().err
    # The llm judge's experiment options are refused, by name, where they cannot apply.
    cache = ["--verifier-cache", str(tmp_path / "verdicts")]
    assert main(["eval", "validate-scorer", str(sample), *cache]) == 2
    assert "need --judge llm" in capsys.readouterr().err
    assert main(["eval", "validate-scorer", str(sample), "--judge", "llm", "--llm-gate", "2"]) == 2
    assert "--llm-gate must be in (0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "verdicts").exists()
