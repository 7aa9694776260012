"""Ingest overlaps chunking, encoding and writing, and a failure on any side stops it cleanly."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from test_resilience import assert_whole

from core.articles import make_article
from index.pipeline import Background, prefetch
from index.writer import IndexWriter


def test_prefetch_produces_ahead_of_the_consumer() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(4):
            produced.append(i)
            yield i

    got = []
    for item in prefetch(items(), depth=2):
        if item == 0:
            deadline = time.monotonic() + 10
            while len(produced) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            # While the consumer still holds item 0, the next ones are already made.
            assert len(produced) >= 3
        got.append(item)
    assert got == [0, 1, 2, 3]


def test_prefetch_raises_the_producers_error_in_the_consumer() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ValueError("bad article")

    with pytest.raises(ValueError, match="bad article"):
        list(prefetch(items()))


def test_background_keeps_order_and_drops_everything_after_a_failure() -> None:
    handled: list[int] = []

    def handle(item: int) -> None:
        if item == 2:
            raise OSError("disk full")
        handled.append(item)

    with pytest.raises(OSError, match="disk full"), Background(handle) as writes:
        for i in range(6):
            writes.submit(i)
    assert handled == [0, 1]


def test_a_failing_write_stops_the_ingest_and_leaves_only_whole_articles(
    writer: IndexWriter,
) -> None:
    """A write failing in the writer thread (here: the progress callback it calls after a
    group) surfaces from ingest; what was written is whole, the rest stays pending and the
    next ingest finishes it."""
    # Short one-chunk articles, more than one group (~256 chunks) of them.
    articles = [
        make_article(title=f"Story {n}", text=f"Crane {n} at the harbour was repaired.", id=f"s{n}")
        for n in range(400)
    ]
    calls = 0

    def progress(done: int, chunks: int) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("interrupted after the first group")

    with pytest.raises(RuntimeError, match="first group"):
        writer.ingest(articles, progress=progress)
    assert calls == 1
    entries = writer.store.catalog.entries()
    ready = [e for e in entries.values() if e.state == "ready"]
    assert 0 < len(ready) < len(articles)
    assert len(entries) == len(articles)  # the rest are pending, with their text
    assert_whole(writer.store)
    summary = writer.ingest(articles)
    assert all(e.state == "ready" for e in writer.store.catalog.entries().values())
    # Finished by recovery from the stored text, and counted as added (they were not there).
    assert (summary.unchanged, summary.added) == (len(ready), len(articles) - len(ready))
    assert_whole(writer.store)
    assert writer.store.vectors.count() == writer.store.catalog.counts()["passages"]
