"""The reader's model behind any OpenAI-compatible HTTP API (vLLM, llama.cpp's server, Ollama,
OpenAI itself), through llama-index's `OpenAILike`.

Retries are off (``max_retries=0``): a reader has a latency budget and its own fallback, and a
silent retry would double the wait past ``llm_timeout``. `check` asks the server for its model
list before the first question, because the two usual misconfigurations (wrong URL, wrong model
name) otherwise surface as an opaque 404 in the middle of answering.

The grammar, when given, travels as the ``grammar`` field of the request body: llama.cpp's
servers (llama-server and llama-cpp-python's) honour it; a server that does not know the field
ignores it, so a caller that needs the constraint should still validate the text.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from assistant.llm.base import (
    DEFAULT_SEED,
    Completion,
    Message,
    ModelTimeout,
    ModelUnavailable,
    UsageSink,
)
from core.settings import Settings

if TYPE_CHECKING:
    from llama_index.llms.openai_like import OpenAILike

__all__ = ["OpenAICompatibleModel"]

# How long `check` waits for a TCP connection: an unroutable host should not cost llm_timeout.
_CONNECT_SECONDS = 5.0


class OpenAICompatibleModel:
    """`ChatModel` over HTTP. Thread-safe: the server serialises or batches on its side."""

    def __init__(self, settings: Settings) -> None:
        if not settings.openai_base_url:
            raise ModelUnavailable(
                "NEWSDESK_ANSWERER=openai needs NEWSDESK_OPENAI_BASE_URL "
                "(e.g. http://127.0.0.1:8080/v1)."
            )
        self.base_url = settings.openai_base_url.rstrip("/")
        self.model = settings.openai_model
        self.name = f"openai:{self.model or '?'}"
        self._api_key = settings.openai_api_key
        self._timeout = settings.llm_timeout
        self._context = settings.llm_context
        self._llm: OpenAILike | None = None
        self._build_lock = threading.Lock()
        self.usage: UsageSink | None = None

    def check(self) -> list[str]:
        """Ask the server which models it serves; raise ModelUnavailable unless ours is one.

        With no model configured, a server serving exactly one model is taken to mean that
        one (the usual case for a local llama.cpp or vLLM server).
        """
        url = f"{self.base_url}/models"
        request = urllib.request.Request(url, headers=self._headers())
        try:
            with urllib.request.urlopen(
                request, timeout=min(self._timeout, _CONNECT_SECONDS)
            ) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise ModelUnavailable(
                    f"{url} refused the API key (HTTP {exc.code}); set NEWSDESK_OPENAI_API_KEY."
                ) from exc
            hint = " (does NEWSDESK_OPENAI_BASE_URL end with the API version, e.g. /v1?)"
            raise ModelUnavailable(
                f"{url} answered HTTP {exc.code}{hint if exc.code == 404 else ''}."
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModelUnavailable(
                f"no OpenAI-compatible server answers at {url} ({reason}); start it or fix "
                "NEWSDESK_OPENAI_BASE_URL."
            ) from exc
        try:
            served = [str(entry["id"]) for entry in json.loads(body)["data"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelUnavailable(f"{url} did not answer with an OpenAI model list.") from exc
        if self.model is None:
            if len(served) != 1:
                raise ModelUnavailable(
                    f"set NEWSDESK_OPENAI_MODEL to one of the models {self.base_url} serves: "
                    f"{', '.join(served) or '(none)'}."
                )
            self.model = served[0]
            self.name = f"openai:{self.model}"
        elif self.model not in served:
            raise ModelUnavailable(
                f"{self.base_url} does not serve the model {self.model!r} (NEWSDESK_OPENAI_MODEL); "
                f"it serves: {', '.join(served) or '(none)'}."
            )
        return served

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        grammar: str | None = None,
        temperature: float = 0.0,
    ) -> Completion:
        import openai

        llm = self._client()
        started = time.perf_counter()
        try:
            response = llm.chat(
                _chat_messages(messages), **_options(max_tokens, stop, grammar, temperature)
            )
        except openai.APIError as exc:
            raise self._translate(exc) from exc
        usage = getattr(response.raw, "usage", None)
        details = getattr(usage, "prompt_tokens_details", None)
        completion = Completion(
            text=response.message.content or "",
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            seconds=time.perf_counter() - started,
            cached_tokens=int(getattr(details, "cached_tokens", 0) or 0),
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
        """Yield text pieces; the whole stream, not only each read, is held to llm_timeout."""
        import openai

        llm = self._client()
        deadline = time.monotonic() + self._timeout
        try:
            pieces = llm.stream_chat(
                _chat_messages(messages),
                **_options(max_tokens, stop, grammar, temperature),
                stream_options={"include_usage": True},  # the last chunk carries the counts
            )
            counted: dict[str, int] = {}
            deltas = 0
            try:
                for piece in pieces:
                    if time.monotonic() > deadline:
                        raise ModelTimeout(
                            f"{self.base_url} did not finish within {self._timeout:g} s"
                        )
                    counted.update(
                        {k: int(v) for k, v in piece.additional_kwargs.items() if k in USAGE}
                    )
                    if piece.delta:
                        deltas += 1
                        yield piece.delta
            finally:
                pieces.close()
                if self.usage is not None:  # a server that sends no counts: one per delta
                    self.usage(
                        counted.get("prompt_tokens", 0), counted.get("completion_tokens", deltas)
                    )
        except openai.APIError as exc:
            raise self._translate(exc) from exc

    def close(self) -> None:
        """Drop the client (and with it its connection pool); a later call builds a new one."""
        with self._build_lock:
            self._llm = None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _client(self) -> OpenAILike:
        """Build the llama-index client on first use (it imports openai and llama-index)."""
        with self._build_lock:
            if self.model is None:
                self.check()
            if self._llm is None:
                from llama_index.llms.openai_like import OpenAILike

                self._llm = OpenAILike(
                    model=self.model,
                    api_base=self.base_url,
                    api_key=self._api_key or "unused",
                    timeout=self._timeout,
                    max_retries=0,
                    is_chat_model=True,
                    context_window=self._context,
                    temperature=0.0,
                )
            return self._llm

    def _translate(self, exc: Exception) -> Exception:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return ModelTimeout(f"{self.base_url} did not answer within {self._timeout:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return ModelUnavailable(f"the server at {self.base_url} stopped answering: {exc}")
        if isinstance(exc, openai.NotFoundError):
            return ModelUnavailable(
                f"{self.base_url} answered 404 for model {self.model!r}: {exc.message}"
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return ModelUnavailable(f"{self.base_url} refused the API key: {exc.message}")
        return exc


USAGE = ("prompt_tokens", "completion_tokens")


def _chat_messages(messages: Sequence[Message]) -> list[Any]:
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role=m.role, content=m.content) for m in messages]


def _options(
    max_tokens: int, stop: Sequence[str], grammar: str | None, temperature: float
) -> dict[str, Any]:
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
    options: dict[str, Any] = {
        "max_tokens": max_tokens,
        "temperature": temperature,
        "seed": DEFAULT_SEED,
    }
    if stop:
        options["stop"] = list(stop)
    if grammar is not None:
        options["extra_body"] = {"grammar": grammar}
    return options
