"""Ingest throughput against the embedding model's own encode, measured in the same run.

    python bench/ingest.py [--limit N]

On the RealTimeQA pages in ../shared/data: (1) raw `SentenceTransformer.encode` over exactly the
chunks that ingest will embed, with the same batch size; (2) a full `runtime.writer.ingest` into a
fresh data directory (chunking, embedding, Chroma, catalog and BM25 included); (3) the same
ingest again with nothing changed. Prints chunks/s for both, their ratio (target >= 0.9), and
the unchanged reindex time as a share of the full ingest (target <= 5%, 0 chunks embedded).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.runtime import Runtime
from core.settings import Settings
from eval.datasets import default_shared, realtimeqa_pages
from index.chunking import Chunker


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=default_shared())
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    args = parser.parse_args()
    folder = args.shared / "data" / "realtimeqa-2023q4"
    if not folder.exists():
        print(f"needs {folder} (the benchmark data beside the checkout)", file=sys.stderr)
        return 2
    articles = realtimeqa_pages(folder)[: args.limit]
    settings = Settings()
    embedder = Runtime(settings).embedder
    embedder.encode(["warm up"])
    chunker = Chunker(embedder.token_counter(), settings.chunk_tokens, settings.chunk_overlap)
    texts = [c.text for a in articles for c in chunker.split(a)]
    print(f"{len(articles)} pages, {len(texts)} chunks, batch size {settings.embed_batch_size}")

    start = time.perf_counter()
    embedder.model.encode(
        texts,
        batch_size=settings.embed_batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    raw_seconds = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as folder_name:
        runtime = Runtime(settings.model_copy(update={"data_dir": Path(folder_name)}), embedder)
        writer = runtime.writer
        start = time.perf_counter()
        full = writer.ingest(articles)
        full_seconds = time.perf_counter() - start
        start = time.perf_counter()
        again = writer.ingest(articles)
        again_seconds = time.perf_counter() - start
        runtime.close()

    raw_rate = len(texts) / raw_seconds
    ingest_rate = full.chunks_embedded / full_seconds
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| raw encoder, same chunks and batch | {raw_rate:.1f} chunks/s ({raw_seconds:.1f} s) |")
    print(f"| full ingest | {ingest_rate:.1f} chunks/s ({full_seconds:.1f} s) |")
    print(f"| full ingest / raw encoder | {ingest_rate / raw_rate:.2f}x (target >= 0.90) |")
    print(
        f"| unchanged reindex | {again_seconds:.2f} s, {again.chunks_embedded} chunks embedded, "
        f"{100 * again_seconds / full_seconds:.1f}% of full ingest (target <= 5%) |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
