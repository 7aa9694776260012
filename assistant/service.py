"""The assistant as callers see it: ask a question, search passages."""

from __future__ import annotations

from assistant.composer import Composer
from assistant.rerank import FeatureReranker, Reranker
from assistant.retriever import RetrievalOptions, Retriever
from assistant.sentence_vectors import SentenceVectors
from assistant.types import Answer, Filters, ScoredPassage
from index.handle import IndexHandle


class Assistant:
    def __init__(self, handle: IndexHandle, reranker: Reranker | None = None) -> None:
        settings = handle.settings
        self.handle = handle
        self.settings = settings
        sentences = SentenceVectors(handle.embedder)
        self.retriever = Retriever(
            handle,
            candidates=settings.candidates,
            reranker=reranker or FeatureReranker(sentences, settings.rerank_sentence_depth),
            options=RetrievalOptions(
                lexical=settings.lexical_search,
                rerank=settings.rerank,
                planning=settings.plan_queries,
                per_article=settings.per_article,
            ),
        )
        self.composer = Composer(
            sentences,
            min_support=settings.min_support,
            max_sentences=settings.max_answer_sentences,
        )

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[ScoredPassage]:
        return self.retriever.retrieve(query, k, filters)

    def ask(
        self, question: str, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer:
        k = top_k or self.settings.top_k
        vector = self.handle.embedder.encode([question])[0]
        passages = self.retriever.retrieve(question, k, filters, query_vector=vector)
        return self.composer.compose(question, passages, vector)
