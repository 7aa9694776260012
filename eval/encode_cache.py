"""A memo in front of the embedding model for scoring.

Scoring re-encodes the same texts over and over: the passages a suite's answers cite recur
from case to case, and an extractive answer's sentences are the cited passage's sentences.
Measured on the demo suite under load, scoring was 18 of 41 seconds before this cache.
It wraps the one model instance the run already holds; nothing is loaded twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from index.embedder import Embedder

__all__ = ["CachedEncoder", "cached"]


class CachedEncoder:
    """``encode`` answered from a dict of text -> vector; everything else is the wrapped
    embedder's. Bounded so a full-benchmark run cannot grow without limit."""

    def __init__(self, embedder: Embedder, max_items: int = 200_000) -> None:
        self._embedder = embedder
        self._vectors: dict[str, NDArray[np.float32]] = {}
        self._max_items = max_items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> NDArray[np.float32]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            if len(self._vectors) + len(missing) > self._max_items:
                self._vectors.clear()
                missing = list(dict.fromkeys(texts))
            fresh = self._embedder.encode(missing, batch_size)
            self._vectors.update(zip(missing, fresh, strict=True))
        if not texts:
            return self._embedder.encode([])
        return np.stack([self._vectors[t] for t in texts])


def cached(embedder: Embedder) -> Embedder:
    """The cache typed as what scorers accept (it provides the same ``encode``)."""
    return cast("Embedder", CachedEncoder(embedder))
