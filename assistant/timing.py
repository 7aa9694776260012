"""Stage timing around the reranker and the faithfulness judge, so neither needs to know
about metrics: the Assistant wraps what it was given when a recorder listens."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from assistant.judge.support import SupportScorer
from assistant.planner import QueryPlan
from assistant.rerank import Reranker
from assistant.terms import QuestionTerms
from core.records import ScoredPassage
from core.telemetry import Recorder, timed


class TimedReranker:
    def __init__(self, inner: Reranker, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    def rerank(
        self,
        plan: QueryPlan,
        terms: QuestionTerms,
        candidates: Sequence[ScoredPassage],
        query_vector: NDArray[np.float32],
    ) -> list[ScoredPassage]:
        with timed(self.recorder, "rerank"):
            return self.inner.rerank(plan, terms, candidates, query_vector)


class TimedScorer:
    """The judge as the reader uses it to verify its sentences: time is "verification"."""

    def __init__(self, inner: SupportScorer, recorder: Recorder) -> None:
        self.inner = inner
        self.name = inner.name
        self.recorder = recorder

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        with timed(self.recorder, "verification"):
            return self.inner.score(pairs)
