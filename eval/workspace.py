"""The index an evaluation runs against: the configured data directory, or a fresh temporary
one built from the suite's own corpus files.

A temporary index makes a suite self-contained (same corpus, same numbers on every machine)
and keeps an evaluation from ever writing into a data directory someone else is serving.
Embedding a corpus is most of an eval's cost (25 minutes for 765 pages under load), so each
corpus is embedded once into the eval cache and every run starts from a copy of that entry.
"""

from __future__ import annotations

import hashlib
import json
import os
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
    from core.articles import Article
    from index.embedder import Embedder
    from index.writer import IngestSummary

__all__ = ["CorpusError", "IndexInfo", "cached_corpus", "corpus_key", "open_index"]


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
    """Chunks this run embedded: 0 when it reused the eval cache's copy of the corpus."""
    cache: str | None = None
    cache_hit: bool | None = None


CACHE_FORMAT = 1
"""Bumped when what a cache entry holds changes, so older entries are never reused."""


def corpus_key(settings: Settings, files: Sequence[Path], identity: dict[str, object]) -> str:
    """The cache key of a corpus: the content (and names) of every file the loader reads,
    and every setting that changes what gets stored: embedding model and backend, chunking,
    the collection. The device is not in it: it does not change the vectors."""
    digest = hashlib.sha256()
    fields = {
        "format": CACHE_FORMAT,
        "embedding": identity,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "collection": settings.collection,
    }
    digest.update(json.dumps(fields, sort_keys=True).encode())
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:32]


def cached_corpus(
    settings: Settings,
    articles: Sequence[Article],
    key: str,
    embedder: Embedder | None,
    *,
    fresh: bool = False,
    log: Callable[[str], None] | None = None,
) -> tuple[Path, IngestSummary | None]:
    """The cache entry holding `articles` indexed, built first when missing (or `fresh`),
    and the summary of that build (None when the entry was already there).

    An entry is built in a folder of its own and renamed into place only once complete,
    so a run killed mid-build leaves a `.building-*` folder that is never reused (the next
    build of that key removes it) rather than a half-built index."""
    from assistant.runtime import Runtime

    root = settings.eval_cache_path
    entry = root / key
    if entry.is_dir() and not fresh:
        return entry, None
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f"{key}.building-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    building = root / f"{key}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    build_settings = settings.model_copy(
        update={"data_dir": building / "data", "chroma_mode": "embedded"}
    )
    if log is not None:
        log(f"indexing {len(articles)} articles into the eval cache ({entry})")
    runtime = Runtime(build_settings, embedder)
    try:
        summary = runtime.writer.ingest(articles)
    finally:
        runtime.close()  # Chroma flushed and closed before the folder is renamed or copied
    if entry.exists():
        if not fresh:  # another run built the same key meanwhile: keep theirs, in use maybe
            shutil.rmtree(building, ignore_errors=True)
            return entry, summary
        retired = root / f"{key}.retired-{os.getpid()}"
        os.replace(entry, retired)
        shutil.rmtree(retired, ignore_errors=True)
    os.replace(building, entry)
    return entry, summary


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _caller_model(settings: Settings) -> Path | None:
    """The local model file from the caller's data directory, assembled and checked there
    once, when the run will use the local model: otherwise the run's temporary data
    directory would get its own 1.1 GB copy on every run."""
    if settings.answerer != "local" and settings.judge != "llm":
        return settings.local_model_file
    from assistant.llm.weights import local_model_file

    return local_model_file(settings)


@contextmanager
def open_index(
    settings: Settings,
    corpus: Sequence[Path] = (),
    embedder: Embedder | None = None,
    log: Callable[[str], None] | None = None,
    *,
    fresh: bool = False,
) -> Iterator[tuple[Runtime, IndexInfo]]:
    """The runtime over an index (and what the index holds) for the duration of a run.

    With ``corpus``, the run gets a temporary data directory with an embedded Chroma (never
    a configured Chroma server: the run must not write into shared state), removed
    afterwards. It starts as a copy of the eval cache's entry for this corpus and these
    embedding settings (built on first use, rebuilt with ``fresh``), so later runs of the
    same corpus embed nothing and no run sees what another wrote. Without ``corpus``, the
    configured data directory is opened read-only in spirit: nothing here writes to it.
    """
    from assistant.runtime import Runtime
    from core.articles import ArticleError
    from index.embedder import Embedder
    from index.loaders import discover, load_articles

    if corpus:
        try:
            files = discover(corpus)
            articles = load_articles(corpus)
        except ArticleError as exc:
            raise CorpusError(f"{exc}; nothing was evaluated") from None
        if not articles:
            raise CorpusError("no articles found in " + ", ".join(map(str, corpus)))
        embedder = embedder or Embedder.from_settings(settings)
        started = time.perf_counter()
        key = corpus_key(settings, files, embedder.identity())
        entry, built = cached_corpus(settings, articles, key, embedder, fresh=fresh, log=log)
        folder = Path(tempfile.mkdtemp(prefix="newsdesk-eval-"))
        run_settings = settings.model_copy(
            update={
                "data_dir": folder / "data",
                "chroma_mode": "embedded",
                "local_model_file": _caller_model(settings),
            }
        )
        if built is None and log is not None:
            log(f"reusing the indexed corpus in {entry}")
        shutil.copytree(entry / "data", run_settings.data_dir)
        runtime = Runtime(run_settings, embedder)
        try:
            # The copy holds exactly this corpus (same key); the check costs a catalog
            # read, embeds nothing, and would repair a damaged entry rather than trust it.
            checked = runtime.writer.ingest(articles, prune=True)
            counts = runtime.store.catalog.counts()
            info = IndexInfo(
                data_dir=str(run_settings.data_dir),
                temporary=True,
                articles=int(counts["articles"]),
                passages=int(counts["passages"]),
                ingest_seconds=round(time.perf_counter() - started, 2),
                chunks_embedded=checked.chunks_embedded
                + (built.chunks_embedded if built is not None else 0),
                cache=str(entry),
                cache_hit=built is None,
            )
            yield runtime, info
        finally:
            runtime.close()
            shutil.rmtree(folder, ignore_errors=True)
        return

    from index.database import has_catalog

    if not has_catalog(settings):
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
