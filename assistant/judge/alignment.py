"""Embedding alignment of a claim with its evidence: the evidence cut into sentences and short
runs of sentences, and the best cosine between the claim and any of them (AlignScore's
chunk-and-max idea, on the MiniLM model the index already loads).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from assistant.judge.claims import split_sentences, strip_citations

if TYPE_CHECKING:
    from index.embedder import Embedder

__all__ = ["AlignmentScorer", "evidence_windows"]


def evidence_windows(evidence: str, sizes: Sequence[int] = (1, 2, 3)) -> list[str]:
    """Sentences and runs of consecutive sentences of the evidence.

    Single sentences keep the match sharp; 2-3 sentence windows let a claim that fuses facts
    from neighbouring sentences (or resolves "he" to a name one sentence back) still align.
    """
    return [text for _, text in _sized_windows(evidence, sizes)]


def _sized_windows(evidence: str, sizes: Sequence[int]) -> list[tuple[int, str]]:
    clean, _ = strip_citations(evidence)
    sentences = split_sentences(clean) or ([clean] if clean else [])
    windows: list[tuple[int, str]] = []
    seen: set[str] = set()
    for size in sizes:
        if size > len(sentences) and size > 1:
            continue
        for start in range(len(sentences) - size + 1):
            window = " ".join(sentences[start : start + size])
            if window not in seen:
                seen.add(window)
                windows.append((size, window))
    return windows


class AlignmentScorer:
    """Max cosine similarity between the claim and any evidence sentence or short window.

    The max (not the mean) is the point: a passage supports a claim if some part of it says
    the claim, however much else it says. Cosines are clipped to [0, 1]; MiniLM rarely goes
    below 0 for text in the same language.

    Windows are "pooled" by default: the normalised mean of their sentences' vectors, which
    costs no extra encoding. Encoding each window as text (``window_mode="encoded"``, what
    AlignScore does) made QAGS-CNNDM scoring 4.5x slower (106 s vs 23 s for 714 sentences on
    2 idle cores) and its AUC no better (0.817 vs 0.821 pooled vs 0.823 sentences alone), so
    it is kept only as an option.
    """

    name = "alignment"

    def __init__(
        self,
        embedder: Embedder,
        window_sizes: Sequence[int] = (1, 2, 3),
        window_mode: Literal["pooled", "encoded"] = "pooled",
    ) -> None:
        if 1 not in window_sizes:
            raise ValueError("window_sizes must include 1 (single sentences)")
        self.embedder = embedder
        self.window_sizes = tuple(window_sizes)
        self.window_mode = window_mode

    def features(self, pairs: Sequence[tuple[str, str]]) -> list[dict[str, float]]:
        if not pairs:
            return []
        # Encode every distinct text once: an article is typically scored against several
        # claims, and a claim against several passages.
        texts: dict[str, int] = {}
        chunks: dict[str, list[tuple[int, list[int]]]] = {}
        for claim, evidence in pairs:
            texts.setdefault(claim, len(texts))
            if evidence in chunks:
                continue
            if self.window_mode == "encoded":
                chunks[evidence] = [
                    (size, [texts.setdefault(w, len(texts))])
                    for size, w in _sized_windows(evidence, self.window_sizes)
                ]
            else:
                sentences = _sized_windows(evidence, (1,))
                ids = [texts.setdefault(w, len(texts)) for _, w in sentences]
                chunks[evidence] = [
                    (size, ids[start : start + size])
                    for size in self.window_sizes
                    if size == 1 or size <= len(ids)
                    for start in range(len(ids) - size + 1)
                ]
        vectors = self.embedder.encode(list(texts))
        matrices: dict[str, tuple[NDArray[np.float32], NDArray[np.bool_]]] = {}
        for evidence, windows in chunks.items():
            if windows:
                matrix = np.stack([vectors[ids].mean(axis=0) for _, ids in windows])
                matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
                matrices[evidence] = (matrix, np.array([size == 1 for size, _ in windows]))
        rows: list[dict[str, float]] = []
        for claim, evidence in pairs:
            if evidence not in matrices:
                rows.append({"max": 0.0, "sentence_max": 0.0})
                continue
            matrix, is_sentence = matrices[evidence]
            sims = np.clip(matrix @ vectors[texts[claim]], 0.0, 1.0)
            rows.append({"max": float(sims.max()), "sentence_max": float(sims[is_sentence].max())})
        return rows

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        return [row["max"] for row in self.features(pairs)]
