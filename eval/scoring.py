"""Scoring one answered case, and aggregating cases into the suite's metrics.

Definitions (the report and the README point here):

- faithfulness, citation_precision, citation_recall: eval.faithfulness on the answer's claims
  against the passages the answer cites (by citation id). Averaged over cases whose answer
  makes at least one claim: a refusal says nothing, and counting it as "perfectly faithful"
  would let an assistant that refuses everything look good.
- correctness: over answerable cases with a gold answer, the share whose answer is not a
  refusal and either contains a gold answer (normalised, see eval.metrics) or entails it
  (support score of "question + gold" against the answer >= the threshold of the scorer's
  "paraphrase" profile; see Scorers). The
  entailment half credits answers that say the right thing in other words ("Otis made
  landfall as a Category 5 storm" for gold "category five hurricane"). Polar golds (yes/no)
  are matched only at the answer's start and never by entailment: a support scorer cannot
  tell "Does X?" + "no" from "Does X?" + "yes".
- answer_entailment: the share of those cases whose answer entails the gold (the second half
  alone), token_f1 / exact_match: SQuAD's, refusals scoring 0.
- anchor_accuracy: MultiHop-RAG's own accuracy (metrics.word_overlap_correct), so a figure
  can stand beside the paper's (GPT-4: 0.56 with retrieved chunks): over answerable cases
  with a gold answer and unanswerable cases (the paper's null queries count too), the share
  whose answer shares a word with a gold answer, an unanswerable case counting right when
  refused and a refused answerable one wrong. Looser than correctness, as the paper's rule
  is ("Sam Altman" shares "sam" with "Sam Bankman-Fried"); not gated by default.
- recall_at_k, mrr: over cases with gold evidence or a retrievable gold answer, from the top-k
  passages the target's search returns for the question (see metrics.retrieval_scores).
- refusal_accuracy: share of unanswerable cases refused; wrong_refusal_rate: share of
  answerable cases (those with a gold answer or evidence) refused.
- counterfactual_repeat_rate: over cases with a ``fake_answer``, the share whose (non-refused)
  answer contains it.
- A metric no case can measure is None (reported null / "not measured"), never 0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eval.metric_table import METRICS
from eval.metrics import (
    POLAR,
    contains_answer,
    exact_match,
    mean_or_none,
    normalise,
    percentile,
    retrieval_scores,
    token_f1,
    word_overlap_correct,
)
from eval.suite import SuiteCase
from eval.targets import Retrieved

if TYPE_CHECKING:
    from assistant.judge.support import Judge, JudgeKind, SupportScorer
    from assistant.llm.base import ChatModel
    from core.records import Answer
    from core.settings import Settings
    from eval.faithfulness import ClaimVerdict
    from index.embedder import Embedder

__all__ = [
    "AGGREGATE_METRICS",
    "CaseResult",
    "Scorers",
    "aggregate",
    "claim_record",
    "counts",
    "default_scorers",
    "gold_statement",
    "score_case",
]

AGGREGATE_METRICS = tuple(m.name for m in METRICS)
"""The keys of ``aggregate()``, in report order: the rows of eval.metric_table."""


@dataclass
class CaseResult:
    case: SuiteCase
    answer: str = ""
    refused: bool = False
    citations: list[dict[str, Any]] = field(default_factory=list)
    retrieved: list[Retrieved] = field(default_factory=list)
    latency_ms: float | None = None
    claims: list[dict[str, Any]] = field(default_factory=list)
    faithfulness: float | None = None
    citation_precision: float | None = None
    citation_recall: float | None = None
    unsupported: list[str] = field(default_factory=list)
    answer_match: bool | None = None
    entailment: float | None = None
    entailed: bool | None = None
    correct: bool | None = None
    anchor_correct: bool | None = None
    """MultiHop-RAG's word-overlap verdict; None where there is nothing to check against."""
    token_f1: float | None = None
    exact_match: bool | None = None
    recall_at_k: float | None = None
    reciprocal_rank: float | None = None
    fake_repeated: bool | None = None
    error: str | None = None
    reader: str = ""
    dropped: list[str] = field(default_factory=list)
    """Sentences the reader wrote and its own check left out (shown, not scored)."""

    @property
    def has_gold(self) -> bool:
        """Answerable with something to check against: a wrong refusal is measurable."""
        return self.case.answerable and bool(self.case.answers or self.case.evidence)

    @property
    def wrong_refusal(self) -> bool:
        return self.has_gold and self.refused

    @property
    def missed_refusal(self) -> bool:
        return self.case.unanswerable and not self.refused

    def as_dict(self) -> dict[str, Any]:
        case = self.case
        return {
            "id": case.id,
            "line": case.line,
            "kind": case.kind,
            "question": case.question,
            "gold_answers": list(case.answers),
            "gold_evidence": list(case.evidence),
            "unanswerable": case.unanswerable,
            "filters": case.filters_dict() or None,
            "fake_answer": case.fake_answer,
            "answer": self.answer,
            "refused": self.refused,
            "error": self.error,
            "latency_ms": self.latency_ms,
            "reader": self.reader,
            "dropped": self.dropped,
            "citations": self.citations,
            "retrieved": [
                {"chunk_id": r.chunk_id, "article_id": r.article_id, "title": r.title}
                for r in self.retrieved
            ],
            "claims": self.claims,
            "unsupported": self.unsupported,
            "faithfulness": self.faithfulness,
            "citation_precision": self.citation_precision,
            "citation_recall": self.citation_recall,
            "answer_match": self.answer_match,
            "entailment": self.entailment,
            "entailed": self.entailed,
            "correct": self.correct,
            "anchor_correct": self.anchor_correct,
            "token_f1": self.token_f1,
            "exact_match": self.exact_match,
            "recall_at_k": self.recall_at_k,
            "reciprocal_rank": self.reciprocal_rank,
            "fake_repeated": self.fake_repeated,
            "wrong_refusal": self.wrong_refusal,
            "missed_refusal": self.missed_refusal,
        }


