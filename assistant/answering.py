"""The assistant as callers see it: ask a question, search passages."""

from __future__ import annotations

from collections.abc import Iterator

from assistant.composer import Composer
from assistant.judge.support import SupportScorer
from assistant.llm.base import ChatModel, ReportsUsage
from assistant.reader import ExtractiveReader, ModelReader, Reader, Step, read
from assistant.rerank import FeatureReranker, Reranker
from assistant.retriever import RetrievalOptions, Retriever
from assistant.sentence_vectors import SentenceVectors
from assistant.timing import TimedReranker, TimedScorer
from core.records import Answer, Filters, ScoredPassage
from core.settings import Settings
from core.telemetry import NullRecorder, Recorder, timed, timed_steps
from index.store import Store


class Assistant:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        reranker: Reranker | None = None,
        model: ChatModel | None = None,
        judge: SupportScorer | None = None,
        threshold: float = 0.0,
        recorder: Recorder | None = None,
    ) -> None:
        """With a `model` (and the `judge` and its `threshold` that check what it writes) the
        answer is the model's, verified; without, the extractive composer's. `recorder` hears
        the time of each stage (core.telemetry)."""
        self.store = store
        self.top_k = settings.top_k
        self.recorder: Recorder = recorder or NullRecorder()
        sentences = SentenceVectors(store.embedder)
        reranker = reranker or FeatureReranker(sentences, settings.rerank_sentence_depth)
        listening = recorder is not None and not isinstance(recorder, NullRecorder)
        if listening:
            reranker = TimedReranker(reranker, self.recorder)
            if judge is not None:
                judge = TimedScorer(judge, self.recorder)
        if isinstance(model, ReportsUsage):  # the reader's tokens, streamed answers included
            model.usage = self.recorder.tokens if listening else None
        self.retriever = Retriever(
            store,
            candidates=settings.candidates,
            reranker=reranker,
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
        self.reader: Reader = ExtractiveReader(self.composer)
        if model is not None:
            if judge is None:
                raise ValueError("a model's answers need a judge to check them")
            self.reader = ModelReader(
                model, self.composer, judge, threshold, max_evidence=settings.reader_evidence
            )

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[ScoredPassage]:
        return self.retriever.retrieve(query, k, filters)

    def ask(
        self, question: str, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer:
        return read(self.stream(question, top_k, filters))

    def stream(
        self, question: str, top_k: int | None = None, filters: Filters | None = None
    ) -> Iterator[Step]:
        """The answer sentence by sentence, each checked before it is yielded, then the
        whole Answer (see reader.Step)."""
        k = top_k or self.top_k
        with timed(self.recorder, "retrieval"):
            vector = self.store.embedder.encode([question])[0]
            plan = self.retriever.plan(question, filters or Filters())
            passages = self.retriever.retrieve(question, k, filters, vector, plan)
            passages = self.retriever.cover(question, passages, filters)
        # The readers read the question as retrieval did: a question about the present
        # against the day it is asked on, its period ("this week"; the last month for "now")
        # first. A date a question names is no such period: it names one of the reports it
        # compares (MultiHop-RAG), not the only one that counts.
        steps = self.reader.stream(question, passages, vector, plan.asked_on, plan.period)
        yield from timed_steps(self.recorder, "reader", steps)
