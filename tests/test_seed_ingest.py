"""The seed article ingests and its passages become citable."""

from __future__ import annotations

from assistant.runtime import Runtime
from index.loaders import load_articles

from conftest import SEED, shared_file


def test_seed_article_is_ingested_and_cited(runtime: Runtime) -> None:
    shared_file("seeds", SEED.name)
    summary = runtime.writer.ingest(load_articles([SEED]))
    assert summary.added == 1 and summary.chunks_embedded >= 3
    answer = runtime.assistant.ask("Who was Russia's deputy foreign minister at the meeting?")
    assert not answer.refused
    assert any("Bogdanov" in c.passage for c in answer.citations)
    assert "Bogdanov" in answer.answer
    assert all(c.title.startswith("'Axis of Terror") for c in answer.citations)
