"""Who performs a write: this process, or the server that owns the data directory.

Chroma's embedded store must have one writing process, and a server never sees vectors another
process writes. So when a server has registered itself as the owner (owner.py), writes are
handed to it over HTTP (it answers from them at once); otherwise they go straight to the store
under the write lock. The check and the local write happen under that lock, so a server that
starts meanwhile cannot slip in between.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.articles import Article
from core.client import NewsdeskClient
from core.settings import Settings
from index import owner
from index.embedder import Embedder
from index.lock import write_lock
from index.remote import delete_remote, ingest_remote
from index.store import Store
from index.writer import IndexWriter, IngestPlan, IngestSummary, Progress

RemoteNotice = Callable[[str, int], None]
"""Told the server's URL and the number of articles when a write is handed over."""


class Ingester:
    def __init__(
        self,
        settings: Settings,
        embedder: Callable[[], Embedder],
        on_remote: RemoteNotice | None = None,
    ) -> None:
        """`embedder` is called only when a local write needs the model."""
        self.settings = settings
        self._embedder = embedder
        self._on_remote = on_remote
        self._lock = write_lock(settings)
        self._store: Store | None = None
        self._saw_server = False

    def ingest(
        self,
        articles: Sequence[Article],
        *,
        prune: bool = False,
        progress: Progress | None = None,
        on_plan: Callable[[IngestPlan], None] | None = None,
    ) -> IngestSummary:
        """RuntimeError (with the server's words) when a server refuses the write."""
        with self._lock:
            server = owner.live_server(self.settings)
            if server is None:
                return self._local_writer().ingest(
                    articles, prune=prune, progress=progress, on_plan=on_plan
                )
            self._saw_server = True
        if self._on_remote is not None:
            self._on_remote(server, len(articles))
        return ingest_remote(
            self._client(server),
            articles,
            prune=prune,
            max_bytes=self.settings.max_upload_bytes,
            progress=progress,
        )

    def delete(self, article_ids: Sequence[str]) -> int:
        with self._lock:
            server = owner.live_server(self.settings)
            if server is None:
                return self._local_writer().delete(article_ids)
            self._saw_server = True
        return delete_remote(self._client(server), article_ids)

    def _client(self, server: str) -> NewsdeskClient:
        return NewsdeskClient(server, api_key=self.settings.api_key, timeout=3600)

    def _local_writer(self) -> IndexWriter:
        if self._store is not None and self._saw_server:
            # A server wrote since we opened the store: Chroma's cached view is stale.
            from chromadb.api.shared_system_client import SharedSystemClient

            self._store.close()
            SharedSystemClient.clear_system_cache()
            self._store = None
        if self._store is None:
            self._store = Store.open(self.settings, self._embedder())
            self._saw_server = False
        return IndexWriter(self._store, self.settings, self._lock)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
