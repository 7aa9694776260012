"""The index over Chroma's own server (NEWSDESK_CHROMA_MODE=http) as well as embedded.

One story per mode: ingest, a cited answer, an edited article replacing its passages, a
delete, a pruning reindex and the recovery of a killed write. Then the same over a real
`newsdesk serve` talking to the real `chroma run`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.runtime import Runtime
from core.settings import Settings
from index.embedder import Embedder
from index.loaders import load_articles

from conftest import ChromaServer, start_server, stop_server, unique_collection
from tests_support import article, call, write_jsonl

HERON = (
    "The mayor of Lakeside unveiled a bronze statue of a heron on the waterfront promenade "
    "on Tuesday."
)
OTTER = (
    "The mayor of Lakeside unveiled a granite statue of an otter beside the old ferry pier "
    "on Tuesday."
)


@pytest.fixture(params=["embedded", "http"])
def chroma_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_ingest_ask_edit_delete_and_reindex(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    runtime = Runtime(settings, embedder)
    try:
        writer, vectors = runtime.writer, runtime.store.vectors
        # Our own vectors go in on every call: no collection may carry Chroma's default
        # (ONNX, downloaded on first use) embedder.
        assert vectors.collection._embedding_function is None
        assert vectors.collection.configuration.get("embedding_function") is None
        records = [article(i) for i in range(1, 5)]
        records[1] = article(2, text=HERON)
        source = write_jsonl(tmp_path / "a.jsonl", records)
        first = writer.ingest(load_articles([source]))
        assert (first.added, first.chunks_embedded) == (4, 4)
        assert vectors.count() == 4
        # In server mode the vectors live in the server, not in the data directory.
        assert settings.chroma_dir.exists() == (settings.chroma_mode == "embedded")

        answer = runtime.assistant.ask("What did the mayor of Lakeside unveil?")
        assert not answer.refused and "heron" in answer.answer
        assert answer.citations[0].article_id == "a2"

        old_ids = vectors.chunk_ids("a2")
        records[1] = article(2, text=OTTER)
        edited = writer.ingest(load_articles([write_jsonl(source, records)]))
        assert (edited.updated, edited.unchanged, edited.chunks_embedded) == (1, 3, 1)
        assert vectors.count() == 4 and not set(vectors.chunk_ids("a2")) & set(old_ids)
        answer = runtime.assistant.ask("What did the mayor of Lakeside unveil?")
        assert "otter" in answer.answer and "heron" not in answer.answer

        assert writer.delete(["a2"]) == 1
        assert vectors.chunk_ids("a2") == [] and vectors.count() == 3
        assert runtime.assistant.ask("What did the mayor of Lakeside unveil?").refused

        # A reindex of the folder as it now stands: a4 is gone from it, a5 is new.
        records = [article(1), article(3), article(5)]
        pruned = writer.ingest(load_articles([write_jsonl(source, records)]), prune=True)
        assert (pruned.added, pruned.deleted, pruned.unchanged) == (1, 1, 2)
        assert vectors.chunk_ids("a4") == [] and vectors.count() == 3

        # A write killed after the catalog said "pending" and before the vectors landed:
        # the next run finishes it.
        lost = runtime.store.catalog.article("a5")
        assert lost is not None
        vectors.delete_articles(["a5"])
        runtime.store.catalog.mark_pending([lost])
        assert writer.recover() == 1
        assert len(vectors.chunk_ids("a5")) == 1 and vectors.count() == 3
    finally:
        runtime.close()


def test_the_server_answers_from_a_chroma_server(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    collection = unique_collection()
    home = tmp_path / "home"
    home.mkdir()
    # A fresh HOME: Chroma's default embedder would download its ONNX model under it.
    env = {**chroma_server.env(collection), "HOME": str(home)}
    server = start_server(tmp_path / "data", tmp_path / "server.log", env=env)
    try:
        status, added = call(server.url + "/articles", "POST", [article(1), article(2, text=HERON)])
        assert status == 200, added
        assert added["added"] == 2  # type: ignore[index]
        status, answer = call(
            server.url + "/ask", "POST", {"question": "What did the mayor of Lakeside unveil?"}
        )
        assert status == 200, answer
        assert "heron" in answer["answer"]  # type: ignore[index]
        assert answer["citations"][0]["article_id"] == "a2"  # type: ignore[index]
        assert call(server.url + "/articles/a2", "DELETE")[0] == 200
        status, answer = call(
            server.url + "/ask", "POST", {"question": "What did the mayor of Lakeside unveil?"}
        )
        assert answer["refused"]  # type: ignore[index]
    finally:
        stop_server(server)
    # The vectors are in the Chroma server: a client of it sees what the server left.
    seen = chroma_server.settings(tmp_path / "other", collection)
    runtime = Runtime(seen, embedder)
    try:
        assert runtime.store.vectors.count() == 1
        assert runtime.store.vectors.chunk_ids("a1")
    finally:
        runtime.close()
    assert not (tmp_path / "data" / "chroma").exists()
    assert not any(home.rglob("*onnx*")), sorted(str(p) for p in home.rglob("*"))
