"""Finding the evidence: plan the question, search dense and BM25, fuse, rerank, diversify.

Dense vectors find paraphrases; BM25 finds the exact names and numbers that news questions turn
on and that MiniLM blurs. Reciprocal rank fusion needs no score calibration between the two.
Each part of a planned question (an outlet of a comparison, a clause of a two-part question) is
searched and reranked on its own and the results interleaved, so every part is represented.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
from numpy.typing import NDArray

from assistant.planner import QueryPlan, SubQuery, plan_query
from assistant.rerank import Reranker, diversify
from assistant.terms import analyse, missing_names
from core.records import Filters, ScoredPassage
from index.store import Store

RRF_K = 60


@dataclass(frozen=True)
class RetrievalOptions:
    """Which stages run; the defaults are the configuration that wins bench/retrieval.py."""

    lexical: bool = True
    rerank: bool = True
    planning: bool = True
    per_article: int = 2


def rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank + 1)
    return fused


class Retriever:
    def __init__(
        self,
        store: Store,
        candidates: int,
        reranker: Reranker | None = None,
        options: RetrievalOptions | None = None,
    ) -> None:
        self.store = store
        self.candidates = candidates
        self.reranker = reranker
        self.options = options or RetrievalOptions()

    def plan(self, question: str, filters: Filters) -> QueryPlan:
        if not self.options.planning:
            return QueryPlan(question, [SubQuery(question, filters)])
        catalog = self.store.catalog
        return plan_query(question, filters, catalog.known_sources(), catalog.newest())

    def retrieve(
        self,
        question: str,
        k: int,
        filters: Filters | None = None,
        query_vector: NDArray[np.float32] | None = None,
        plan: QueryPlan | None = None,
    ) -> list[ScoredPassage]:
        """``plan``: the question's plan when the caller made it already (see plan)."""
        filters = filters or Filters()
        if query_vector is None:
            query_vector = self.store.embedder.encode([question])[0]
        plan = plan or self.plan(question, filters)
        texts = list(dict.fromkeys(p.text for p in plan.parts if p.text != question))
        vectors = {question: query_vector}
        if texts:
            vectors |= dict(zip(texts, self.store.embedder.encode(texts), strict=True))
        rankings = [self._part(plan, part, vectors[part.text]) for part in plan.parts]
        ranked = interleave(rankings)
        per_article = self.options.per_article if self.options.rerank else k
        return diversify(ranked, max(k, 1), max(per_article, 1))

    def cover(
        self,
        question: str,
        passages: Sequence[ScoredPassage],
        filters: Filters | None = None,
        limit: int = 3,
    ) -> list[ScoredPassage]:
        """The passages, plus the opening of the best one's article (see opening), plus one
        for each name the question asks about that none of them mentions but the index does.
        A multi-hop question names several people or firms, each in its own article, and the
        top passages often cover all but one: the missing one is looked up by name (BM25, the
        same filters) rather than answered around. A name found nowhere stays missing, which
        is what the readers' refusal checks rely on."""
        filters = filters or Filters()
        catalog = self.store.catalog
        passages = [*passages, *self.opening(passages)]
        terms = analyse(question)
        missing = missing_names(terms, " ".join(p.named_text for p in passages))[:limit]
        if not missing:
            return list(passages)
        outlets = {source.lower(): source for source in catalog.known_sources()}
        added: list[ScoredPassage] = []
        have = {p.id for p in passages}
        for name in missing:
            outlet = next((o for low, o in outlets.items() if low.endswith(name.lower())), None)
            source: str | None
            proper: re.Pattern[str] | None
            if outlet is not None and filters.source is None:
                # "... while The Age's report says ...": that outlet's best passage.
                query, source, proper = question, outlet, None
            else:
                last = name.split()[-1]
                query, source, proper = name, filters.source, re.compile(rf"\b{re.escape(last)}\b")
            hits = catalog.lexical_search(
                query, 5, source=source, after=filters.published_after, before=filters.until
            )
            found = catalog.passages([cid for cid, _ in hits if cid not in have])
            for cid, _ in hits:
                if cid in found and (proper is None or proper.search(found[cid].text)):
                    added.append(ScoredPassage.of(found[cid], 0.0, None, None))
                    have.add(cid)
                    break
        return [*passages, *added]

    def opening(self, passages: Sequence[ScoredPassage]) -> list[ScoredPassage]:
        """The first passage of the best passage's article, when the search found a later one.
        News copy names who did what in its opening and refers back to it after: the passage
        that matched "Who won this year's Nobel Peace Prize?" best says "a tribute to her
        courage", and the winner's name is in the article's first paragraph."""
        if not passages:
            return []
        first = self.store.catalog.opening(passages[0].article_id)
        if first is None or any(p.id == first.id for p in passages):
            return []
        return [ScoredPassage.of(first, 0.0, None, None)]

    def _part(
        self, plan: QueryPlan, part: SubQuery, vector: NDArray[np.float32]
    ) -> list[ScoredPassage]:
        candidates = self.hybrid(part.text, part.filters, vector)
        inside = within(part.filters, plan.recent)
        if inside is not None:
            # A question about a period ("this week", "recently", "in October 2023") is also
            # searched inside it: in an archive of years, the week's report shares its words
            # with a dozen older stories that outrank it, and never reaches the reranker that
            # would prefer it for its date.
            have = {c.chunk_id for c in candidates}
            candidates += [
                c for c in self.hybrid(part.text, inside, vector) if c.chunk_id not in have
            ]
        if not (self.options.rerank and self.reranker is not None):
            return candidates
        return self.reranker.rerank(plan, analyse(part.text), candidates, vector)

    def hybrid(
        self, text: str, filters: Filters, vector: NDArray[np.float32]
    ) -> list[ScoredPassage]:
        """Dense and BM25 candidates fused by reciprocal rank, every one with its dense
        similarity (fetched from Chroma for BM25-only hits) for the reranker."""
        catalog = self.store.catalog
        article_ids = catalog.ids_matching(filters.source) if filters.source else None
        # as_of bounds like published_before, and undated articles fare as they always have
        # under it: Chroma keeps them (stored as day -1), BM25 drops them (NULL compares false).
        until = filters.until
        dense = self.store.vectors.query(
            vector,
            self.candidates,
            after=filters.published_after,
            before=until,
            article_ids=article_ids,
        )
        lexical = (
            catalog.lexical_search(
                text,
                self.candidates,
                source=filters.source,
                after=filters.published_after,
                before=until,
            )
            if self.options.lexical
            else []
        )
        fused = rrf([[h.chunk_id for h in dense], [cid for cid, _ in lexical]])
        passages = catalog.passages(list(fused))
        dense_scores = {h.chunk_id: h.similarity for h in dense}
        missing = [cid for cid in fused if cid not in dense_scores and cid in passages]
        if missing and self.options.rerank:
            for cid, stored in self.store.vectors.embeddings(missing).items():
                dense_scores[cid] = float(stored @ vector)
        lexical_scores = dict(lexical)
        ranked = sorted((c for c in fused if c in passages), key=lambda c: fused[c], reverse=True)
        return [
            ScoredPassage.of(passages[c], fused[c], dense_scores.get(c), lexical_scores.get(c))
            for c in ranked
        ]


def within(filters: Filters, window: tuple[date, date] | None) -> Filters | None:
    """The filters narrowed to the window, None when there is no window or nothing of it
    is left inside them."""
    if window is None:
        return None
    start = max(filter(None, (window[0], filters.published_after)))
    end = min(filter(None, (window[1], filters.until)))
    if start > end:
        return None
    return replace(filters, published_after=start, published_before=end)


def interleave(rankings: Sequence[Sequence[ScoredPassage]]) -> list[ScoredPassage]:
    """Round-robin over the parts' rankings, first appearance wins."""
    if len(rankings) == 1:
        return list(rankings[0])
    out: list[ScoredPassage] = []
    seen: set[str] = set()
    for rank in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if rank < len(ranking) and ranking[rank].chunk_id not in seen:
                seen.add(ranking[rank].chunk_id)
                out.append(ranking[rank])
    return out
