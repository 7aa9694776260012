"""Request and response bodies; validation here turns bad input into 422s that name the field."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from core.records import MAX_QUESTION_CHARS, MAX_TOP_K, Citation, Filters
from index.sources import DEFAULT_EVERY

Question = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUESTION_CHARS)
]


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] | None = None
    published_after: date | None = None
    published_before: date | None = None
    as_of: date | None = None

    @model_validator(mode="after")
    def ordered(self) -> FiltersIn:
        self.to_filters()  # Filters validates itself; its ValueError becomes a 422
        return self

    def to_filters(self) -> Filters:
        return Filters(self.source, self.published_after, self.published_before, self.as_of)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Question
    top_k: int | None = Field(default=None, ge=1, le=MAX_TOP_K)
    filters: FiltersIn | None = None


CitationOut = Citation
"""Citations leave exactly as the assistant makes them: the response schema is the record
itself (pydantic reads the dataclass), so the two can never drift apart."""


class AnswerOut(BaseModel):
    """An answer as every answering route returns it."""

    answer: str
    refused: bool
    citations: list[CitationOut]
    reader: str = Field(description="Who wrote the answer: the model's name, or 'extractive'.")
    kind: str = Field(description="The shape of answer asked for: yes/no, list, entity, ...")
    support: float | None = Field(
        description="The judge's lowest score over the answer's checked sentences (0-1); "
        "null when every sentence is quoted from its source."
    )
    dropped: list[str] = Field(
        description="Sentences the reader wrote that the judge found unsupported, left out."
    )
    threshold: float | None = Field(
        None,
        description="The judge's threshold the support was checked against; null when the "
        "answer was not checked (every sentence quoted).",
    )


class AskResponse(AnswerOut):
    pass


class PassageOut(BaseModel):
    chunk_id: str
    article_id: str
    title: str
    published: str | None
    source: str
    sources: list[str]
    url: str
    text: str
    start: int
    end: int
    score: float
    dense: float | None
    lexical: float | None


class SearchResponse(BaseModel):
    query: str
    passages: list[PassageOut]


class HealthResponse(BaseModel):
    status: str = Field(description="`ok` while the process answers; see GET /ready.")
    articles: int | None = Field(description="None when the catalog cannot be read.")
    passages: int | None
    embedding_model: str
    answerer: str
    data_dir: str


class ReadyResponse(BaseModel):
    status: Literal["ready", "not ready"]
    models_loaded: bool
    passages: int | None = Field(description="Ready passages in the catalog (None: unreadable).")
    vectors: int | None = Field(description="Vectors in the vector store (None: unreadable).")
    problems: list[str] = Field(description="What keeps the server from being ready.")


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    title: str = ""
    text: str
    published: str | None = None
    source: str = ""
    url: str = ""


class ArticlesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    articles: list[ArticleIn] = Field(min_length=1, max_length=10_000)


class IngestOut(BaseModel):
    ids: list[str]
    added: int
    updated: int
    unchanged: int
    deleted: int
    chunks_embedded: int


class ArticleOut(BaseModel):
    id: str
    title: str
    published: str | None
    source: str
    sources: list[str]
    url: str
    passages: int
    indexed_at: str


class ArticleList(BaseModel):
    total: int
    offset: int
    limit: int
    articles: list[ArticleOut]


class SourceIn(BaseModel):
    """A feed to follow; the URL and interval are checked by index.sources (422 naming the
    problem)."""

    model_config = ConfigDict(extra="forbid")

    url: str
    name: str = ""
    every: str = DEFAULT_EVERY
