"""Suite and corpus files for the public benchmarks in ../shared, through eval.datasets.

The repository holds only the ids of the CI subsets (eval/suites/subsets.json); the text is
written at build time from ../shared, which is never copied into the repo. Every suite comes
with the corpus it is meant to run on, so ``eval run SUITE --corpus CORPUS`` is
self-contained.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.articles import Article, ArticleError, make_article
from eval.datasets import (
    Case,
    CounterfactualCase,
    Search,
    articles_as_records,
    multihop_articles,
    multihop_cases,
    realtimeqa_cases,
    realtimeqa_pages,
    realtimeqa_searches,
    rgb_cases,
    write_jsonl,
)
from eval.metrics import normalise

__all__ = ["BuildError", "BuiltSuite", "build_suites", "default_subsets_path"]

REALTIMEQA = Path("data/realtimeqa-2023q4")
MULTIHOP = Path("data/multihop-rag-sample")
RGB = Path("data/rgb/en_fact.json")


class BuildError(ValueError):
    """Missing benchmark data or a broken subsets file: a usage error."""


@dataclass
class BuiltSuite:
    name: str
    suite: Path
    corpus: Path
    cases: int
    articles: int
    notes: str = ""

    def command(self) -> str:
        return shlex.join(
            ["newsdesk", "eval", "run", str(self.suite), "--corpus", str(self.corpus)]
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "suite": str(self.suite),
            "corpus": str(self.corpus),
            "cases": self.cases,
            "articles": self.articles,
            "notes": self.notes,
            "command": self.command(),
        }


def default_subsets_path() -> Path:
    return Path(__file__).resolve().parent / "suites" / "subsets.json"


def _subsets(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BuildError(f"{path}: cannot read the subsets file ({exc})") from None
    if not isinstance(data, dict):
        raise BuildError(f"{path}: expected a JSON object")
    return data


def _pick(items: Sequence[Any], ids: Sequence[str], what: str) -> list[Any]:
    """Items in the order the subset lists them; an id the data no longer has is an error,
    because a silently shrinking CI suite would make its numbers incomparable."""
    by_id = {str(item.id): item for item in items}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise BuildError(f"{what}: ids not found in the data: {', '.join(missing[:5])}")
    return [by_id[i] for i in ids]


# --- RealTimeQA ----------------------------------------------------------------------------
def _realtimeqa_records(
    cases: Sequence[Case], pages: Sequence[Article], searches: Mapping[str, Search]
) -> list[dict[str, Any]]:
    """Open-ended questions graded on the correct choice's text. The data's own ``evidence``
    (the quiz's explanation, with HTML) is not a corpus passage, so it is left out and
    retrieval is judged by pages containing the answer.

    A question counts as answerable when a page the benchmark's search found for it, published
    by the day it was asked, contains the answer. Any page of the corpus containing the answer
    is not enough: short answers ("Israel", "5", "Lion") occur in pages about other stories
    (66 of the 150 questions that test admits have the answer only in such pages, years older
    than the question). The rest get their own kind, so they are counted separately instead of
    dragging the rest down unseen."""
    by_url = {p.url: p for p in pages if p.url}
    records = []
    for case in cases:
        record: dict[str, Any] = {"id": case.id, "question": case.question}
        record["answer"] = case.answers if len(case.answers) > 1 else case.answers[0]
        search = searches.get(case.id)
        own = [by_url[u] for u in (search.urls if search else ()) if u in by_url]
        seen = [
            p
            for p in own
            if not (case.date and p.published and p.published.isoformat() > case.date)
        ]
        golds = [f" {normalise(a)} " for a in case.answers if normalise(a)]
        texts = [f" {normalise(p.title + ' ' + p.text)} " for p in seen]
        found = any(g in t for g in golds for t in texts)
        record["kind"] = "realtimeqa" if found else "realtimeqa-no-gold-page"
        if case.date:
            record["date"] = case.date
            # Asked as of the day it was searched for: "this week" means that week, and pages
            # published after it (which may give away the answer) are left out.
            record["filters"] = {"as_of": case.date}
        records.append(record)
    return records


def _build_realtimeqa(shared: Path, out: Path, subset: dict[str, Any] | None) -> BuiltSuite:
    folder = shared / REALTIMEQA
    pages = realtimeqa_pages(folder)
    searches = realtimeqa_searches(folder)
    cases = realtimeqa_cases(folder, searches)
    label = "ci" if subset is not None else "full"
    if subset is not None:
        cases = _pick(cases, subset.get("questions", []), "realtimeqa questions")
        pages = _pick(pages, subset.get("pages", []), "realtimeqa pages")
    records = _realtimeqa_records(cases, pages, searches)
    suite = write_jsonl(records, out / f"realtimeqa-{label}.jsonl")
    corpus = write_jsonl(articles_as_records(pages), out / f"realtimeqa-{label}-corpus.jsonl")
    missing = sum(r["kind"] == "realtimeqa-no-gold-page" for r in records)
    return BuiltSuite(
        f"realtimeqa-{label}",
        suite,
        corpus,
        len(records),
        len(pages),
        f"{missing} question(s) have no page of their own search results containing their "
        "answer (kind realtimeqa-no-gold-page)",
    )


# --- MultiHop-RAG --------------------------------------------------------------------------
def _build_multihop(shared: Path, out: Path, subset: dict[str, Any] | None) -> BuiltSuite:
    folder = shared / MULTIHOP
    cases = multihop_cases(folder)
    label = "ci" if subset is not None else "full"
    if subset is not None:
        cases = _pick(cases, subset.get("questions", []), "multihop questions")
    corpus_path = out / "multihop-corpus.jsonl"
    articles = multihop_articles(folder)  # all facts in both: the fact corpus is small
    write_jsonl(articles_as_records(articles), corpus_path)
    suite = write_jsonl([c.as_record() for c in cases], out / f"multihop-{label}.jsonl")
    nulls = sum(c.unanswerable for c in cases)
    return BuiltSuite(
        f"multihop-{label}",
        suite,
        corpus_path,
        len(cases),
        len(articles),
        f"{nulls} null queries (unanswerable)",
    )


# --- RGB counterfactual --------------------------------------------------------------------
def _rgb_articles(cases: Sequence[CounterfactualCase]) -> list[Article]:
    articles: dict[str, Article] = {}
    for case in cases:
        for number, passage in enumerate(case.passages, start=1):
            try:
                article = make_article(
                    title="", text=passage, source="RGB", origin=f"rgb:{case.id}:{number}"
                )
            except ArticleError:
                continue  # an empty passage: nothing to index
            articles.setdefault(article.id, article)
    return list(articles.values())


def _build_rgb(shared: Path, out: Path, subset: dict[str, Any] | None) -> BuiltSuite:
    cases = rgb_cases(shared / RGB)
    label = "ci" if subset is not None else "full"
    if subset is not None:
        cases = _pick(cases, subset.get("questions", []), "rgb questions")
    records = []
    for case in cases:
        record: dict[str, Any] = {
            "id": case.id,
            "question": case.question,
            "answer": case.answer,
            "kind": "counterfactual",
        }
        if case.fake_answer:
            record["fake_answer"] = case.fake_answer
        if case.passages:
            # The passages about this question: retrieval is judged on finding them, even
            # though what they say is the planted falsehood.
            record["evidence"] = case.passages
        records.append(record)
    articles = _rgb_articles(cases)
    suite = write_jsonl(records, out / f"rgb-{label}.jsonl")
    corpus = write_jsonl(articles_as_records(articles), out / f"rgb-{label}-corpus.jsonl")
    return BuiltSuite(
        f"rgb-{label}",
        suite,
        corpus,
        len(records),
        len(articles),
        "corpus = the positive_wrong passages only (every one carries the planted answer)",
    )


_BUILDERS: dict[str, tuple[Path, Callable[[Path, Path, dict[str, Any] | None], BuiltSuite]]] = {
    "realtimeqa": (REALTIMEQA, _build_realtimeqa),
    "multihop": (MULTIHOP, _build_multihop),
    "rgb": (RGB, _build_rgb),
}


def build_suites(
    shared: Path,
    out: Path,
    *,
    full: bool = False,
    subsets: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[list[BuiltSuite], list[str]]:
    """Write the CI suites (and with ``full`` the full ones too) into ``out``.

    Returns what was built and, for each data set missing from ``shared``, why it was
    skipped; a missing ``shared`` folder altogether is an error.
    """
    if not shared.is_dir():
        raise BuildError(f"{shared}: no benchmark data folder (pass --shared PATH)")
    chosen = _subsets(subsets or default_subsets_path())
    out.mkdir(parents=True, exist_ok=True)
    built: list[BuiltSuite] = []
    skipped: list[str] = []
    for name, (relative, builder) in _BUILDERS.items():
        if not (shared / relative).exists():
            skipped.append(f"{name}: {shared / relative} not found")
            continue
        subset = chosen.get(name)
        if not isinstance(subset, dict):
            raise BuildError(f"subsets file has no {name!r} entry")
        for part in (subset, None) if full else (subset,):
            suite = builder(shared, out, part)
            built.append(suite)
            if log is not None:
                log(f"{suite.name}: {suite.cases} cases, {suite.articles} articles")
    manifest = {"suites": [b.as_dict() for b in built], "skipped": skipped}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return built, skipped
