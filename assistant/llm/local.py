"""The in-process reader model: the bundled GGUF run by llama.cpp on the CPU.

One `LocalModel` per process, opened at start-up and shared: loading maps 1.1 GB and the KV
cache is worth keeping, because llama-cpp-python reuses the longest common token prefix with
the previous call of the same Llama object. A reader that keeps its system prompt and
instructions first and byte-identical pays their prefill once (on this machine a 185-token
prompt took 2.2 s cold and 0.65 s when only its last 55 tokens changed). The cache holds one
sequence: two prompt families alternating on one model (a reader and a verifier, say) evict
each other's prefix on every switch.

A llama.cpp context is not thread-safe (concurrent calls corrupt it: private-gpt#1755), so one
lock serialises every call; the wait for it counts against ``llm_timeout`` so that a queue of
requests cannot stretch one caller's wait beyond its budget.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from assistant.llm.base import (
    DEFAULT_SEED,
    Completion,
    Message,
    ModelTimeout,
    ModelUnavailable,
    UsageSink,
)
from assistant.llm.weights import INSTALL_HINT, local_model_file
from core.settings import Settings

if TYPE_CHECKING:
    from llama_cpp import LlamaGrammar

    from assistant.llm._deadline_llama import DeadlineLlama

__all__ = ["LocalModel"]


class LocalModel:
    """`ChatModel` on llama_cpp.Llama, with the GGUF's own chat template (ChatML for Qwen2.5)."""

    def __init__(self, settings: Settings, model_path: Path | None = None) -> None:
        """Load the model now, so a missing extra or broken file fails at start-up.

        ``model_path`` skips the weights lookup (for a caller that already resolved it).
        """
        path = model_path or local_model_file(settings)
        try:
            from assistant.llm._deadline_llama import DeadlineExceeded, DeadlineLlama
        except ImportError as exc:
            raise ModelUnavailable(f"llama-cpp-python is not installed; {INSTALL_HINT}.") from exc
        self._expired = DeadlineExceeded
        started = time.perf_counter()
        try:
            self._llm: DeadlineLlama = DeadlineLlama(
                model_path=str(path),
                n_ctx=settings.llm_context,
                n_threads=settings.llm_threads,
                n_threads_batch=settings.llm_threads,
                seed=DEFAULT_SEED,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelUnavailable(f"llama.cpp could not load {path}: {exc}") from exc
        self.load_seconds = time.perf_counter() - started
        self.name = f"local:{path.stem}"
        self.path = path
        self.context = settings.llm_context
        # Seconds each call may take, lock wait included; an attribute so that one caller
        # (a batch job, a test) can tighten it without loading a second copy of the model.
        self.timeout = settings.llm_timeout
        self._lock = threading.Lock()
        self._closed = False
        self._last_prompt: tuple[Message, ...] = ()
        self._grammars: dict[str, LlamaGrammar] = {}
        self.usage: UsageSink | None = None

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        grammar: str | None = None,
        temperature: float = 0.0,
    ) -> Completion:
        deadline = time.monotonic() + self.timeout
        with self._turn(deadline):
            started = time.perf_counter()
            request = self._request(messages, max_tokens, stop, grammar, temperature)
            try:
                response = self._llm.create_chat_completion(**request)
            except self._expired:
                raise self._timed_out() from None
            usage = cast(dict[str, Any], response)["usage"]
            text = cast(dict[str, Any], response)["choices"][0]["message"]["content"] or ""
            completion = Completion(
                text=text,
                prompt_tokens=int(usage["prompt_tokens"]),
                completion_tokens=int(usage["completion_tokens"]),
                seconds=time.perf_counter() - started,
                cached_tokens=self._llm.reused or 0,
            )
            if self.usage is not None:
                self.usage(completion.prompt_tokens, completion.completion_tokens)
            return completion

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        grammar: str | None = None,
        temperature: float = 0.0,
    ) -> Iterator[str]:
        """Yield text pieces as they are decoded.

        The model stays locked until the iterator is exhausted or closed, and time the consumer
        spends between pieces counts against the deadline: consume it promptly, or wrap it in
        `contextlib.closing` when stopping early.
        """
        deadline = time.monotonic() + self.timeout
        with self._turn(deadline):
            request = self._request(messages, max_tokens, stop, grammar, temperature)
            generated = 0  # llama.cpp streams one chunk per sampled token
            try:
                chunks = self._llm.create_chat_completion(**request, stream=True)
                for chunk in cast(Iterator[dict[str, Any]], chunks):
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        generated += 1
                        yield piece
            except self._expired:
                raise self._timed_out() from None
            finally:
                if self.usage is not None:
                    self.usage(self._llm.prompt_tokens, generated)

    def choice_probabilities(
        self, messages: Sequence[Message], choices: Sequence[str]
    ) -> list[float]:
        """How likely the model is to answer with each of ``choices``, normalised over them.

        Read from the logits of the first answer token in one forward pass (nothing is sampled),
        so it is deterministic and graded: a verifier that only sees the argmax of "yes"/"no"
        inherits a small model's yes-bias in full, while P(yes) still ranks claims. Each
        choice counts with its capitalised and space-prefixed spellings. llama.cpp gives no
        logprobs without keeping the logits of every position (``logits_all``: n_ctx x vocab
        floats), so the last position's logits are read by a logits processor instead.
        """
        if not choices:
            return []
        deadline = time.monotonic() + self.timeout
        with self._turn(deadline):
            ids = [self._choice_tokens(c) for c in choices]
            seen: list[NDArray[np.float32]] = []

            def capture(_: Any, scores: NDArray[np.float32]) -> NDArray[np.float32]:
                if not seen:
                    seen.append(np.array(scores, dtype=np.float64))
                return scores

            request = self._request(messages, 1, (), None, 0.0)
            request["logits_processor"] = [capture]
            try:
                self._llm.create_chat_completion(**request)
            except self._expired:
                raise self._timed_out() from None
        if not seen:
            raise ModelUnavailable(f"{self.name} returned no logits")
        logits = seen[0]
        mass = np.array([float(np.logaddexp.reduce(logits[i])) for i in ids])
        mass = np.exp(mass - mass.max())
        return [float(m) for m in mass / mass.sum()]

    def _choice_tokens(self, choice: str) -> list[int]:
        """The first token of each spelling of ``choice`` ("yes", "Yes", " yes", ...)."""
        spellings = {choice, choice.capitalize(), choice.upper()}
        spellings |= {" " + s for s in spellings}
        first = {self._llm.tokenize(s.encode(), add_bos=False, special=False)[0] for s in spellings}
        return sorted(first)

    def close(self) -> None:
        """Free the model's memory now rather than at interpreter exit; later calls fail."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._llm.close()

    @contextlib.contextmanager
    def _turn(self, deadline: float) -> Iterator[None]:
        """Hold the model for one call; the lock must be won within the call's deadline."""
        if not self._lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            raise ModelTimeout(
                f"the local model stayed busy with other calls for {self.timeout:g} s"
            )
        try:
            if self._closed:  # the C context is freed: using it would crash the process
                raise ModelUnavailable(f"{self.name} was closed")
            self._llm.begin(deadline)
            yield
        finally:
            self._llm.deadline = None
            self._lock.release()

    def _timed_out(self) -> ModelTimeout:
        return ModelTimeout(f"the local model did not finish within {self.timeout:g} s")

    def _request(
        self,
        messages: Sequence[Message],
        max_tokens: int,
        stop: Sequence[str],
        grammar: str | None,
        temperature: float,
    ) -> dict[str, Any]:
        if max_tokens < 1:  # llama-cpp-python reads 0 or less as "until the context is full"
            raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
        prompt = tuple(messages)
        if prompt == self._last_prompt:
            # llama-cpp-python 0.3.36 answers a prompt it finds wholly in its KV cache from
            # stale logits: the same question twice got "INSUFFICIENT" back in 0.2 s. Starting
            # afresh costs one full prefill, for a repeated prompt only.
            self._llm.reset()
        self._last_prompt = prompt
        return {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "stop": list(stop),
            "grammar": self._grammar(grammar) if grammar is not None else None,
            "temperature": temperature,
            "seed": DEFAULT_SEED,
        }

    def _grammar(self, text: str) -> LlamaGrammar:
        """Parse once per distinct grammar and reject a bad one loudly.

        llama-cpp-python defers parsing to sampling time and, when llama.cpp rejects the
        grammar, silently samples unconstrained text; so it is test-parsed here first.
        """
        grammar = self._grammars.get(text)
        if grammar is None:
            import llama_cpp

            sampler = llama_cpp.llama_sampler_init_grammar(
                llama_cpp.llama_model_get_vocab(self._llm.model), text.encode("utf-8"), b"root"
            )
            if not sampler:
                raise ValueError("the GBNF grammar does not parse (llama.cpp rejected it)")
            llama_cpp.llama_sampler_free(sampler)
            grammar = llama_cpp.LlamaGrammar.from_string(text, verbose=False)
            self._grammars[text] = grammar
        return grammar
