"""The records every layer passes around: passages, filters, citations, answers.

They sit at the bottom so that the index, the assistant, the API and the eval harness speak
one vocabulary; each record validates itself, so a bad filter is rejected the same way
whether it came from the CLI, an HTTP body or an eval suite.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Protocol, runtime_checkable

MAX_TOP_K = 50
"""Most passages a question may ask for (CLI, /ask, /search, eval)."""
MAX_QUESTION_CHARS = 2000
"""Longest question or chat message accepted; longer ones are almost always pasted text."""


def clean_question(text: str) -> str:
    """The question stripped, or ValueError naming what is wrong with it."""
    question = text.strip()
    if not question:
        raise ValueError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    return question


def check_top_k(top_k: int | None) -> None:
    if top_k is not None and not 1 <= top_k <= MAX_TOP_K:
        raise ValueError(f"--top-k must be between 1 and {MAX_TOP_K}")


@dataclass(frozen=True)
class Passage:
    """A stored chunk with the article fields a citation shows."""

    id: str
    article_id: str
    title: str
    published: date | None
    source: str
    sources: tuple[str, ...]
    url: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class ScoredPassage(Passage):
    """A retrieved passage with the scores that ranked it (shown by /search)."""

    score: float = 0.0
    dense: float | None = None
    lexical: float | None = None

    @property
    def chunk_id(self) -> str:
        return self.id

    @classmethod
    def of(
        cls, passage: Passage, score: float, dense: float | None, lexical: float | None
    ) -> ScoredPassage:
        return cls(**vars(passage), score=score, dense=dense, lexical=lexical)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["chunk_id"] = data.pop("id")
        data["published"] = self.published.isoformat() if self.published else None
        data["sources"] = list(self.sources)
        return data


@dataclass(frozen=True)
class Filters:
    """Which articles a question may draw on. Raises ValueError when the dates are reversed,
    so every entry point (CLI, API, eval suite) rejects the same filters with the same words."""

    source: str | None = None
    published_after: date | None = None
    published_before: date | None = None

    def __post_init__(self) -> None:
        after, before = self.published_after, self.published_before
        if after and before and after > before:
            raise ValueError("published_after must not be later than published_before")

    def is_empty(self) -> bool:
        return not (self.source or self.published_after or self.published_before)

    def as_dict(self) -> dict[str, str]:
        """The filters as /ask and /search take them (dates as ISO strings, empty ones left out)."""
        out: dict[str, str] = {}
        if self.source:
            out["source"] = self.source
        if self.published_after:
            out["published_after"] = self.published_after.isoformat()
        if self.published_before:
            out["published_before"] = self.published_before.isoformat()
        return out


@dataclass(frozen=True)
class Citation:
    id: int
    article_id: str
    title: str
    published: str | None
    source: str
    url: str
    passage: str
    start: int
    end: int
    sources: list[str] = field(default_factory=list)

    @classmethod
    def from_passage(cls, number: int, passage: Passage) -> Citation:
        return cls(
            id=number,
            article_id=passage.article_id,
            title=passage.title,
            published=passage.published.isoformat() if passage.published else None,
            source=passage.source,
            url=passage.url,
            passage=passage.text,
            start=passage.start,
            end=passage.end,
            sources=list(passage.sources),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        """From JSON (stored turns, a server's reply); keys this version does not know are
        ignored so an older reader can read a newer writer's citations."""
        return cls(**{k: v for k, v in data.items() if k in _CITATION_FIELDS})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_CITATION_FIELDS = frozenset(Citation.__dataclass_fields__)


@dataclass(frozen=True)
class Answer:
    answer: str
    refused: bool
    citations: list[Citation]
    question: str = ""
    """The question that was searched (a follow-up rewritten to stand alone)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.as_dict() for c in self.citations],
        }


@runtime_checkable
class Answerer(Protocol):
    """Anything that answers a question with cited passages: the Assistant, a chat turn's
    answerer, a pluggable answerer under evaluation."""

    def ask(
        self, question: str, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer: ...
