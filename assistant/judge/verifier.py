"""The judge's slow component: a language model asked whether the evidence supports a claim.

It reads P("yes") from the model's first answer token (``ChoiceModel.choice_probabilities``)
rather than the word it would write: the bundled 1.5B model says "yes" to 74% of QAGS-XSum
sentences, half of which people judged unsupported, so its verdict alone reached AUC 0.62
there against 0.79 for P(yes) (4 evidence sentences). A probability read from logits is also
deterministic and needs no parsing (local-model judges that parse text return NaN or swing
between runs: ragas#1274, #1889).

The model is passed in, never built here: the caller owns the one copy of the weights and
its lock. Evidence is cut to the 8 sentences closest to the claim, plus up to 3 that hold
claim words those lack (``covering``), in passage order, because prefill dominates the cost
on a CPU (~280 prompt tokens a claim for the 8). Measured on 120 QAGS-XSum
sentences: 4 sentences gave AUC 0.771 at 3.9 s a claim, 8 gave 0.793 at 5.8 s (one thread);
a prompt spelling out "every name, place, number, date and event" did no better (0.766).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from assistant.judge.claims import split_sentences, strip_citations
from assistant.judge.lexical import normalise_tokens
from assistant.llm.base import ChatModel, Message
from core.words import JUDGE_FUNCTION_WORDS

if TYPE_CHECKING:
    from index.embedder import Embedder

__all__ = ["ChoiceModel", "LlmVerifier", "VerdictCache", "supports_choices"]

SYSTEM = "You are a careful fact checker. Answer with a single word: yes or no."
USER = (
    "Evidence:\n{evidence}\n\nClaim: {claim}\n\n"
    "Is every part of the claim supported by the evidence? Answer yes or no."
)


class VerdictCache:
    """The verifier's P(yes) on disk, keyed by the model's name and the exact prompt it read
    (system text, evidence and claim), so a changed prompt or evidence selection is a miss.

    For experiments only (``newsdesk eval validate-scorer --verifier-cache DIR``): one pass of
    the model over QAGS takes the better part of an hour on this machine, and with the
    verdicts stored every later refit of the combination takes seconds. One JSON line per
    verdict, appended as it is computed, so an interrupted pass keeps what it did.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "verdicts.jsonl"
        self.verdicts: dict[str, float] = {}
        if self.path.is_file():
            with self.path.open(encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        record = json.loads(line)
                        self.verdicts[record["key"]] = float(record["p_yes"])

    @staticmethod
    def key(model: str, messages: Sequence[Message]) -> str:
        text = json.dumps([model, *[(m.role, m.content) for m in messages]])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get(self, key: str) -> float | None:
        return self.verdicts.get(key)

    def put(self, key: str, p_yes: float, claim: str) -> None:
        self.verdicts[key] = p_yes
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"key": key, "p_yes": p_yes, "claim": claim}) + "\n")


@runtime_checkable
class ChoiceModel(ChatModel, Protocol):
    """A chat model that can say how likely each of a few one-word answers is (the local
    llama.cpp model can; an OpenAI-compatible server without logprobs cannot)."""

    def choice_probabilities(
        self, messages: Sequence[Message], choices: Sequence[str]
    ) -> list[float]: ...


def supports_choices(model: ChatModel) -> bool:
    return callable(getattr(model, "choice_probabilities", None))


def _best_chunk(sims: Sequence[float], words: Sequence[int], budget: int) -> tuple[int, int]:
    """[start, end) of the run of consecutive sentences within ``budget`` words (at least one
    sentence) whose three best similarities sum highest."""
    best, best_value = (0, 1), -np.inf
    for start in range(len(sims)):
        end, total = start, 0
        while end < len(sims) and (end == start or total + words[end] <= budget):
            total += words[end]
            end += 1
        value = sum(sorted(sims[start:end], reverse=True)[:3])
        if value > best_value:
            best, best_value = (start, end), value
    return best


