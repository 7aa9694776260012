"""The judge's slow component: a language model asked whether the evidence supports a claim.

It reads P("yes") from the model's first answer token (``ChoiceModel.choice_probabilities``)
rather than the word it would write: the bundled 1.5B model says "yes" to 74% of QAGS-XSum
sentences, half of which people judged unsupported, so its verdict alone reached AUC 0.62
there against 0.79 for P(yes) (4 evidence sentences). A probability read from logits is also
deterministic and needs no parsing (local-model judges that parse text return NaN or swing
between runs: ragas#1274, #1889).

The model is passed in, never built here: the caller owns the one copy of the weights and
its lock. Evidence is cut to the 8 sentences closest to the claim, in passage order, because
prefill dominates the cost on a CPU (~280 prompt tokens a claim). Measured on 120 QAGS-XSum
sentences: 4 sentences gave AUC 0.771 at 3.9 s a claim, 8 gave 0.793 at 5.8 s (one thread);
a prompt spelling out "every name, place, number, date and event" did no better (0.766).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from assistant.judge.claims import split_sentences, strip_citations
from assistant.llm.base import ChatModel, Message

if TYPE_CHECKING:
    from index.embedder import Embedder

__all__ = ["ChoiceModel", "LlmVerifier", "supports_choices"]

SYSTEM = "You are a careful fact checker. Answer with a single word: yes or no."
USER = (
    "Evidence:\n{evidence}\n\nClaim: {claim}\n\n"
    "Is every part of the claim supported by the evidence? Answer yes or no."
)


@runtime_checkable
class ChoiceModel(ChatModel, Protocol):
    """A chat model that can say how likely each of a few one-word answers is (the local
    llama.cpp model can; an OpenAI-compatible server without logprobs cannot)."""

    def choice_probabilities(
        self, messages: Sequence[Message], choices: Sequence[str]
    ) -> list[float]: ...


def supports_choices(model: ChatModel) -> bool:
    return callable(getattr(model, "choice_probabilities", None))


class LlmVerifier:
    """P(yes) that the ``top_sentences`` evidence sentences closest to the claim support it.

    Pairs are scored one at a time; the model's own lock serialises them with any other use
    of the model, and its prompt-prefix cache makes the fixed system prompt free after the
    first call. A model error on one pair (a timeout) gives None for that pair, so the caller
    can fall back to the fast score instead of failing the whole batch.
    """

    name = "llm"

    def __init__(self, model: ChatModel, embedder: Embedder, top_sentences: int = 8) -> None:
        if not supports_choices(model):
            raise TypeError(
                f"the llm judge reads answer probabilities, which {model.name} does not give; "
                "use the local model (answerer 'local') or the fast judge"
            )
        self.model: ChoiceModel = model  # type: ignore[assignment]
        self.embedder = embedder
        self.top_sentences = top_sentences

    def select_evidence(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        """The ``top_sentences`` evidence sentences most similar to each claim, in passage
        order, so the model reads them as they were written."""
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
            try:
                yes, _no = self.model.choice_probabilities(
                    self.messages(claim, evidence), ("yes", "no")
                )
            except ModelError:
                out.append(None)
                continue
            out.append(yes)
        return out

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """P(yes) per pair; 0.5 (undecided) where the model failed."""
        return [0.5 if p is None else p for p in self.verify(pairs)]
