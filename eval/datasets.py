"""Adapters for the public benchmark data in ../shared/data.

Each turns a data set into what Newsdesk reads (Articles) and what the harness asks (cases with
gold answers and gold evidence), so benchmarks and suites never parse the raw files themselves.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.articles import Article, ArticleError, make_article

OUTLETS = {
    "cnn.com": "CNN",
    "edition.cnn.com": "CNN",
    "usatoday.com": "USA Today",
    "theweek.com": "The Week",
}


def default_shared() -> Path:
    return Path(__file__).resolve().parents[1].parent / "shared"


@dataclass(frozen=True)
class Case:
    """One question with what a correct answer and its evidence look like."""

    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    unanswerable: bool = False
    kind: str = ""
    date: str | None = None

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"id": self.id, "question": self.question}
        if self.answers:
            record["answer"] = self.answers if len(self.answers) > 1 else self.answers[0]
        if self.evidence:
            record["evidence"] = self.evidence
        if self.unanswerable:
            record["unanswerable"] = True
        if self.kind:
            record["kind"] = self.kind
        if self.date:
            record["date"] = self.date
        return record


def outlet(url: str) -> str:
    host = urlsplit(url).netloc.lower().removeprefix("www.")
    return OUTLETS.get(host, host)


# --- RealTime QA ---------------------------------------------------------------------------
def _search_results(raw: object) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        raw = ast.literal_eval(raw)  # older weeks store a Python-literal list
    return [r for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []


def _search_records(folder: Path) -> Iterator[tuple[Path, dict[str, Any], list[dict[str, Any]]]]:
    """Each question's search record in the weekly ``*_gcs.jsonl`` files, with its pages."""
    for path in sorted(folder.glob("*_gcs.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            yield path, record, _search_results(record["search_result"])


def realtimeqa_pages(folder: Path) -> list[Article]:
    """The 1,433 unique news pages retrieved for the questions, as articles."""
    pages: dict[str, Article] = {}
    for path, _, results in _search_records(folder):
        for page in results:
            url = str(page.get("url") or "")
            if not url or url in pages or not str(page.get("text") or "").strip():
                continue
            published = str(page.get("publish_date") or "").replace("/", "-")[:10] or None
            try:
                pages[url] = make_article(
                    title=str(page.get("title") or ""),
                    text=str(page["text"]),
                    published=published,
                    source=outlet(url),
                    url=url,
                    origin=f"{path.name}:{url}",
                )
            except ArticleError:
                continue  # an empty or undated-in-the-future page: not part of the corpus
    return list(pages.values())


@dataclass(frozen=True)
class Search:
    """What the benchmark's search engine did for one question: the day it ran (``YYYY-MM-DD``,
    so the day the question was asked) and the pages it found."""

    day: str | None
    urls: tuple[str, ...]


def realtimeqa_searches(folder: Path) -> dict[str, Search]:
    searches: dict[str, Search] = {}
    for _, record, results in _search_records(folder):
        day = str(record.get("search_time") or "").replace("/", "-")[:10] or None
        urls = tuple(str(page.get("url") or "") for page in results)
        searches[str(record["question_id"])] = Search(day, tuple(u for u in urls if u))
    return searches


def realtimeqa_cases(folder: Path, searches: dict[str, Search] | None = None) -> list[Case]:
    """Questions asked open-ended; the gold answer is the text of the correct choice.

    Each question is dated the day it was searched for, not its ``question_date``: the quiz's
    ``question_date`` is often the first day of the week it covers (20231006's "ousting of
    Kevin McCarthy" questions carry 29 September; the vote was on 3 October and the search
    ran on the 7th), so an ``as_of`` filter on it would hide the very reports the question is
    about. The search day is never earlier than the question date; without one the question
    date stands. ``searches`` saves reading the search files again when the caller has them.
    """
    searches = realtimeqa_searches(folder) if searches is None else searches
    cases: list[Case] = []
    for path in sorted(folder.glob("*_qa.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            choice = int(record["answer"][0])
            key = str(record["question_id"])
            asked = str(record["question_date"]).replace("/", "-")
            searched = searches[key].day if key in searches else None
            cases.append(
                Case(
                    id=key,
                    question=str(record["question_sentence"]),
                    answers=[str(record["choices"][choice])],
                    evidence=[str(record.get("evidence") or "")] if record.get("evidence") else [],
                    kind="realtimeqa",
                    date=max(asked, searched) if searched else asked,
                )
            )
    return cases


# --- MultiHop-RAG ---------------------------------------------------------------------------
def _multihop_records(folder: Path) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    queries = json.loads((folder / "queries.json").read_text())
    truth = json.loads((folder / "ground_truth.json").read_text())
    items = queries["queries"] if isinstance(queries, dict) and "queries" in queries else queries
    if isinstance(items, dict):
        items = list(items.values())
    for item in items:
        key = str(item["id"])
        yield key, item, truth[key]


def multihop_articles(folder: Path) -> list[Article]:
    """Evidence facts as short articles (facts of one source article become its paragraphs)."""
    grouped: dict[str, dict[str, Any]] = {}
    for _, _, gold in _multihop_records(folder):
        for fact in gold.get("evidence_list", []):
            url = str(fact.get("url") or fact["title"])
            entry = grouped.setdefault(url, {"meta": fact, "facts": []})
            if fact["fact"] not in entry["facts"]:
                entry["facts"].append(fact["fact"])
    articles = []
    for url, entry in grouped.items():
        meta = entry["meta"]
        articles.append(
            make_article(
                title=str(meta.get("title") or ""),
                text="\n".join(entry["facts"]),
                published=str(meta.get("published_at") or "")[:10] or None,
                source=str(meta.get("source") or ""),
                url=url if url.startswith("http") else "",
                origin=f"multihop:{url}",
            )
        )
    return articles


def multihop_cases(folder: Path) -> list[Case]:
    cases = []
    for key, query, gold in _multihop_records(folder):
        kind = str(query.get("question_type") or "")
        answer = str(gold.get("answer") or "")
        unanswerable = kind.startswith("null")
        cases.append(
            Case(
                id=f"multihop-{key}",
                question=str(query["question"]),
                answers=[] if unanswerable else [answer],
                evidence=[str(f["fact"]) for f in gold.get("evidence_list", [])],
                unanswerable=unanswerable,
                kind=kind,
            )
        )
    return cases


# --- RGB counterfactual ---------------------------------------------------------------------
@dataclass(frozen=True)
class CounterfactualCase:
    id: str
    question: str
    answer: list[str]
    fake_answer: str
    passages: list[str]


def rgb_cases(path: Path) -> list[CounterfactualCase]:
    text = path.read_text().strip()
    records = (
        json.loads(text) if text.startswith("[") else [json.loads(x) for x in text.splitlines()]
    )
    out = []
    for record in records:
        answer = record.get("answer")
        answers = answer if isinstance(answer, list) else [answer]
        flat = [str(a) for g in answers for a in (g if isinstance(g, list) else [g])]
        out.append(
            CounterfactualCase(
                id=f"rgb-{record.get('id')}",
                question=str(record["query"]),
                answer=flat,
                fake_answer=str(record.get("fakeanswer") or ""),
                passages=[str(p) for p in record.get("positive_wrong", [])],
            )
        )
    return out


def write_jsonl(records: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


def articles_as_records(articles: list[Article]) -> list[dict[str, Any]]:
    return [
        {
            "id": a.id,
            "title": a.title,
            "published": a.published.isoformat() if a.published else None,
            "source": a.source,
            "url": a.url,
            "text": a.text,
        }
        for a in articles
    ]