_WHO_SUBJECT = re.compile(r"^who\s+(?!(?:do|does|did)\b)", re.IGNORECASE)


def gold_statement(question: str, gold: str) -> str:
    """The question turned into a statement carrying the gold answer, for entailment.

    "Who won the race?" + "Max Verstappen" -> "Max Verstappen won the race." Other shapes
    keep the question and append the answer ("Which airport ...: Makhachkala."), which the
    scorer still reads as "these names and numbers together".
    """
    body = question.strip().rstrip("?").strip()
    match = _WHO_SUBJECT.match(body)
    if match:
        return f"{gold} {body[match.end() :]}."
    return f"{body}: {gold}."


@dataclass(frozen=True)
class Scorers:
    """The support scorers a run uses, both on the one embedding model.

    Faithfulness uses the judge the run names (``--judge fast|llm``, assistant.judge.support),
    the one the reader verifies its sentences with. Entailment of the gold uses the
    "paraphrase" profile: the gold statement is built by us and never copies the answer's
    word sequences, so copy features must not count (measured on the demo suite with the
    copy-based profile: 0.01-0.04 for correct answers, against 0.07-0.67 with the paraphrase
    profile and <= 0.02 for swapped names).
    """

    faithfulness: Judge
    faithfulness_threshold: float
    entailment: SupportScorer
    entailment_threshold: float
    judge: JudgeKind = "fast"
    """The faithfulness judge's variant, as ``--judge`` names it: what reports print."""

    def describe(self) -> dict[str, Any]:
        return {
            "faithfulness": {
                "judge": self.judge,
                "name": self.faithfulness.name,
                "threshold": self.faithfulness_threshold,
            },
            "entailment": {"name": self.entailment.name, "threshold": self.entailment_threshold},
        }


def default_scorers(
    embedder: Embedder, judge: JudgeKind, settings: Settings, reader: ChatModel | None = None
) -> Scorers:
    """The faithfulness judge ``judge`` names (assistant.judge.support.open_judge: the llm
    one asks ``reader`` when it is the local model) and the entailment scorer, both on one
    cached embedding model."""
    from assistant.judge.support import default_scorer, open_judge
    from eval.encode_cache import cached

    memo = cached(embedder)  # shared: both scorers see the same passages and answers
    faith = open_judge(judge, settings, memo, reader)
    entail = default_scorer(memo, profile="paraphrase")
    return Scorers(faith, faith.threshold, entail, entail.threshold, judge)


def _anchor_graded(case: SuiteCase) -> bool:
    """Whether anchor_accuracy counts the case: the paper scores every query with a gold,
    its null queries included, so ours are the answerable ones with a gold answer and the
    unanswerable ones."""
    return bool(case.answers and case.answerable) or case.unanswerable


