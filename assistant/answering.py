"""The assistant as callers see it: ask a question, search passages."""

from __future__ import annotations

from assistant.composer import Composer
from assistant.rerank import FeatureReranker, Reranker
from assistant.retriever import RetrievalOptions, Retriever
from assistant.sentence_vectors import SentenceVectors
from core.records import Answer, Filters, ScoredPassage
from core.settings import Settings
from index.store import Store


class Assistant:
    def __init__(self, store: Store, settings: Settings, reranker: Reranker | None = None) -> None:
        self.store = store
        self.top_k = settings.top_k
        sentences = SentenceVectors(store.embedder)
        self.retriever = Retriever(
            store,
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
        k = top_k or self.top_k
        vector = self.store.embedder.encode([question])[0]
        passages = self.retriever.retrieve(question, k, filters, query_vector=vector)
        return self.composer.compose(question, passages, vector)
