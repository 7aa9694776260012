"""The opened index: embedding model, catalog and vector store, built once per process."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from index.catalog import Catalog
from index.embedder import Embedder
from index.vector_store import VectorStore


def is_storage_fault(error: BaseException) -> bool:
    """An error of the catalog's SQLite or of Chroma: the store, not the request, is at fault.
    (Chroma's classes are matched by module, so this needs no chromadb import.)"""
    return isinstance(error, sqlite3.Error) or type(error).__module__.split(".")[0] == "chromadb"


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
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Store:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            embedder=embedder or Embedder.from_settings(settings),
            catalog=Catalog(settings.catalog_path),
            vectors=VectorStore(settings),
            data_dir=settings.data_dir,
        )

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
