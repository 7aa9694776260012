"""What the assistant returns: answers with citations that resolve to stored passages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from index.catalog import Passage


@dataclass(frozen=True)
class Filters:
    source: str | None = None
    published_after: date | None = None
    published_before: date | None = None

    def is_empty(self) -> bool:
        return not (self.source or self.published_after or self.published_before)


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


@dataclass(frozen=True)
class ScoredPassage(Passage):
    """A retrieved passage with the scores that ranked it (shown by /search)."""

    score: float = 0.0
    dense: float | None = None
    lexical: float | None = None

    @property
    def chunk_id(self) -> str:
        return self.id

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["chunk_id"] = data.pop("id")
        data["published"] = self.published.isoformat() if self.published else None
        data["sources"] = list(self.sources)
        return data
