"""What the harness evaluates, driven from outside like a user would: an in-process Assistant
(optionally behind a user-supplied answerer) or a running server over HTTP.

Only the public surface is used (Assistant.ask/search, POST /ask, GET /search), so a score
measures what users get, and an answerer plugged in later is judged by the same code.
"""

from __future__ import annotations

import importlib
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from core.client import NewsdeskClient, ServerError
from core.records import Answer, Answerer, Citation
from eval.suite import SuiteCase

if TYPE_CHECKING:
    from assistant.answering import Assistant

__all__ = [
    "Answerer",
    "AnswererError",
    "HttpTarget",
    "LocalTarget",
    "Retrieved",
    "Target",
    "TargetError",
    "load_answerer",
]


class TargetError(RuntimeError):
    """The target failed on one question (a 500, a timeout); the case is recorded as an
    error and the run goes on."""


class AnswererError(ValueError):
    """A ``module:factory`` spec that cannot be loaded: a usage error."""


@dataclass(frozen=True)
class Retrieved:
    """A ranked passage as retrieval metrics see it."""

    chunk_id: str
    article_id: str
    title: str
    text: str


class Target(Protocol):
    description: str

    def ask(self, case: SuiteCase, top_k: int) -> Answer: ...

    def search(self, case: SuiteCase, k: int) -> list[Retrieved]: ...


def load_answerer(spec: str, assistant: Assistant) -> Answerer:
    """Import ``module:factory`` and call it with the Assistant.

    The factory gets the real Assistant so an LLM answerer can retrieve through it, and a
    test can wrap it to break answers on purpose.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise AnswererError(f"--answerer {spec!r}: expected module:factory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AnswererError(
            f"--answerer {spec!r}: cannot import {module_name!r} ({exc}); "
            "is its folder on PYTHONPATH?"
        ) from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise AnswererError(f"--answerer {spec!r}: {module_name} has no callable {attr!r}")
    answerer = factory(assistant)
    if not isinstance(answerer, Answerer):
        raise AnswererError(
            f"--answerer {spec!r}: the factory returned {type(answerer).__name__}, "
            "which has no ask(question, top_k, filters) method"
        )
    return answerer


class LocalTarget:
    """The in-process Assistant; retrieval metrics use the answerer's own ``search`` when it
    has one (an LLM answerer may retrieve differently), else the Assistant's."""

    def __init__(self, assistant: Assistant, answerer: Answerer | None = None, name: str = ""):
        self.assistant = assistant
        self.answerer: Answerer = answerer or assistant
        self.description = name or ("assistant" if answerer is None else type(answerer).__name__)

    def ask(self, case: SuiteCase, top_k: int) -> Answer:
        return self.answerer.ask(case.question, top_k, case.filters)

    def search(self, case: SuiteCase, k: int) -> list[Retrieved]:
        searcher: Any = self.answerer if hasattr(self.answerer, "search") else self.assistant
        hits = searcher.search(case.question, k, case.filters)
        return [Retrieved(h.chunk_id, h.article_id, h.title, h.text) for h in hits]


class HttpTarget:
    """A running Newsdesk server: POST /ask for answers, GET /search for passages."""

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        self.client = NewsdeskClient(url, timeout=timeout)
        self.url = self.client.base
        self.timeout = timeout
        self.description = self.url

    def _request(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST ``body`` (GET without one); a failure is a TargetError whose message is the
        client's: "/path: HTTP code: detail" or "url: reason"."""
        try:
            if body is None:
                return self.client.get(path)
            return self.client.post(path, body)
        except ServerError as exc:
            raise TargetError(str(exc)) from None

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("/health")
        return result

    def ask(self, case: SuiteCase, top_k: int) -> Answer:
        body: dict[str, Any] = {"question": case.question, "top_k": top_k}
        if case.filters is not None:
            body["filters"] = case.filters_dict()
        data = self._request("/ask", body)
        citations = [Citation.from_dict(c) for c in data.get("citations", [])]
        return Answer(
            answer=str(data.get("answer", "")),
            refused=bool(data.get("refused", False)),
            citations=citations,
            question=case.question,
        )

    def search(self, case: SuiteCase, k: int) -> list[Retrieved]:
        query = urllib.parse.urlencode({"q": case.question, "k": k, **case.filters_dict()})
        data = self._request(f"/search?{query}")
        return [
            Retrieved(
                str(p.get("chunk_id", "")),
                str(p.get("article_id", "")),
                str(p.get("title", "")),
                str(p.get("text", "")),
            )
            for p in data.get("passages", [])
        ]
