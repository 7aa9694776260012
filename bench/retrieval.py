"""Retrieval quality and latency: dense only, hybrid, hybrid + rerank, the full pipeline.

    python bench/retrieval.py [--cache DIR] [--only multihop|realtimeqa] [--limit N]

Indexes the dev data from ../shared once into DIR (default ~/.cache/newsdesk-bench; reused on
later runs, incremental ingest makes that check cheap) and prints, per data set and pipeline,
recall@5, recall@10 and MRR@10 with the median retrieval latency (before answer composition):
- MultiHop-RAG sample: the evidence facts indexed as short articles; gold = the query's facts;
  recall@k = share of a query's facts found in the top k; null queries are left out.
- RealTimeQA 2023-Q4: the 1,433 retrieved pages; gold = a passage containing the correct
  choice's text; questions with no such passage anywhere are counted apart.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.answering import Assistant
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
from index.embedder import Embedder

PIPELINES: dict[str, dict[str, object]] = {
    "dense only": {"lexical_search": False, "rerank": False, "plan_queries": False},
    "hybrid (dense + BM25, RRF)": {"rerank": False, "plan_queries": False},
    "hybrid + rerank": {"plan_queries": False},
    "full (rerank + query planning + diversity)": {},
    "full + sentence rerank of top 8": {"rerank_sentence_depth": 8},
}


def normalise(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


@dataclass
class Row:
    recall5: float
    recall10: float
    mrr10: float
    p50_ms: float
    n: int


def evaluate(
    assistant: Assistant, cases: Sequence[Case], gold: Callable[[Case, str], list[int]]
) -> Row:
    r5: list[float] = []
    r10: list[float] = []
    rr: list[float] = []
    latencies: list[float] = []
    for case in cases:
        start = time.perf_counter()
        hits = assistant.search(case.question, 10)
        latencies.append(1000 * (time.perf_counter() - start))
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=default_shared())
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "newsdesk-bench")
    parser.add_argument("--only", choices=["multihop", "realtimeqa"], default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N questions per set")
    parser.add_argument("--pipelines", nargs="*", default=None, help="names to run (default all)")
    args = parser.parse_args()
    data = args.shared / "data"
    if not data.exists():
        print(f"needs {data} (the benchmark data beside the checkout)", file=sys.stderr)
        return 2
    embedder = Runtime(Settings()).embedder
    sets: list[tuple[str, Path, list[Case], Callable[[Case, str], list[int]]]] = []
    if args.only in (None, "multihop"):
        folder = data / "multihop-rag-sample"
        cases = [c for c in multihop_cases(folder) if not c.unanswerable]
        path = build(args.cache, "multihop", multihop_articles(folder), embedder)
        sets.append(("MultiHop-RAG sample", path, cases[: args.limit], multihop_gold))
    if args.only in (None, "realtimeqa"):
        folder = data / "realtimeqa-2023q4"
        path = build(args.cache, "realtimeqa", realtimeqa_pages(folder), embedder)
        cases = realtimeqa_cases(folder)
        runtime = Runtime(Settings(data_dir=path), embedder)
        corpus = [normalise(text) for text in runtime.store.catalog.passage_texts()]
        runtime.close()
        findable = [c for c in cases if any(normalise(c.answers[0]) in p for p in corpus)]
        print(
            f"RealTimeQA: {len(findable)} of {len(cases)} questions have a passage containing "
            "their answer; the others are left out of recall",
            file=sys.stderr,
        )
        sets.append(("RealTimeQA 2023-Q4", path, findable[: args.limit], realtimeqa_gold))

    print("| data set | pipeline | recall@5 | recall@10 | MRR@10 | p50 ms | n |")
    print("|---|---|---|---|---|---|---|")
    for label, path, cases, gold in sets:
        for name, overrides in PIPELINES.items():
            if args.pipelines and name not in args.pipelines:
                continue
            settings = Settings(data_dir=path).model_copy(update=overrides)
            runtime = Runtime(settings, embedder)
            runtime.assistant.search("warm up", 5)
            row = evaluate(runtime.assistant, cases, gold)
            runtime.close()
            print(
                f"| {label} | {name} | {row.recall5:.3f} | {row.recall10:.3f} | "
                f"{row.mrr10:.3f} | {row.p50_ms:.0f} | {row.n} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
