"""Indexing: chunk sizes and offsets, incremental re-ingest, edits, deletes, duplicates."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.runtime import Runtime
from core.articles import make_article
from index.chunking import Chunker
from index.embedder import Embedder
from index.loaders import load_articles
from index.writer import IndexWriter

from conftest import DEMO
from tests_support import article, write_jsonl


@pytest.fixture(params=["embedded", "http"])
def chroma_mode(request: pytest.FixtureRequest) -> str:
    """Every test here runs over embedded Chroma and over a real `chroma run`."""
    return str(request.param)


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_engine(request: pytest.FixtureRequest) -> str:
    """... and with the catalog in SQLite and in a real PostgreSQL."""
    return str(request.param)


def test_chunks_fit_the_model_and_point_at_their_text(embedder: Embedder) -> None:
    count = embedder.token_counter()
    chunker = Chunker(count, 200, 20)
    for item in load_articles([DEMO]):
        chunks = chunker.split(item)
        assert chunks, item.title
        for chunk in chunks:
            assert item.text[chunk.start : chunk.end] == chunk.text
            assert len(count(chunk.text)) <= embedder.max_tokens - 2
        # The chunks cover the article: nothing of the body is dropped.
        covered = "".join(c.text for c in chunks).replace(" ", "").replace("\n", "")
        assert covered.startswith(item.text.replace(" ", "").replace("\n", "")[:200])


def test_every_chunk_of_a_long_article_is_stored(writer: IndexWriter, tmp_path: Path) -> None:
    body = " ".join(
        f"Sentence {i} says the harbour crane number {i} was repaired." for i in range(150)
    )
    writer.ingest([make_article(title="Long", text=body, id="long")])
    expected = len(writer.chunker.split(make_article(title="Long", text=body, id="long")))
    assert expected > 5
    assert len(writer.store.vectors.chunk_ids("long")) == expected
    assert writer.store.catalog.get("long").n_chunks == expected  # type: ignore[union-attr]


def test_reingest_is_incremental_and_idempotent(writer: IndexWriter, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [article(i) for i in range(1, 5)])
    first = writer.ingest(load_articles([path]))
    assert (first.added, first.chunks_embedded) == (4, 4)
    again = writer.ingest(load_articles([path]))
    assert again.as_dict() == {
        "added": 0,
        "updated": 0,
        "unchanged": 4,
        "deleted": 0,
        "chunks_embedded": 0,
    }
    assert writer.store.vectors.count() == 4


def test_an_edited_article_replaces_exactly_its_old_passages(
    runtime: Runtime, tmp_path: Path
) -> None:
    writer = runtime.writer
    records = [article(i) for i in range(1, 4)]
    writer.ingest(load_articles([write_jsonl(tmp_path / "a.jsonl", records)]))
    old_ids = writer.store.vectors.chunk_ids("a2")
    records[1] = article(
        2,
        text="The mayor of Lakeside unveiled a bronze statue of a heron "
        "on the waterfront promenade on Tuesday.",
    )
    summary = writer.ingest(load_articles([write_jsonl(tmp_path / "a.jsonl", records)]))
    assert (summary.updated, summary.unchanged, summary.chunks_embedded) == (1, 2, 1)
    new_ids = writer.store.vectors.chunk_ids("a2")
    assert new_ids and not set(new_ids) & set(old_ids)
    assert writer.store.vectors.count() == 3
    assistant = runtime.assistant
    answer = assistant.ask("What did the mayor of Lakeside unveil?")
    assert not answer.refused
    assert "heron" in answer.answer
    assert answer.citations[0].article_id == "a2"
    assert all("budget 2" not in c.passage for c in answer.citations)
    lexical = [cid for cid, _ in writer.store.catalog.lexical_search("budget", 10)]
    assert any(cid.startswith("a1:") for cid in lexical)
    assert not any(cid.startswith("a2:") for cid in lexical)
    assert any(cid.startswith("a2:") for cid, _ in writer.store.catalog.lexical_search("heron", 5))


def test_delete_and_prune_remove_articles_with_their_chunks(
    writer: IndexWriter, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [article(i) for i in range(1, 5)])
    writer.ingest(load_articles([path]))
    assert writer.delete(["a1", "nope"]) == 1
    assert writer.store.vectors.chunk_ids("a1") == []
    assert writer.store.catalog.get("a1") is None
    smaller = write_jsonl(tmp_path / "b.jsonl", [article(2), article(3)])
    summary = writer.ingest(load_articles([smaller]), prune=True)
    assert (summary.deleted, summary.unchanged) == (1, 2)
    assert writer.store.vectors.chunk_ids("a4") == []
    assert set(writer.store.catalog.entries()) == {"a2", "a3"}
    assert writer.store.vectors.count() == 2
    assert all(
        not cid.startswith(("a1:", "a4:"))
        for cid, _ in writer.store.catalog.lexical_search("council town budget", 50)
    )


def test_wire_copies_and_tracking_urls_are_stored_once(writer: IndexWriter, tmp_path: Path) -> None:
    base = article(1)
    wire_copy = {**base, "id": None, "source": "Other Outlet", "url": "https://other.example/x"}
    tracked = {**base, "id": None, "url": "https://news.example/1?utm_source=rss"}
    untracked = {**base, "id": None}
    path = write_jsonl(tmp_path / "a.jsonl", [untracked, tracked, wire_copy])
    writer.ingest(load_articles([path]))
    entries = writer.store.catalog.entries()
    assert len(entries) == 1
    [entry] = entries.values()
    assert entry.source == "Test Wire" and entry.sources == ("Other Outlet",)
    assert writer.store.vectors.count() == 1
    # A later ingest of the copy alone changes nothing.
    again = writer.ingest(load_articles([write_jsonl(tmp_path / "b.jsonl", [wire_copy])]))
    assert again.chunks_embedded == 0 and len(writer.store.catalog.entries()) == 1


def test_unfinished_work_is_completed_by_the_next_run(runtime: Runtime, tmp_path: Path) -> None:
    writer = runtime.writer
    handle = runtime.store
    items = load_articles([write_jsonl(tmp_path / "a.jsonl", [article(i) for i in range(1, 4)])])
    # As a run killed after recording its intent and before writing vectors leaves it:
    handle.catalog.mark_pending(items)
    assert handle.catalog.counts()["articles"] == 0  # nothing half-indexed is visible
    summary = writer.ingest(items)
    # Recovered first, and reported as what this run did: embedded now, not "unchanged".
    assert (summary.added, summary.unchanged, summary.chunks_embedded) == (3, 0, 3)
    assert handle.catalog.counts() == {"articles": 3, "passages": 3}
    assert handle.vectors.count() == 3
    # An edit killed the same way is an update.
    edited = [replace(items[0], text=items[0].text + " The mayor objected.")]
    handle.catalog.mark_pending(edited)
    again = writer.ingest(edited + items[1:])
    assert (again.updated, again.unchanged, again.chunks_embedded) == (1, 2, 1)
    # A delete killed between its two steps is finished too.
    handle.catalog.mark_deleting(["a1"])
    writer.recover()
    assert handle.catalog.get("a1") is None and handle.vectors.chunk_ids("a1") == []


def test_changed_metadata_only_is_an_update(writer: IndexWriter) -> None:
    item = make_article(title="T", text="Some body text about ferries.", id="x")
    writer.ingest([item])
    summary = writer.ingest([replace(item, title="New title")])
    assert summary.updated == 1
    assert writer.store.catalog.get("x").title == "New title"  # type: ignore[union-attr]


def test_chunking_while_a_question_is_embedded_breaks_neither(embedder: Embedder) -> None:
    """The server chunks a write on one thread while it embeds questions on others; they
    share one tokenizer, whose padding state a bare token count used to reset mid-batch."""
    count = embedder.token_counter()
    texts = ["short", "a much longer question with many more words in it " * 3]
    errors: list[BaseException] = []
    done = threading.Event()

    def chunking() -> None:
        while not done.is_set():
            count("word " * 300)

    counter = threading.Thread(target=chunking)
    counter.start()
    try:
        for _ in range(150):
            try:
                assert embedder.encode(texts).shape == (2, embedder.dimension)
            except ValueError as exc:
                errors.append(exc)
                break
    finally:
        done.set()
        counter.join()
    assert not errors, errors
