"""Encoder backends and ingest throughput, measured in one run.

    python bench/ingest.py [--limit N] [--backends torch torch-int8 onnx onnx-int8 openvino]
                           [--recall-limit N]

On the RealTimeQA pages in ../shared/data:
(1) one row per encoder backend (`NEWSDESK_EMBEDDING_BACKEND`): its raw encode of exactly the
    chunks ingest will embed, at the configured batch size, in chunks/s and as a ratio to torch
    fp32 in the same run; the worst cosine between its vector and torch's for the same chunk;
    and dense-only recall@5/@10 on the MultiHop-RAG sample (its evidence facts indexed with that
    backend). A backend that is not installed (the `encoders` extra) gets a row saying so. The
    last line says whether any backend beats torch by >= 1.3x with recall within 0.01.
(2) a full `runtime.writer.ingest` with the default backend into a fresh data directory
    (chunking, embedding, Chroma, catalog and BM25, overlapped), as a ratio to that backend's raw
    encoder (target >= 0.9);
(3) the same ingest again with nothing changed (target <= 5% of the full ingest, 0 embedded).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval import PIPELINES, evaluate, multihop_gold

from assistant.runtime import Runtime
from core.settings import Settings
from eval.datasets import default_shared, multihop_articles, multihop_cases, realtimeqa_pages
from index.chunking import Chunker
from index.embedder import BACKENDS, Embedder, EmbedderError

BASELINE = "torch"
SPEED_BAR = 1.3
RECALL_SLACK = 0.01


@dataclass
class BackendRow:
    backend: str
    rate: float | None = None
    worst_cosine: float | None = None
    recall5: float | None = None
    recall10: float | None = None
    note: str = ""


def dense_recall(
    settings: Settings, embedder: Embedder, shared: Path, limit: int | None
) -> tuple[float, float]:
    """Dense-only recall on the MultiHop-RAG sample, indexed with this embedder."""
    folder = shared / "data" / "multihop-rag-sample"
    cases = [c for c in multihop_cases(folder) if not c.unanswerable][:limit]
    with tempfile.TemporaryDirectory() as scratch:
        run_settings = settings.model_copy(
            update={
                "data_dir": Path(scratch),
                "embedding_backend": embedder.backend,
                **PIPELINES["dense only"],
            }
        )
        runtime = Runtime(run_settings, embedder)
        runtime.writer.ingest(multihop_articles(folder))
        row = evaluate(runtime.assistant, cases, multihop_gold)
        runtime.close()
    return row.recall5, row.recall10


def measure_backend(
    backend: str,
    settings: Settings,
    texts: list[str],
    reference: np.ndarray | None,
    args: argparse.Namespace,
) -> tuple[BackendRow, np.ndarray | None]:
    embedder = Embedder(
        settings.embedding_package,
        batch_size=settings.embed_batch_size,
        backend=backend,
        device=settings.embedding_device,
        cache=args.cache / "encoders",
    )
    try:
        # One full batch of the real chunks first: allocators and kernels warm up on the
        # shapes that count, so the backend measured first is not the one that pays for it.
        embedder.encode(texts[: settings.embed_batch_size])
    except EmbedderError as exc:
        return BackendRow(backend, note=f"not available: {exc}"), None
    start = time.perf_counter()
    vectors = embedder.encode(texts)
    row = BackendRow(backend, rate=len(texts) / (time.perf_counter() - start))
    if reference is not None:
        row.worst_cosine = float(np.min(np.sum(reference * vectors, axis=1)))
    if not args.no_recall:
        row.recall5, row.recall10 = dense_recall(settings, embedder, args.shared, args.recall_limit)
    return row, vectors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=default_shared())
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "newsdesk-bench")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument(
        "--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS), metavar="BACKEND"
    )
    parser.add_argument(
        "--recall-limit", type=int, default=None, help="first N MultiHop-RAG questions"
    )
    parser.add_argument("--no-recall", action="store_true", help="throughput rows only")
    args = parser.parse_args()
    folder = args.shared / "data" / "realtimeqa-2023q4"
    if not folder.exists():
        print(f"needs {folder} (the benchmark data beside the checkout)", file=sys.stderr)
        return 2
    articles = realtimeqa_pages(folder)[: args.limit]
    settings = Settings()
    default = Runtime(settings).embedder
    default.encode(["warm up"])
    chunker = Chunker(default.token_counter(), settings.chunk_tokens, settings.chunk_overlap)
    texts = [c.text for a in articles for c in chunker.split(a)]
    print(
        f"{len(articles)} pages, {len(texts)} chunks, batch size {settings.embed_batch_size}, "
        f"device {default.device}, default backend {settings.embedding_backend}",
        flush=True,
    )

    backends = [BASELINE, *(b for b in args.backends if b != BASELINE)]
    rows: list[BackendRow] = []
    reference: np.ndarray | None = None
    for backend in backends:
        row, vectors = measure_backend(backend, settings, texts, reference, args)
        if backend == BASELINE:
            reference = vectors
        rows.append(row)
        print(f"  measured {backend}", file=sys.stderr, flush=True)

    print()
    print("| backend | chunks/s | vs torch fp32 | worst cosine to torch | recall@5 | recall@10 |")
    print("|---|---|---|---|---|---|")
    base = rows[0]

    def figure(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    for row in rows:
        if row.rate is None:
            print(f"| {row.backend} | {row.note} | | | | |")
            continue
        ratio = row.rate / base.rate if base.rate else None
        print(
            f"| {row.backend} | {row.rate:.1f} | {figure(ratio, '.2f')}x | "
            f"{figure(row.worst_cosine, '.3f')} | {figure(row.recall5, '.3f')} | "
            f"{figure(row.recall10, '.3f')} |"
        )
    winners = [
        r
        for r in rows[1:]
        if r.rate is not None
        and base.rate
        and r.rate >= SPEED_BAR * base.rate
        and r.recall5 is not None
        and base.recall5 is not None
        and r.recall10 is not None
        and base.recall10 is not None
        and r.recall5 >= base.recall5 - RECALL_SLACK
        and r.recall10 >= base.recall10 - RECALL_SLACK
    ]
    if args.no_recall:
        verdict = "none (--no-recall: a backend qualifies only with its recall measured)"
    elif winners:
        verdict = (
            f"{', '.join(w.backend for w in winners)} >= {SPEED_BAR}x torch with recall "
            f"within {RECALL_SLACK} (confirm on a quiet machine before changing the default)"
        )
    else:
        verdict = (
            f"no backend is >= {SPEED_BAR}x torch with recall within {RECALL_SLACK}: keep torch"
        )
    print(f"\nverdict: {verdict}")

    raw = next((r for r in rows if r.backend == settings.embedding_backend), None)
    with tempfile.TemporaryDirectory() as folder_name:
        runtime = Runtime(settings.model_copy(update={"data_dir": Path(folder_name)}), default)
        writer = runtime.writer
        start = time.perf_counter()
        full = writer.ingest(articles)
        full_seconds = time.perf_counter() - start
        start = time.perf_counter()
        again = writer.ingest(articles)
        again_seconds = time.perf_counter() - start
        runtime.close()

    ingest_rate = full.chunks_embedded / full_seconds
    print()
    print("| measure | value |")
    print("|---|---|")
    if raw is not None and raw.rate:
        print(f"| raw encoder ({raw.backend}), same chunks and batch | {raw.rate:.1f} chunks/s |")
    print(f"| full ingest | {ingest_rate:.1f} chunks/s ({full_seconds:.1f} s) |")
    if raw is not None and raw.rate:
        print(f"| full ingest / raw encoder | {ingest_rate / raw.rate:.2f}x (target >= 0.90) |")
    print(
        f"| unchanged reindex | {again_seconds:.2f} s, {again.chunks_embedded} chunks embedded, "
        f"{100 * again_seconds / full_seconds:.1f}% of full ingest (target <= 5%) |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
