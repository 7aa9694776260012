"""Incremental, crash-safe writes: add, replace, fold duplicates, delete, prune, recover.

Order of every write: the catalog marks the article `pending` (with its full text), then Chroma
gets the vectors, then one catalog transaction stores the passages (and so the BM25 index) and
marks the article `ready`. Readers cite only `ready` articles. A run killed at any point leaves
`pending` rows that the next run finishes from the stored text, so an article is either fully
indexed or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

from core.articles import Article
from core.settings import Settings
from index.chunking import Chunk, Chunker
from index.lock import WriteLock, write_lock
from index.pipeline import Background, prefetch
from index.store import EMBEDDING_META, Store

Progress = Callable[[int, int], None]
"""Called with the number of articles just indexed and of chunks just embedded."""


@dataclass
class IngestSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    chunks_embedded: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def line(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.deleted} deleted; {self.chunks_embedded} chunks embedded"
        )


@dataclass
class IngestPlan:
    """What an ingest will do, decided before anything is embedded (cheap, no model)."""

    write: list[Article]
    fold: dict[str, tuple[str, ...]]
    """Existing article id -> outlets of duplicate copies to record on it."""
    delete: list[str]
    summary: IngestSummary


class IndexWriter:
    def __init__(self, store: Store, settings: Settings, lock: WriteLock | None = None) -> None:
        self.store = store
        self.lock = lock or write_lock(settings)
        self._chunk_tokens = settings.chunk_tokens
        self._chunk_overlap = settings.chunk_overlap
        self._chunker: Chunker | None = None

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            self._chunker = Chunker(
                self.store.embedder.token_counter(), self._chunk_tokens, self._chunk_overlap
            )
        return self._chunker

    def plan(
        self,
        articles: Sequence[Article],
        *,
        prune: bool = False,
        recovered: Mapping[str, str] | None = None,
    ) -> IngestPlan:
        """`recovered`: ids this run just finished for a killed one (id -> "added" or
        "updated"); they are reported as such, not as unchanged, since they were embedded now."""
        catalog = self.store.catalog
        recovered = recovered or {}
        existing = catalog.entries()
        summary = IngestSummary()
        write: dict[str, Article] = {}
        fold: dict[str, tuple[str, ...]] = {}
        by_fingerprint: dict[str, str] = {}
        seen: set[str] = set()
        for article in articles:
            seen.add(article.id)
            if article.id in write:
                # Same id twice in one batch (same url with tracking parameters, say).
                fold[article.id] = (*fold.get(article.id, ()), *article.all_sources)
                continue
            entry = existing.get(article.id)
            if entry is not None:
                if entry.hash == article.content_hash and entry.state == "ready":
                    outcome = recovered.get(article.id, "unchanged")
                    setattr(summary, outcome, getattr(summary, outcome) + 1)
                    if set(article.all_sources) - {entry.source, *entry.sources}:
                        fold[article.id] = article.all_sources
                else:
                    write[article.id] = article
                    summary.updated += 1
                by_fingerprint.setdefault(article.body_fingerprint, article.id)
                continue
            twin_id = by_fingerprint.get(article.body_fingerprint)
            if twin_id is None:
                twin = catalog.by_fingerprint(article.body_fingerprint)
                twin_id = twin.id if twin is not None else None
            if twin_id is not None and twin_id != article.id:
                # A wire copy republished elsewhere: stored once, cited by every outlet.
                fold[twin_id] = (*fold.get(twin_id, ()), *article.all_sources)
                seen.add(twin_id)
                summary.unchanged += 1
                continue
            by_fingerprint[article.body_fingerprint] = article.id
            write[article.id] = article
            summary.added += 1
        delete = [i for i in existing if i not in seen] if prune else []
        summary.deleted = len(delete)
        return IngestPlan(list(write.values()), fold, delete, summary)

    def ingest(
        self,
        articles: Sequence[Article],
        *,
        prune: bool = False,
        progress: Progress | None = None,
        on_plan: Callable[[IngestPlan], None] | None = None,
    ) -> IngestSummary:
        with self.lock:
            recovered_chunks, recovered = self._recover(progress)
            plan = self.plan(articles, prune=prune, recovered=recovered)
            if on_plan is not None:
                on_plan(plan)
            written = self._write(plan.write, progress)
            plan.summary.chunks_embedded = recovered_chunks + written
            for article_id, sources in plan.fold.items():
                self.store.catalog.add_sources(article_id, sources)
            self._delete(plan.delete)
            return plan.summary

    def delete(self, article_ids: Sequence[str]) -> int:
        with self.lock:
            known = [i for i in article_ids if self.store.catalog.get(i) is not None]
            self._delete(known)
            return len(known)

    def recover(self, progress: Progress | None = None) -> int:
        """Finish what a killed run left: redo pending writes, complete pending deletes.
        Returns the chunks embedded."""
        with self.lock:
            return self._recover(progress)[0]

    def _recover(self, progress: Progress | None) -> tuple[int, dict[str, str]]:
        """(chunks embedded, id -> "added" | "updated" for each article written again). A
        pending article with no chunks recorded was new; one with chunks was being replaced."""
        unfinished = self.store.catalog.unfinished()
        self._delete([e.id for e in unfinished if e.state == "deleting"])
        pending = [e for e in unfinished if e.state == "pending"]
        redo = [self.store.catalog.article(e.id) for e in pending]
        chunks = self._write([a for a in redo if a is not None], progress)
        return chunks, {e.id: "added" if e.n_chunks == 0 else "updated" for e in pending}

    def _delete(self, article_ids: Sequence[str]) -> None:
        if not article_ids:
            return
        self.store.catalog.mark_deleting(article_ids)
        self.store.vectors.delete_articles(article_ids)
        self.store.catalog.remove(article_ids)

    def _write(self, articles: Sequence[Article], progress: Progress | None) -> int:
        """Chunking (a thread ahead), encoding (here) and writing (a thread behind) overlap,
        group by group. Each group's vectors go to Chroma before one transaction marks its
        articles ready, exactly as when done in turn, so a kill at any point still leaves only
        `pending` rows for the next run to finish."""
        if not articles:
            return 0
        self.store.catalog.mark_pending(articles)
        embedded = 0
        Group = list[tuple[Article, list[Chunk]]]

        def store(work: tuple[Group, NDArray[np.float32]]) -> None:
            group, vectors = work
            self.store.note_dimension(int(vectors.shape[1]))
            offset = 0
            for article, chunks in group:
                self.store.vectors.delete_articles([article.id])
                self.store.vectors.add(article, chunks, vectors[offset : offset + len(chunks)])
                offset += len(chunks)
            self.store.catalog.mark_ready(group)
            if progress is not None:
                progress(len(group), len(vectors))

        with Background(store) as writes:
            for group in prefetch(self._groups(articles)):
                texts = [c.text for _, chunks in group for c in chunks]
                writes.submit((group, self.store.embedder.encode(texts)))
                embedded += len(texts)
        return embedded

    def reindex(self, progress: Progress | None = None) -> int:
        """Re-embed every article from its stored text with the current embedding settings:
        after changing them, or when the vector store was lost or damaged. Every article is
        marked `pending` before the vector store is emptied (vectors of another model or width
        cannot share it), and the index is stamped with the new settings; a killed reindex is
        finished by the next run (or by `reindex` again). Returns the chunks embedded."""
        with self.lock:
            self.store.catalog.mark_all_pending()
            self.store.vectors.reset()
            self.store.catalog.set_meta(EMBEDDING_META, self.store.embedder.identity())
            return self._recover(progress)[0]

    def _groups(
        self, articles: Iterable[Article], target: int = 256
    ) -> Iterable[list[tuple[Article, list[Chunk]]]]:
        """Articles in groups of about `target` chunks: large enough that the encoder batches
        as efficiently as a raw encode call, small enough that a crash loses little work."""
        group: list[tuple[Article, list[Chunk]]] = []
        size = 0
        for article in articles:
            chunks = self.chunker.split(article)
            group.append((article, chunks))
            size += len(chunks)
            if size >= target:
                yield group
                group, size = [], 0
        if group:
            yield group
