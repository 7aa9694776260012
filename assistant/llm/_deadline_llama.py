"""llama_cpp.Llama that stops at a deadline between token batches. Imports llama_cpp at module
level, so only `assistant.llm.local` imports it, and only when a local model is opened.

Why `eval`: it is the one Python method every prompt batch and every generated token passes
through (prefill and decode alike), and an exception raised there unwinds cleanly through
llama-cpp-python's generators with the KV cache consistent up to the last finished batch. The
obvious hooks do not work: a logits processor runs as a ctypes callback inside llama.cpp's
sampler chain, where a Python exception is printed and swallowed, and `create_chat_completion`
takes no stopping criteria; neither would see prefill, which on a slow CPU can take longer than
the whole budget. Prompts are fed in slices of `PREFILL_SLICE` tokens so a long prefill is
interrupted within a slice (~0.7 s here, ~3 s on a 20 tokens/s CPU); a one-off comparison
here showed no prefill throughput lost against llama.cpp's default batch of 512.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from llama_cpp import Llama

PREFILL_SLICE = 64


class DeadlineExceeded(Exception):
    """Raised inside generation; `LocalModel` turns it into ModelTimeout."""


class DeadlineLlama(Llama):
    """A Llama whose calls can carry a deadline (`time.monotonic()` seconds).

    Also records how many prompt tokens the call reused from the KV cache (``reused``), the
    position llama-cpp-python's longest-common-prefix match left before the first batch.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline: float | None = None
        self.reused: int | None = None
        self.prompt_tokens = 0

    def begin(self, deadline: float) -> None:
        self.deadline = deadline
        self.reused = None
        self.prompt_tokens = 0

    def eval(self, tokens: Sequence[int]) -> None:
        if self.reused is None:
            self.reused = self.n_tokens
            self.prompt_tokens = self.n_tokens + len(tokens)  # the prompt is the first eval
        for start in range(0, max(len(tokens), 1), PREFILL_SLICE):
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise DeadlineExceeded
            super().eval(tokens[start : start + PREFILL_SLICE])
