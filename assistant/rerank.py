"""Reranking fused candidates with what runs well on 2 cores, behind one interface.

No cross-encoder is available offline here, and a small LLM scoring passages was measured as
both slow and wrong, so the default reranker combines cheap features: the passage's dense
similarity, how much of the question (its names and numbers counted double) the passage and its
best two-sentence window cover, BM25, the date the question names and recency when it asks for
it. Optionally the few best passages are re-scored by their best-matching sentence under the
embedding model (those sentence vectors are the ones answer composition needs anyway). A user
with a cross-encoder implements `Reranker` and passes it to the Retriever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from assistant.planner import QueryPlan, in_period
from assistant.terms import QuestionTerms, missing_names, overlap
from core.records import ScoredPassage
from core.sentences import split_sentences

WEIGHTS = {
    "dense": 1.0,
    "cover": 0.45,
    "window": 0.35,
    "lexical": 0.15,
    "fused": 0.25,
    "window_date": 0.5,
    "recency": 0.15,
    "missing_name": -0.2,
    "sentence": 0.6,
}
"""Fitted by hand on the dev sets with bench/retrieval.py (MultiHop-RAG sample, RealTimeQA).
``window_date`` is the preference for a period the question names ("this week", "on
Wednesday", "in October 2023"): raised from 0.2 to 0.5 when such questions were searched inside
their period too (RealTimeQA recall@5 0.714 -> 0.726 on its 84 answerable questions, MultiHop-RAG
full dev 0.869 -> 0.875): a report from outside the period the question names rarely answers it,
however close its words."""


class SentenceEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


class Reranker(Protocol):
    def rerank(
        self,
        plan: QueryPlan,
        terms: QuestionTerms,
        candidates: Sequence[ScoredPassage],
        query_vector: NDArray[np.float32],
    ) -> list[ScoredPassage]: ...


class FeatureReranker:
    def __init__(
        self,
        sentences: SentenceEncoder | None = None,
        sentence_depth: int = 0,
        weights: dict[str, float] | None = None,
    ) -> None:
        self.sentences = sentences
        self.sentence_depth = sentence_depth if sentences is not None else 0
        self.weights = {**WEIGHTS, **(weights or {})}

    def rerank(
        self,
        plan: QueryPlan,
        terms: QuestionTerms,
        candidates: Sequence[ScoredPassage],
        query_vector: NDArray[np.float32],
    ) -> list[ScoredPassage]:
        if not candidates:
            return []
        w = self.weights
        top_fused = max(c.score for c in candidates) or 1.0
        top_lexical = max((c.lexical or 0.0) for c in candidates) or 1.0
        dated = [c.published for c in candidates if c.published]
        oldest, newest = (min(dated), max(dated)) if dated else (None, None)
        span = max(((newest - oldest).days if newest and oldest else 0), 1)
        scored: list[ScoredPassage] = []
        for c in candidates:
            text = f"{c.title}\n{c.text}"
            score = (
                w["dense"] * (c.dense or 0.0)
                + w["cover"] * overlap(terms, text)
                + w["window"] * best_window(terms, c.text)
                + w["lexical"] * (c.lexical or 0.0) / top_lexical
                + w["fused"] * c.score / top_fused
            )
            if missing_names(terms, text):
                score += w["missing_name"]
            if in_period(c.published, plan.window):
                score += w["window_date"]
            if plan.recency and c.published and oldest:
                score += w["recency"] * (c.published - oldest).days / span
            scored.append(replace(c, score=score))
        scored.sort(key=lambda c: c.score, reverse=True)
        if self.sentence_depth and self.sentences is not None:
            scored = self._by_sentence(scored, query_vector)
        return scored

    def _by_sentence(
        self, ranked: list[ScoredPassage], query_vector: NDArray[np.float32]
    ) -> list[ScoredPassage]:
        assert self.sentences is not None
        head, tail = ranked[: self.sentence_depth], ranked[self.sentence_depth :]
        spans = [[s.text for s in split_sentences(c.text)] or [c.text] for c in head]
        vectors = self.sentences.encode([s for group in spans for s in group])
        best: list[float] = []
        offset = 0
        for group in spans:
            best.append(float(np.max(vectors[offset : offset + len(group)] @ query_vector)))
            offset += len(group)
        rescored = [
            replace(c, score=c.score + self.weights["sentence"] * b)
            for c, b in zip(head, best, strict=True)
        ]
        rescored.sort(key=lambda c: c.score, reverse=True)
        # Passages below the re-scored head keep their place after it.
        return rescored + tail


def best_window(terms: QuestionTerms, text: str, size: int = 2) -> float:
    """Question coverage of the best run of `size` sentences: the words of an answer stand
    close together, while a long passage can mention them all far apart."""
    spans = [s.text for s in split_sentences(text)]
    if not spans:
        return 0.0
    return max(overlap(terms, " ".join(spans[i : i + size])) for i in range(max(1, len(spans) - 1)))


def diversify(ranked: Sequence[ScoredPassage], k: int, per_article: int) -> list[ScoredPassage]:
    """Top k with at most `per_article` passages of one article, so a question spanning several
    stories is not answered from the first one alone; the cap relaxes if too few remain."""
    chosen: list[ScoredPassage] = []
    counts: dict[str, int] = {}
    for passage in ranked:
        if counts.get(passage.article_id, 0) < per_article:
            chosen.append(passage)
            counts[passage.article_id] = counts.get(passage.article_id, 0) + 1
        if len(chosen) == k:
            return chosen
    for passage in ranked:
        if len(chosen) == k:
            break
        if passage not in chosen:
            chosen.append(passage)
    return chosen
