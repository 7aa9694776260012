"""The opened index: embedding model, catalog and vector store, built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from index.catalog import Catalog
from index.embedder import Embedder
from index.vector_store import VectorStore
from newsdesk.settings import Settings


@dataclass
class IndexHandle:
    settings: Settings
    embedder: Embedder
    catalog: Catalog
    vectors: VectorStore

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> IndexHandle:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            embedder=embedder
            or Embedder(settings.embedding_package, batch_size=settings.embed_batch_size),
            catalog=Catalog(settings.catalog_path),
            vectors=VectorStore(settings),
        )

    def close(self) -> None:
        self.catalog.close()
