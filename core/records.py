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
MAX_OFFSET = 2**62
"""Paging offsets stay inside SQLite's signed 64-bit integers (a larger one is a 422)."""


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

    @property
    def named_text(self) -> str:
        """Everything a passage names things in: its title, its outlets and its text ("the
        TechCrunch article" names an outlet, which the text itself rarely does)."""
        return f"{self.title} {self.source} {' '.join(self.sources)} {self.text}"


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
    as_of: date | None = None
    """Ask as if on this day: later articles are left out, and "latest" or "this week" in the
    question are read from here rather than from the newest article in the index."""

    def __post_init__(self) -> None:
        after, before = self.published_after, self.published_before
        if after and before and after > before:
            raise ValueError("published_after must not be later than published_before")
        if after and self.as_of and after > self.as_of:
            raise ValueError("as_of must not be earlier than published_after")

    @property
    def until(self) -> date | None:
        """The last publication day a question may draw on: as_of is an upper bound like
        published_before, so search needs only one bound."""
        bounds = [d for d in (self.published_before, self.as_of) if d]
        return min(bounds) if bounds else None

    def is_empty(self) -> bool:
        return not (self.source or self.published_after or self.published_before or self.as_of)

    def as_dict(self) -> dict[str, str]:
        """The filters as /ask and /search take them (dates as ISO strings, empty ones left out)."""
        out: dict[str, str] = {}
        if self.source:
            out["source"] = self.source
        if self.published_after:
            out["published_after"] = self.published_after.isoformat()
        if self.published_before:
            out["published_before"] = self.published_before.isoformat()
        if self.as_of:
            out["as_of"] = self.as_of.isoformat()
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
    highlights: list[tuple[int, int]] = field(default_factory=list)
    """Character spans, within `passage`, of the sentences the answer relies on."""
    support: float | None = None
    """The judge's score for the answer's sentences citing this passage (None: quoted
    verbatim, so supported by construction)."""

    @classmethod
    def from_passage(
        cls,
        number: int,
        passage: Passage,
        *,
        highlights: list[tuple[int, int]] | None = None,
        support: float | None = None,
    ) -> Citation:
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
            highlights=sorted(set(highlights or [])),
            support=support,
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
    reader: str = "extractive"
    """Which reader wrote the answer (the model's name, or the extractive composer)."""
    kind: str = ""
    """The shape of answer the question asked for (yes/no, list, entity, date, number)."""
    dropped: list[str] = field(default_factory=list)
    """Sentences the reader wrote that the judge found unsupported, left out of the answer."""
    threshold: float | None = None
    """The judge's threshold the support was checked against (None: nothing was checked)."""

    @property
    def support(self) -> float | None:
        """The weakest checked citation's support; None when every sentence is a quote."""
        scores = [c.support for c in self.citations if c.support is not None]
        return min(scores) if scores else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.as_dict() for c in self.citations],
            "reader": self.reader,
            "kind": self.kind,
            "support": self.support,
            "dropped": list(self.dropped),
            "threshold": self.threshold,
        }


@runtime_checkable
class Answerer(Protocol):
    """Anything that answers a question with cited passages: the Assistant, a chat turn's
    answerer, a pluggable answerer under evaluation."""

    def ask(
        self, question: str, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer: ...
