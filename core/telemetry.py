"""Where the answering stack reports what its stages cost, without knowing who listens.

A server hands its Runtime a recorder backed by its Prometheus registry (api.metrics); the CLI,
the eval harness and the benches keep the default, which records nothing. An object passed
down rather than a module-level registry, so two apps in one process (the tests start several)
never count into each other's metrics.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol, TypeVar

T = TypeVar("T")


class Recorder(Protocol):
    def stage(self, name: str, seconds: float) -> None:
        """One run of a stage of answering ("retrieval", "rerank", "reader", "verification")."""

    def ingested(self, counts: Mapping[str, int]) -> None:
        """What one write did: IngestSummary.as_dict() keys (added, updated, deleted, ...)."""

    def tokens(self, prompt: int, completion: int) -> None:
        """What one call of the reader's language model read and wrote, in tokens."""


class NullRecorder:
    """Records nothing: the default everywhere but a server."""

    def stage(self, name: str, seconds: float) -> None:
        return None

    def ingested(self, counts: Mapping[str, int]) -> None:
        return None

    def tokens(self, prompt: int, completion: int) -> None:
        return None


@contextmanager
def timed(recorder: Recorder, stage: str) -> Iterator[None]:
    """Time the block as one run of `stage` (recorded even when it raises)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        recorder.stage(stage, time.perf_counter() - start)


def timed_steps(recorder: Recorder, stage: str, steps: Iterator[T]) -> Iterator[T]:
    """`steps` unchanged, recording the time spent producing them (not the time the consumer
    spends between them, e.g. sending a streamed sentence) as one run of `stage`."""
    spent = 0.0
    try:
        while True:
            start = time.perf_counter()
            try:
                step = next(steps)
            except StopIteration:
                spent += time.perf_counter() - start
                return
            spent += time.perf_counter() - start
            yield step
    finally:
        close = getattr(steps, "close", None)
        if close is not None:
            close()
        recorder.stage(stage, spent)