def score_case(
    case: SuiteCase,
    answer: Answer | None,
    retrieved: Sequence[Retrieved],
    latency_ms: float | None,
    scorers: Scorers,
    error: str | None = None,
) -> CaseResult:
    from assistant.judge.claims import strip_citations
    from eval.faithfulness import faithfulness

    result = CaseResult(case=case, retrieved=list(retrieved), latency_ms=latency_ms, error=error)
    if case.evidence or case.answers:
        passages = [r.text for r in retrieved]
        result.recall_at_k, result.reciprocal_rank = retrieval_scores(
            passages, case.evidence, case.answers
        )
    if answer is None:  # the target failed: nothing said, everything answer-side missed
        if case.answers and case.answerable:
            result.correct = result.answer_match = result.exact_match = False
            result.token_f1 = 0.0
        if _anchor_graded(case):
            result.anchor_correct = False  # nothing said and nothing refused: wrong either way
        return result

    result.answer = answer.answer
    result.reader = answer.reader
    result.dropped = list(answer.dropped)
    result.refused = answer.refused or not answer.answer.strip()
    result.citations = [
        {
            "id": c.id,
            "article_id": c.article_id,
            "title": c.title,
            "published": c.published,
            "passage": c.passage,
        }
        for c in answer.citations
    ]
    if not result.refused:
        verdict = faithfulness(
            answer.answer,
            {c.id: c.passage for c in answer.citations},
            scorers.faithfulness,
            scorers.faithfulness_threshold,
        )
        result.claims = [
            claim_record(v, scorers.judge, scorers.faithfulness_threshold) for v in verdict.claims
        ]
        if verdict.claims:
            result.faithfulness = verdict.faithfulness
            result.citation_precision = verdict.citation_precision
            result.citation_recall = verdict.citation_recall
            result.unsupported = verdict.unsupported

    clean, _ = strip_citations(answer.answer)
    if case.answers and case.answerable:
        said = "" if result.refused else clean
        result.answer_match = bool(said) and contains_answer(said, case.answers)
        result.exact_match = bool(said) and exact_match(said, case.answers)
        result.token_f1 = token_f1(said, case.answers) if said else 0.0
        statements = [
            gold_statement(case.question, g) for g in case.answers if normalise(g) not in POLAR
        ]
        if statements and said:
            scores = scorers.entailment.score([(s, said) for s in statements])
            result.entailment = round(max(scores), 4)
            result.entailed = result.entailment >= scorers.entailment_threshold
        elif statements:
            result.entailment, result.entailed = 0.0, False
        result.correct = result.answer_match or bool(result.entailed)
    if _anchor_graded(case):
        result.anchor_correct = word_overlap_correct(
            clean, case.answers, refused=result.refused, unanswerable=case.unanswerable
        )
    if case.fake_answer:
        result.fake_repeated = not result.refused and contains_answer(clean, [case.fake_answer])
    return result


def claim_record(verdict: ClaimVerdict, judge: str, threshold: float) -> dict[str, Any]:
    """One claim as report.json carries it: the judge's score against its threshold, and the
    evidence span (offsets into the passage of citation ``best_citation``) behind it."""
    span = verdict.evidence
    return {
        "text": verdict.text,
        "citations": verdict.citations,
        "score": round(verdict.score, 4),
        "threshold": threshold,
        "judge": judge,
        "supported": verdict.supported,
        "best_citation": verdict.best_citation,
        "citation_scores": {str(c): round(s, 4) for c, s in verdict.citation_scores.items()},
        "evidence": None
        if span is None or verdict.best_citation is None
        else {
            "citation": verdict.best_citation,
            "start": span.start,
            "end": span.end,
            "text": span.text,
            "similarity": round(span.similarity, 4),
        },
        "verifier": None if verdict.verifier is None else round(verdict.verifier, 4),
    }


def aggregate(results: Sequence[CaseResult]) -> dict[str, float | int | None]:
    """The suite's numbers; see the module docstring for each definition."""
    answered = [r for r in results if r.faithfulness is not None]
    graded = [r for r in results if r.case.answers and r.case.answerable]
    latencies = [r.latency_ms for r in results if r.latency_ms is not None]
    out: dict[str, float | int | None] = {
        "faithfulness": mean_or_none(r.faithfulness for r in answered),
        "citation_precision": mean_or_none(r.citation_precision for r in answered),
        "citation_recall": mean_or_none(r.citation_recall for r in answered),
        "correctness": mean_or_none(r.correct for r in graded),
        "anchor_accuracy": mean_or_none(r.anchor_correct for r in results),
        "recall_at_k": mean_or_none(r.recall_at_k for r in results),
        "mrr": mean_or_none(r.reciprocal_rank for r in results),
        "refusal_accuracy": mean_or_none(r.refused for r in results if r.case.unanswerable),
        "wrong_refusal_rate": mean_or_none(r.wrong_refusal for r in results if r.has_gold),
        "token_f1": mean_or_none(r.token_f1 for r in graded),
        "exact_match": mean_or_none(r.exact_match for r in graded),
        "answer_entailment": mean_or_none(r.entailed for r in graded),
        "counterfactual_repeat_rate": mean_or_none(
            r.fake_repeated for r in results if r.case.fake_answer
        ),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
        "n_cases": len(results),
    }
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def counts(results: Sequence[CaseResult]) -> dict[str, int]:
    """How many cases each metric rests on: a 1.0 over two cases is not a 1.0 over two
    hundred, and the report should say so."""
    return {
        "cases": len(results),
        "answerable_with_gold": sum(r.has_gold for r in results),
        "with_gold_answer": sum(bool(r.case.answers) and r.case.answerable for r in results),
        "with_retrieval_gold": sum(r.recall_at_k is not None for r in results),
        "unanswerable": sum(r.case.unanswerable for r in results),
        "counterfactual": sum(bool(r.case.fake_answer) for r in results),
        "answered_with_claims": sum(r.faithfulness is not None for r in results),
        "refused": sum(r.refused for r in results),
        "errors": sum(r.error is not None for r in results),
    }
