"""The index an evaluation runs against: the configured data directory, or a fresh temporary
one built from the suite's own corpus files.

A temporary index makes a suite self-contained (same corpus, same numbers on every machine)
and keeps an evaluation from ever writing into a data directory someone else is serving.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.settings import Settings

if TYPE_CHECKING:
    from assistant.runtime import Runtime
    from index.embedder import Embedder

__all__ = ["CorpusError", "IndexInfo", "open_index"]


class CorpusError(ValueError):
    """The corpus cannot be read or there is no index to evaluate: a usage error."""


@dataclass
class IndexInfo:
    data_dir: str
    temporary: bool
    articles: int
    passages: int
    ingest_seconds: float | None = None
    chunks_embedded: int | None = None


@contextmanager
def open_index(
    settings: Settings,
    corpus: Sequence[Path] = (),
    embedder: Embedder | None = None,
    log: Callable[[str], None] | None = None,
) -> Iterator[tuple[Runtime, IndexInfo]]:
    """The runtime over an index (and what the index holds) for the duration of a run.

    With ``corpus``, every article under those paths is ingested into a new temporary data
    directory with an embedded Chroma (never a configured Chroma server: the run must not
    write into shared state), removed afterwards. Without, the configured data directory is
    opened read-only in spirit: nothing here writes to it.
    """
    from assistant.runtime import Runtime
    from core.articles import ArticleError
    from index.loaders import load_articles

    if corpus:
        try:
            articles = load_articles(corpus)
        except ArticleError as exc:
            raise CorpusError(f"{exc}; nothing was evaluated") from None
        if not articles:
            raise CorpusError("no articles found in " + ", ".join(map(str, corpus)))
        folder = Path(tempfile.mkdtemp(prefix="newsdesk-eval-"))
        run_settings = settings.model_copy(
            update={"data_dir": folder / "data", "chroma_mode": "embedded"}
        )
        runtime = Runtime(run_settings, embedder)
        try:
            started = time.perf_counter()
            if log is not None:
                log(f"indexing {len(articles)} articles into a temporary index")
            summary = runtime.writer.ingest(articles)
            counts = runtime.store.catalog.counts()
            info = IndexInfo(
                data_dir=str(run_settings.data_dir),
                temporary=True,
                articles=int(counts["articles"]),
                passages=int(counts["passages"]),
                ingest_seconds=round(time.perf_counter() - started, 2),
                chunks_embedded=summary.chunks_embedded,
            )
            yield runtime, info
        finally:
            runtime.close()
            shutil.rmtree(folder, ignore_errors=True)
        return

    if not settings.catalog_path.exists():
        raise CorpusError(
            f"no index in {settings.data_dir}; pass --corpus PATH to evaluate on a corpus, "
            "--against URL for a running server, or --data-dir for another index"
        )
    runtime = Runtime(settings, embedder)
    try:
        counts = runtime.store.catalog.counts()
        yield (
            runtime,
            IndexInfo(
                data_dir=str(settings.data_dir),
                temporary=False,
                articles=int(counts["articles"]),
                passages=int(counts["passages"]),
            ),
        )
    finally:
        runtime.close()
