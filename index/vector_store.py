"""Chroma, used directly with our own vectors and ids.

We pass embeddings on every call (Chroma's default embedder would try to download a model) and
use deterministic chunk ids with a metadata `article_id`, so deleting or replacing an article is
one `where` call (private-gpt#1826) and never duplicates (llama-index's adapter assigns random
node ids, which is why we do not route writes through it). Dates are stored as epoch days so
range filters work with `$gte`/`$lte` (chroma#2688).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from core.articles import Article
from core.settings import Settings
from index.chunking import Chunk
from index.database import StoreUnreachable

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

_EPOCH = date(1970, 1, 1)


def epoch_day(value: date) -> int:
    return (value - _EPOCH).days


class VectorStoreUnreachable(StoreUnreachable):
    """Chroma's server did not answer (stopped, restarting, or the network between). A storage
    fault: the API answers 503 naming the vector store, and the next call tries again (httpx
    opens a new connection), so a restarted Chroma serves again without a restart of ours."""


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    article_id: str
    similarity: float


class VectorStore:
    def __init__(self, settings: Settings) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if settings.chroma_mode == "http":
            token = settings.chroma_token
            self.client: Any = chromadb.HttpClient(
                host=settings.chroma_host,
                port=settings.chroma_port,
                ssl=settings.chroma_ssl,
                headers={"Authorization": f"Bearer {token}"} if token else None,
                settings=chroma_settings,
            )
        else:
            settings.chroma_dir.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(
                path=str(settings.chroma_dir), settings=chroma_settings
            )
        scheme = "https" if settings.chroma_ssl else "http"
        self.where = (
            f"Chroma server at {scheme}://{settings.chroma_host}:{settings.chroma_port}"
            if settings.chroma_mode == "http"
            else f"embedded Chroma in {settings.chroma_dir}"
        )
        self.name = settings.collection
        self.collection: Collection = self._open()

    @contextmanager
    def _reached(self) -> Iterator[None]:
        """A failed connection to Chroma's server becomes VectorStoreUnreachable, naming it."""
        import httpx

        try:
            yield
        except httpx.TransportError as exc:
            raise VectorStoreUnreachable(
                f"the vector store ({self.where}) cannot be reached: {exc}"
            ) from exc

    def _open(self) -> Collection:
        with self._reached():
            collection: Collection = self.client.get_or_create_collection(
                self.name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
        return collection

    def reset(self) -> None:
        """Drops every vector (the collection is made anew): before a rebuild from the catalog,
        so nothing of a damaged collection survives it."""
        import contextlib

        with contextlib.suppress(Exception):  # absent, or too damaged to delete cleanly
            self.client.delete_collection(self.name)
        self.collection = self._open()

    def close(self) -> None:
        """Release this client's share of Chroma's in-process system; the last one stops it,
        which flushes and closes its files (needed before the folder is copied or reopened
        after another process wrote to it)."""
        self.client.close()

    def count(self) -> int:
        with self._reached():
            return int(self.collection.count())

    def add(self, article: Article, chunks: Sequence[Chunk], vectors: NDArray[np.float32]) -> None:
        if not chunks:
            return
        published = epoch_day(article.published) if article.published else -1
        with self._reached():
            self._upsert(article, chunks, vectors, published)

    def _upsert(
        self, article: Article, chunks: Sequence[Chunk], vectors: NDArray[np.float32], day: int
    ) -> None:
        self.collection.upsert(
            ids=[c.id for c in chunks],
            embeddings=vectors,
            documents=[c.text for c in chunks],
            metadatas=[
                {
                    "article_id": article.id,
                    "ordinal": c.ordinal,
                    "start": c.start,
                    "end": c.end,
                    "published_day": day,
                    "source": article.source,
                }
                for c in chunks
            ],
        )

    def delete_articles(self, article_ids: Sequence[str]) -> None:
        if article_ids:
            where: Any = {"article_id": {"$in": list(article_ids)}}
            with self._reached():
                self.collection.delete(where=where)

    def chunk_ids(self, article_id: str) -> list[str]:
        with self._reached():
            got = self.collection.get(where={"article_id": article_id}, include=[])
        return list(got["ids"])

    def embeddings(self, chunk_ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        if not chunk_ids:
            return {}
        with self._reached():
            got = self.collection.get(ids=list(chunk_ids), include=["embeddings"])
        vectors = got["embeddings"]
        if vectors is None:
            return {}
        return {
            i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], vectors, strict=True)
        }

    def query(
        self,
        vector: NDArray[np.float32],
        k: int,
        *,
        after: date | None = None,
        before: date | None = None,
        article_ids: Sequence[str] | None = None,
    ) -> list[Hit]:
        clauses: list[dict[str, Any]] = []
        if after:
            clauses.append({"published_day": {"$gte": epoch_day(after)}})
        if before:
            clauses.append({"published_day": {"$lte": epoch_day(before)}})
        if article_ids is not None:
            if not article_ids:
                return []
            clauses.append({"article_id": {"$in": list(article_ids)}})
        where: dict[str, Any] | None = None
        if len(clauses) == 1:
            where = clauses[0]
        elif clauses:
            where = {"$and": clauses}
        if k <= 0:
            return []
        # Chroma returns what it has when asked for more, so no count() round trip here.
        with self._reached():
            result = self.collection.query(
                query_embeddings=vector.reshape(1, -1),
                n_results=k,
                where=where,
                include=["distances", "metadatas"],
            )
        ids = result["ids"][0]
        distances = (result["distances"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        return [
            Hit(chunk_id=i, article_id=str(m["article_id"]), similarity=1.0 - float(d))
            for i, d, m in zip(ids, distances, metadatas, strict=True)
        ]
