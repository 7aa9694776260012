"""The opened index: embedding model, catalog and vector store, built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings
from index.catalog import Catalog
from index.embedder import Embedder
from index.vector_store import VectorStore


@dataclass
class Store:
    embedder: Embedder
    catalog: Catalog
    vectors: VectorStore

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> Store:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            embedder=embedder or Embedder.from_settings(settings),
            catalog=Catalog(settings.catalog_path),
            vectors=VectorStore(settings),
        )

    def close(self) -> None:
        self.catalog.close()
