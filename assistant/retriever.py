"""Finding candidate passages: dense search in Chroma beside BM25, fused by reciprocal rank.

Dense vectors find paraphrases; BM25 finds the exact names and numbers that news questions turn
on and that MiniLM blurs. Reciprocal rank fusion needs no score calibration between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from assistant.types import Filters, ScoredPassage
from index.catalog import Passage
from index.handle import IndexHandle

RRF_K = 60


def rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank + 1)
    return fused


class Retriever:
    def __init__(self, handle: IndexHandle, candidates: int) -> None:
        self.handle = handle
        self.candidates = candidates

    def retrieve(
        self,
        question: str,
        k: int,
        filters: Filters | None = None,
        query_vector: NDArray[np.float32] | None = None,
    ) -> list[ScoredPassage]:
        filters = filters or Filters()
        if query_vector is None:
            query_vector = self.handle.embedder.encode([question])[0]
        article_ids = self.handle.catalog.ids_matching(filters.source) if filters.source else None
        dense = self.handle.vectors.query(
            query_vector,
            self.candidates,
            after=filters.published_after,
            before=filters.published_before,
            article_ids=article_ids,
        )
        lexical = self.handle.catalog.lexical_search(
            question,
            self.candidates,
            source=filters.source,
            after=filters.published_after,
            before=filters.published_before,
        )
        fused = rrf([[h.chunk_id for h in dense], [cid for cid, _ in lexical]])
        passages = self.handle.catalog.passages(list(fused))
        dense_scores = {h.chunk_id: h.similarity for h in dense}
        lexical_scores = dict(lexical)
        ranked = sorted(
            (cid for cid in fused if cid in passages), key=lambda c: fused[c], reverse=True
        )
        return [
            scored(passages[cid], fused[cid], dense_scores.get(cid), lexical_scores.get(cid))
            for cid in ranked[: max(k, 1)]
        ]


def scored(
    passage: Passage, score: float, dense: float | None, lexical: float | None
) -> ScoredPassage:
    return ScoredPassage(
        chunk_id=passage.id,
        article_id=passage.article_id,
        title=passage.title,
        published=passage.published,
        source=passage.source,
        sources=passage.sources,
        url=passage.url,
        text=passage.text,
        start=passage.start,
        end=passage.end,
        score=score,
        dense=dense,
        lexical=lexical,
    )


def rescore(passage: ScoredPassage, score: float) -> ScoredPassage:
    return replace(passage, score=score)
