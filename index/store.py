"""The opened index: embedding model, catalog and vector store, built once per process.

An index records which model and backend made its vectors (the catalog's `embedding` meta
record). Vectors from two models live in different spaces, so a nearest-neighbour search over
a mix returns nonsense without any error: opening an index with other embedding settings
therefore stops with what to run (`newsdesk reindex`) instead of adding to or reading from it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from index.catalog import Catalog
from index.embedder import Embedder
from index.vector_store import VectorStore, VectorStoreUnreachable

EMBEDDING_META = "embedding"


class IndexMismatch(RuntimeError):
    """The index's vectors were made with other embedding settings than the current ones."""


def mismatch(recorded: dict[str, object], wanted: dict[str, object]) -> list[str]:
    """The differing fields, as 'name: recorded -> wanted'."""
    return [
        f"{key}: {recorded.get(key)!r} -> {wanted[key]!r}"
        for key in wanted
        if key in recorded and recorded[key] != wanted[key]
    ]


def is_storage_fault(error: BaseException) -> bool:
    """An error of the catalog's SQLite or of Chroma: the store, not the request, is at fault.
    (Chroma's classes are matched by module, so this needs no chromadb import.)"""
    return (
        isinstance(error, sqlite3.Error | VectorStoreUnreachable)
        or type(error).__module__.split(".")[0] == "chromadb"
    )


def reindex_command(data_dir: Path) -> str:
    return f"newsdesk reindex --data-dir {data_dir}"


class VectorsMissing(RuntimeError):
    """Raised instead of serving from an empty vector store beside a full catalog."""


@dataclass(frozen=True)
class Consistency:
    """Whether the catalog and the vector store can be read and agree: every ready passage
    has its vector. `problem` says what is wrong, and what to do, when they do not."""

    passages: int | None
    vectors: int | None
    problem: str | None

    @property
    def vectors_missing(self) -> bool:
        """The vector store is empty beside a catalog that has passages (chroma/ lost)."""
        return self.vectors == 0 and bool(self.passages)


@dataclass
class Store:
    embedder: Embedder
    catalog: Catalog
    vectors: VectorStore
    data_dir: Path

    @classmethod
    def open(
        cls, settings: Settings, embedder: Embedder | None = None, *, reindexing: bool = False
    ) -> Store:
        """IndexMismatch when the index was embedded otherwise, unless `reindexing` (the one
        caller that is about to replace every vector)."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        embedder = embedder or Embedder.from_settings(settings)
        catalog = Catalog(settings.catalog_path)
        if not reindexing:
            try:
                check_embedding(catalog, embedder, settings)
            except IndexMismatch:
                catalog.close()
                raise
        return cls(
            embedder=embedder,
            catalog=catalog,
            vectors=VectorStore(settings),
            data_dir=settings.data_dir,
        )

    def note_dimension(self, dimension: int) -> None:
        """Recorded with the first vectors written (the model is loaded by then); a later
        write of another width is the same mismatch as another model."""
        recorded = dict(self.catalog.meta(EMBEDDING_META) or self.embedder.identity())
        if recorded.get("dimension") == dimension:
            return
        if "dimension" in recorded:
            raise IndexMismatch(
                f"this index holds {recorded['dimension']}-dimensional vectors and the "
                f"embedding model makes {dimension}-dimensional ones; run `newsdesk reindex`"
            )
        recorded["dimension"] = dimension
        self.catalog.set_meta(EMBEDDING_META, recorded)

    def consistency(self) -> Consistency:
        try:
            passages: int | None = self.catalog.counts()["passages"]
        except Exception as exc:
            if not is_storage_fault(exc):
                raise
            return Consistency(None, None, f"the catalog cannot be read: {exc}")
        try:
            vectors: int | None = self.vectors.count()
        except Exception as exc:
            if not is_storage_fault(exc):
                raise
            return Consistency(passages, None, f"the vector store cannot be read: {exc}")
        rebuild = reindex_command(self.data_dir)
        problem = None
        if vectors == 0 and passages:
            problem = (
                f"the vector store in {self.data_dir} is empty but the catalog holds {passages} "
                f"passages; answers would come from keyword search alone. Rebuild the vectors "
                f"from the catalog with `{rebuild}` (server stopped)"
            )
        elif vectors != passages:
            problem = (
                f"the vector store holds {vectors} vectors but the catalog {passages} passages "
                f"(a write in progress, or a damaged store: `{rebuild}` rebuilds the vectors)"
            )
        return Consistency(passages, vectors, problem)

    def close(self) -> None:
        self.catalog.close()
        self.vectors.close()


def check_embedding(catalog: Catalog, embedder: Embedder, settings: Settings) -> None:
    """Record the embedding settings on a new index (or an index from before they were
    recorded, whose vectors could only come from the torch backend); refuse a mismatch."""
    wanted = embedder.identity()
    recorded = catalog.meta(EMBEDDING_META)
    if recorded is None:
        legacy = catalog.counts()["articles"] > 0
        recorded = {**wanted, "backend": "torch"} if legacy else wanted
        catalog.set_meta(EMBEDDING_META, recorded)
    differing = mismatch(recorded, wanted)
    if differing:
        raise IndexMismatch(
            f"the index in {settings.data_dir} was embedded with other settings than the "
            f"current ones ({'; '.join(differing)}); its vectors cannot be mixed with new "
            f"ones. Re-embed it with the current settings: newsdesk reindex --data-dir "
            f"{settings.data_dir} (or restore the settings it was built with)"
        )
