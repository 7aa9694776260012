"""Retrieval quality and latency per pipeline, at the RealTimeQA corpus size and at 10x it.

    python bench/retrieval.py [--cache DIR] [--only multihop|realtimeqa] [--limit N]
                              [--index DIR] [--scale N] [--pages N] [--pipelines NAME ...]

Indexes the dev data from ../shared once into DIR (default ~/.cache/newsdesk-bench; reused on
later runs, incremental ingest makes that check cheap) and prints, per data set and pipeline,
recall@5, recall@10 and MRR@10 with the retrieval latency as a server's answer stage runs it:
question embedding, search, fusion, reranking when the pipeline has it, the name cover; answer
composition left out. p50 and p95 are over all questions after a warm-up; "embed p50" is the
question-embedding part of it. The "hybrid" row is the "reranking excluded" figure, "full"
(the default settings) the "with reranking" one.
- MultiHop-RAG sample: the evidence facts indexed as short articles; gold = the query's facts;
  recall@k = share of a query's facts found in the top k; null queries are left out.
- RealTimeQA 2023-Q4: the 1,433 retrieved pages (~18k chunks); gold = a passage containing the
  correct choice's text; questions with no such passage anywhere are counted apart.
  `--index DIR` takes an already embedded data directory of that corpus (an eval cache, say):
  it is copied into the cache folder once (never written to), so nothing is re-embedded.
  `--pages N` indexes only the first N pages (a quick run while developing).
- `--scale N` (default 10, 0 to skip) also measures RealTimeQA at N times its size: every
  article, passage (so BM25 runs over N times the postings) and stored vector is copied N-1
  times under new ids into a separate data directory. Nothing is embedded again: minutes, not
  hours. Recall there is not comparable to the 1x row (each gold passage exists N times).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.retriever import Retriever
from assistant.runtime import Runtime
from core.articles import Article
from core.settings import Settings
from eval.datasets import (
    Case,
    default_shared,
    multihop_articles,
    multihop_cases,
    realtimeqa_cases,
    realtimeqa_pages,
)
from eval.metrics import percentile
from index.catalog import SqliteCatalog
from index.database import Database, SqliteDatabase
from index.embedder import Embedder
from index.vector_store import VectorStore

PIPELINES: dict[str, dict[str, object]] = {
    "dense only": {"lexical_search": False, "rerank": False, "plan_queries": False},
    "hybrid (dense + BM25, RRF)": {"rerank": False, "plan_queries": False},
    "hybrid + rerank": {"plan_queries": False},
    "full (rerank + query planning + diversity)": {},
    "full + sentence rerank of top 8": {"rerank_sentence_depth": 8},
}
WARM_UP = 3
SCALE_META = "bench_scale"
COPY_BATCH = 4000


def normalise(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


@dataclass
class Row:
    recall5: float
    recall10: float
    mrr10: float
    p50_ms: float
    p95_ms: float
    embed_p50_ms: float
    n: int


def evaluate(
    retriever: Retriever,
    embedder: Embedder,
    cases: Sequence[Case],
    gold: Callable[[Case, str], list[int]],
) -> Row:
    """Times what Assistant.stream's retrieval stage does for each question (embedding,
    retrieve, cover), with k=10 for the recall@10 it is scored on."""
    r5: list[float] = []
    r10: list[float] = []
    rr: list[float] = []
    latencies: list[float] = []
    embedding: list[float] = []
    for case in cases:
        start = time.perf_counter()
        vector = embedder.encode([case.question])[0]
        embedded = time.perf_counter()
        hits = retriever.retrieve(case.question, 10, query_vector=vector)
        retriever.cover(case.question, hits)
        latencies.append(1000 * (time.perf_counter() - start))
        embedding.append(1000 * (embedded - start))
        found = [gold(case, normalise(h.text)) for h in hits]
        wanted = max(len(case.evidence), 1) if case.kind != "realtimeqa" else 1

        def recall(k: int, found: list[list[int]] = found, wanted: int = wanted) -> float:
            covered = {g for f in found[:k] for g in f}
            return min(len(covered), wanted) / wanted

        r5.append(recall(5))
        r10.append(recall(10))
        first = next((i for i, f in enumerate(found) if f), None)
        rr.append(0.0 if first is None else 1.0 / (first + 1))
    return Row(
        statistics.mean(r5),
        statistics.mean(r10),
        statistics.mean(rr),
        statistics.median(latencies),
        percentile(latencies, 95) or 0.0,
        statistics.median(embedding),
        len(cases),
    )


def multihop_gold(case: Case, passage: str) -> list[int]:
    return [i for i, fact in enumerate(case.evidence) if normalise(fact) in passage]


def realtimeqa_gold(case: Case, passage: str) -> list[int]:
    return [0] if any(normalise(a) and normalise(a) in passage for a in case.answers) else []


def build(cache: Path, name: str, articles: list[Article], embedder: Embedder) -> Path:
    data_dir = cache / name
    runtime = Runtime(Settings(data_dir=data_dir), embedder)
    start = time.perf_counter()
    summary = runtime.writer.ingest(articles)
    runtime.close()
    print(f"{name}: {summary.line()} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return data_dir


def adopt(index: Path, target: Path) -> Path:
    """A copy of an already embedded data directory, made once per source: the bench never
    writes into someone else's index (an eval cache other runs read)."""
    if not (index / "catalog.sqlite3").exists():
        raise SystemExit(f"--index {index}: no catalog.sqlite3 there (not a Newsdesk data dir)")
    marker = target / "bench-source.txt"
    if target.exists() and marker.exists() and marker.read_text() == str(index.resolve()):
        print(f"reusing {target}, copied from {index}", file=sys.stderr)
        return target
    shutil.rmtree(target, ignore_errors=True)
    start = time.perf_counter()
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(index, partial, ignore=shutil.ignore_patterns("*.lock", "eval-cache"))
    (partial / marker.name).write_text(str(index.resolve()))
    partial.rename(target)
    print(f"copied {index} to {target} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return target


def scaled(source: Path, factor: int, embedder: Embedder) -> Path:
    """`source` copied `factor` times over into a sibling data directory: each copy's article,
    passage and vector ids get a `~n` suffix; texts, dates and vectors stay as they are. Built
    once and reused while the source's passage count and the factor are unchanged."""
    target = source.with_name(f"{source.name}-x{factor}")
    origin = sqlite_catalog(source)
    want: dict[str, object] = {"source_passages": origin.counts()["passages"], "factor": factor}
    origin.close()
    if target.exists():
        done = sqlite_catalog(target)
        recorded = done.meta(SCALE_META)
        done.close()
        if recorded == want:
            print(f"reusing {target}", file=sys.stderr)
            return target
        shutil.rmtree(target)
    start = time.perf_counter()
    settings = Settings(data_dir=target)
    catalog = sqlite_catalog(target)
    with catalog.transaction():
        copy_catalog(catalog.db, Settings(data_dir=source).catalog_path, factor)
    vectors = VectorStore(settings)
    copy_vectors(VectorStore(Settings(data_dir=source)), vectors, factor)
    count = vectors.count()
    vectors.close()
    catalog.set_meta(SCALE_META, want)
    passages = catalog.counts()["passages"]
    catalog.close()
    if count != passages:
        raise SystemExit(f"scaled index disagrees: {count} vectors, {passages} passages")
    print(
        f"{target.name}: {passages} passages and vectors copied in "
        f"{time.perf_counter() - start:.0f} s",
        file=sys.stderr,
    )
    return target


def sqlite_catalog(data_dir: Path) -> SqliteCatalog:
    """The bench's indexes are SQLite data directories (the default store)."""
    return SqliteCatalog(SqliteDatabase(Settings(data_dir=data_dir).catalog_path))


def copy_catalog(db: Database, source: Path, factor: int) -> None:
    """The ready articles and their passages, `factor` times (the FTS index fills through the
    passages table's triggers), and the source's meta (the embedding record)."""
    db.execute("ATTACH DATABASE ? AS src", (f"file:{source}?mode=ro",))
    db.execute("INSERT OR REPLACE INTO meta SELECT * FROM src.meta")
    for n in range(factor):
        suffix = f"~{n}" if n else ""
        db.execute(
            """INSERT INTO articles (id, hash, state, title, published, source, sources, url,
                                     fingerprint, text, n_chunks, indexed_at)
               SELECT id || ?1, hash, state, title, published, source, sources, url || ?1,
                      fingerprint || ?1, text, n_chunks, indexed_at
               FROM src.articles WHERE state = 'ready'""",
            (suffix,),
        )
        db.execute(
            """INSERT INTO passages (id, article_id, ordinal, start, "end", text)
               SELECT p.id || ?1, p.article_id || ?1, p.ordinal, p.start, p."end", p.text
               FROM src.passages p JOIN src.articles a ON a.id = p.article_id
               WHERE a.state = 'ready'""",
            (suffix,),
        )
    db.commit()
    db.execute("DETACH DATABASE src")


def copy_vectors(source: VectorStore, target: VectorStore, factor: int) -> None:
    """Every stored vector with its document and metadata, `factor` times, in batches."""
    include: Any = ["embeddings", "documents", "metadatas"]
    total = source.count()
    for offset in range(0, total, COPY_BATCH):
        got = source.collection.get(limit=COPY_BATCH, offset=offset, include=include)
        for n in range(factor):
            suffix = f"~{n}" if n else ""
            target.collection.add(
                ids=[i + suffix for i in got["ids"]],
                embeddings=got["embeddings"],
                documents=got["documents"],
                metadatas=[
                    {**m, "article_id": f"{m['article_id']}{suffix}"}
                    for m in (got["metadatas"] or [])
                ],
            )
        print(f"  vectors {min(offset + COPY_BATCH, total)}/{total} x{factor}", file=sys.stderr)
    source.close()


def findable(path: Path, embedder: Embedder, cases: list[Case]) -> list[Case]:
    runtime = Runtime(Settings(data_dir=path), embedder)
    corpus = [normalise(text) for text in runtime.store.catalog.passage_texts()]
    runtime.close()
    found = [c for c in cases if any(normalise(c.answers[0]) in p for p in corpus)]
    print(
        f"RealTimeQA: {len(found)} of {len(cases)} questions have a passage containing "
        "their answer; the others are left out of recall",
        file=sys.stderr,
    )
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=default_shared())
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "newsdesk-bench")
    parser.add_argument("--only", choices=["multihop", "realtimeqa"], default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N questions per set")
    parser.add_argument("--pipelines", nargs="*", default=None, help="names to run (default all)")
    parser.add_argument(
        "--index", type=Path, default=None, help="an embedded RealTimeQA data dir to copy"
    )
    parser.add_argument("--pages", type=int, default=None, help="first N RealTimeQA pages only")
    parser.add_argument("--scale", type=int, default=10, help="RealTimeQA copied N times (0: no)")
    args = parser.parse_args()
    data = args.shared / "data"
    if not data.exists():
        print(f"needs {data} (the benchmark data beside the checkout)", file=sys.stderr)
        return 2
    if args.index is not None and args.pages is not None:
        parser.error("--index and --pages: the index holds the pages it holds")
    embedder = Runtime(Settings()).embedder
    sets: list[tuple[str, Path, list[Case], Callable[[Case, str], list[int]]]] = []
    if args.only in (None, "multihop"):
        folder = data / "multihop-rag-sample"
        cases = [c for c in multihop_cases(folder) if not c.unanswerable]
        path = build(args.cache, "multihop", multihop_articles(folder), embedder)
        sets.append(("MultiHop-RAG sample", path, cases[: args.limit], multihop_gold))
    if args.only in (None, "realtimeqa"):
        folder = data / "realtimeqa-2023q4"
        if args.index is not None:
            path = adopt(args.index, args.cache / "realtimeqa-index")
        elif args.pages is not None:
            pages = realtimeqa_pages(folder)[: args.pages]
            path = build(args.cache, f"realtimeqa-p{args.pages}", pages, embedder)
        else:
            path = build(args.cache, "realtimeqa", realtimeqa_pages(folder), embedder)
        cases = findable(path, embedder, realtimeqa_cases(folder))[: args.limit]
        sets.append(("RealTimeQA 2023-Q4", path, cases, realtimeqa_gold))
        if args.scale > 1:
            big = scaled(path, args.scale, embedder)
            sets.append((f"RealTimeQA 2023-Q4 x{args.scale}", big, cases, realtimeqa_gold))

    print(
        "| data set | passages | pipeline | recall@5 | recall@10 | MRR@10 | p50 ms | p95 ms "
        "| embed p50 ms | n |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, path, cases, gold in sets:
        for name, overrides in PIPELINES.items():
            if args.pipelines and name not in args.pipelines:
                continue
            settings = Settings(data_dir=path).model_copy(update=overrides)
            runtime = Runtime(settings, embedder)
            passages = runtime.store.catalog.counts()["passages"]
            retriever = runtime.assistant.retriever
            for case in cases[:WARM_UP]:
                retriever.cover(case.question, retriever.retrieve(case.question, 10))
            row = evaluate(retriever, embedder, cases, gold)
            runtime.close()
            print(
                f"| {label} | {passages} | {name} | {row.recall5:.3f} | {row.recall10:.3f} | "
                f"{row.mrr10:.3f} | {row.p50_ms:.0f} | {row.p95_ms:.0f} | "
                f"{row.embed_p50_ms:.0f} | {row.n} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
