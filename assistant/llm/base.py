"""What a reader may ask of a language model, whichever backend runs it.

The contract is deliberately small (chat messages in, text out, optionally constrained by a
GBNF grammar) so the in-process llama.cpp model and any OpenAI-compatible server are
interchangeable behind settings, and a test or a user can plug in their own.

Two failures matter to callers and get their own types: `ModelUnavailable` is a configuration
problem, raised when the model is opened so a misconfigured deployment fails at start-up with
one sentence that says what to do; `ModelTimeout` is a call that ran past ``llm_timeout``, after
which the model is still usable and the caller can fall back to the extractive answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "DEFAULT_SEED",
    "ChatModel",
    "Completion",
    "Message",
    "ModelError",
    "ModelTimeout",
    "ModelUnavailable",
]

# Fixed so that a temperature above zero is still repeatable call for call.
DEFAULT_SEED = 1234

Role = Literal["system", "user", "assistant"]


class ModelError(RuntimeError):
    """Base of the errors a reader is expected to handle (fall back, report, refuse)."""


class ModelUnavailable(ModelError):
    """The configured model cannot be used: weights missing, server unreachable, unknown model.

    The message is one sentence naming what is wrong and how to fix it, because it is shown as
    is by the CLI and the server at start-up.
    """


class ModelTimeout(ModelError):
    """A single call exceeded ``llm_timeout``; the model itself stays usable."""


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    """The text and what it cost; the token counts feed latency budgets and logs.

    ``seconds`` is the time the backend spent on the call (for the local model, not counting
    the wait for its lock). ``cached_tokens`` is how many prompt tokens were reused from the
    previous call's KV cache (0 when the backend does not say), which shows whether a shared
    prompt prefix pays off.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cached_tokens: int = 0


UsageSink = Callable[[int, int], None]
"""Told (prompt tokens, completion tokens) after each call of a model: a server's metrics."""


@runtime_checkable
class ReportsUsage(Protocol):
    """A model that tells `usage` (when set) what each call read and wrote, streamed calls
    included: the local and OpenAI-compatible models."""

    usage: UsageSink | None


@runtime_checkable
class ChatModel(Protocol):
    """A chat model. Decoding is deterministic unless a caller raises ``temperature``.

    ``grammar`` is a GBNF grammar (llama.cpp syntax) the output must match, used to force a
    verdict or a fixed format instead of parsing free text. Both methods raise `ModelTimeout`
    past ``llm_timeout``; ``stream`` may raise it after some pieces were already yielded.
    """

    name: str

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        grammar: str | None = None,
        temperature: float = 0.0,
    ) -> Completion: ...

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        grammar: str | None = None,
        temperature: float = 0.0,
    ) -> Iterator[str]: ...