def covering(
    sentences: Sequence[str], sims: NDArray[np.float32], claim: str, top: int, extra: int
) -> list[int]:
    """The ``top`` sentences closest to the claim, then for each content word of the claim
    they lack (in claim order, at most ``extra``) the closest sentence holding it, in passage
    order. A summary names a role, a place or a person the article gives far from the
    sentences its gist matches; on QAGS-XSum 46 of 116 supported claims had such a word, and
    reading it raised the verifier's AUC from 0.810 to 0.829 (CNNDM 0.793 -> 0.790)."""
    keep = set(np.argsort(-sims)[:top].tolist())
    tokens = [set(normalise_tokens(s)) for s in sentences]
    covered = set().union(*(tokens[i] for i in keep))
    added = 0
    for word in dict.fromkeys(normalise_tokens(claim)):
        if added >= extra or word in JUDGE_FUNCTION_WORDS or word in covered:
            continue
        holders = [i for i in range(len(sentences)) if i not in keep and word in tokens[i]]
        if holders:
            best = max(holders, key=lambda i: float(sims[i]))
            keep.add(best)
            covered |= tokens[best]
            added += 1
    return sorted(keep)


class LlmVerifier:
    """P(yes) that the evidence sentences closest to the claim (``top_sentences`` of them, and
    up to ``cover_words`` more holding claim words they lack) support it.

    Pairs are scored one at a time; the model's own lock serialises them with any other use
    of the model, and its prompt-prefix cache makes the fixed system prompt free after the
    first call. A model error on one pair (a timeout) gives None for that pair, so the caller
    can fall back to the fast score instead of failing the whole batch.
    """

    name = "llm"

    def __init__(
        self,
        model: ChatModel,
        embedder: Embedder,
        top_sentences: int = 8,
        cache: VerdictCache | None = None,
        chunk_words: int | None = None,
        cover_words: int = 3,
    ) -> None:
        if not supports_choices(model):
            raise TypeError(
                f"the llm judge reads answer probabilities, which {model.name} does not give; "
                "use the local model (answerer 'local') or the fast judge"
            )
        self.model: ChoiceModel = model  # type: ignore[assignment]
        self.embedder = embedder
        self.top_sentences = top_sentences
        self.cache = cache
        self.chunk_words = chunk_words
        self.cover_words = cover_words

    def select_evidence(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        """What the model reads for each claim: the ``top_sentences`` evidence sentences most
        similar to it and those ``covering`` adds, in passage order, or (``chunk_words`` set)
        the run of consecutive sentences of at most that many words whose three sentences
        closest to the claim are closest overall: a passage read as written, with its
        pronouns' antecedents, which an abstractive claim drawn from several sentences needs
        (AlignScore and MiniCheck score chunks of about 350 tokens for the same reason)."""
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
            if self.chunk_words:
                start, end = _best_chunk(
                    sims.tolist(), [len(names[i].split()) for i in ids], self.chunk_words
                )
                keep = list(range(start, end))
            else:
                keep = covering(
                    [names[i] for i in ids], sims, claim, self.top_sentences, self.cover_words
                )
            selected.append(" ".join(names[ids[i]] for i in keep))
        return selected

    def messages(self, claim: str, evidence: str) -> list[Message]:
        return [
            Message("system", SYSTEM),
            Message("user", USER.format(evidence=evidence, claim=claim)),
        ]

    def verify(self, pairs: Sequence[tuple[str, str]]) -> list[float | None]:
        from assistant.llm.base import ModelError

        if not pairs:
            return []
        out: list[float | None] = []
        for (claim, _), evidence in zip(pairs, self.select_evidence(pairs), strict=True):
            messages = self.messages(claim, evidence)
            key = VerdictCache.key(self.model.name, messages) if self.cache else ""
            cached = self.cache.get(key) if self.cache else None
            if cached is not None:
                out.append(cached)
                continue
            try:
                yes, _no = self.model.choice_probabilities(messages, ("yes", "no"))
            except ModelError:
                out.append(None)
                continue
            if self.cache:
                self.cache.put(key, yes, claim)
            out.append(yes)
        return out

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """P(yes) per pair; 0.5 (undecided) where the model failed."""
        return [0.5 if p is None else p for p in self.verify(pairs)]
