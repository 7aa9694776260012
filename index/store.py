"""The opened index: embedding model, catalog and vector store, built once per process.

An index records which model and backend made its vectors (the catalog's `embedding` meta
record). Vectors from two models live in different spaces, so a nearest-neighbour search over
a mix returns nonsense without any error: opening an index with other embedding settings
therefore stops with what to run (`newsdesk reindex`) instead of adding to or reading from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings
from index.catalog import Catalog
from index.embedder import Embedder
from index.vector_store import VectorStore

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


@dataclass
class Store:
    embedder: Embedder
    catalog: Catalog
    vectors: VectorStore

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
        return cls(embedder=embedder, catalog=catalog, vectors=VectorStore(settings))

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
