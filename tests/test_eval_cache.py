"""`eval run --corpus` embeds a corpus once: later runs start from a copy of the cached index.

Counted in chunks the model encoded (the embedder's own counter and the run's recorded
`chunks_embedded`), never in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from core.settings import Settings
from eval.workspace import IndexInfo, corpus_key, open_index
from index.embedder import Embedder
from index.loaders import discover

from conftest import DEMO, REPO, needs_local_model, newsdesk_command


def corpus_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DEMO, tmp_path / "corpus"))


def run(
    settings: Settings, corpus: Path, embedder: Embedder, **options: bool
) -> tuple[IndexInfo, int]:
    """What the run's index held and how many texts the model encoded to open it."""
    before = embedder.encoded
    with open_index(settings, [corpus], embedder, **options) as (runtime, info):
        # A run that writes into its index (as a broken answerer might) must not reach the
        # cache or the next run.
        runtime.writer.delete([next(iter(runtime.store.catalog.entries()))])
    return info, embedder.encoded - before


def test_a_second_run_embeds_nothing_and_sees_an_unchanged_index(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = Settings(data_dir=tmp_path / "data", eval_cache_dir=tmp_path / "cache")
    corpus = corpus_copy(tmp_path)
    first, encoded = run(settings, corpus, embedder)
    assert not first.cache_hit and first.chunks_embedded and encoded == first.chunks_embedded
    second, encoded = run(settings, corpus, embedder)
    assert second.cache_hit and second.chunks_embedded == 0 and encoded == 0
    assert second.cache == first.cache
    # The first run's delete stayed in its own copy.
    assert (second.articles, second.passages) == (first.articles, first.passages)
    assert second.data_dir != first.data_dir and not Path(first.data_dir).exists()


def test_a_changed_corpus_file_or_fresh_rebuilds(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(data_dir=tmp_path / "data", eval_cache_dir=tmp_path / "cache")
    corpus = corpus_copy(tmp_path)
    first, _ = run(settings, corpus, embedder)

    fresh, encoded = run(settings, corpus, embedder, fresh=True)
    assert not fresh.cache_hit and encoded == fresh.chunks_embedded > 0
    assert fresh.cache == first.cache
    assert run(settings, corpus, embedder)[1] == 0  # the rebuilt entry is reused

    article = sorted(corpus.iterdir())[0]
    article.write_text(article.read_text() + "\n\nA late correction was added to this story.\n")
    changed, encoded = run(settings, corpus, embedder)
    assert not changed.cache_hit and encoded > 0
    assert changed.cache != first.cache
    assert run(settings, corpus, embedder)[1] == 0


def test_other_chunking_is_another_entry(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(data_dir=tmp_path / "data", eval_cache_dir=tmp_path / "cache")
    files = discover([DEMO])
    other = settings.model_copy(update={"chunk_tokens": 120})
    assert corpus_key(settings, files, embedder.identity()) != corpus_key(
        other, files, embedder.identity()
    )
    int8 = {**embedder.identity(), "backend": "torch-int8"}
    assert corpus_key(settings, files, embedder.identity()) != corpus_key(settings, files, int8)


def test_a_half_built_entry_is_never_reused(tmp_path: Path, embedder: Embedder) -> None:
    """A build killed mid-way leaves only its `.building-PID` folder; the next run builds
    the entry afresh and clears the dead build's leftovers."""
    settings = Settings(data_dir=tmp_path / "data", eval_cache_dir=tmp_path / "cache")
    corpus = corpus_copy(tmp_path)
    key = corpus_key(settings, discover([corpus]), embedder.identity())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    half = tmp_path / "cache" / f"{key}.building-{dead.pid}"
    (half / "data").mkdir(parents=True)
    (half / "data" / "catalog.sqlite3").write_bytes(b"half written")
    info, encoded = run(settings, corpus, embedder)
    assert not info.cache_hit and encoded > 0 and info.articles > 1
    assert not half.exists()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [key]


def test_cli_second_run_reuses_the_cache_and_fresh_rebuilds(tmp_path: Path) -> None:
    suite = tmp_path / "suite.jsonl"
    suite.write_text(json.dumps({"question": "Who was elected speaker of the House?"}) + "\n")
    env = {**os.environ, "NEWSDESK_EVAL_CACHE_DIR": str(tmp_path / "cache")}

    def eval_run(*extra: str) -> dict[str, object]:
        report = tmp_path / f"report{len(list(tmp_path.glob('report*')))}"
        result = subprocess.run(
            newsdesk_command(
                "eval",
                "run",
                str(suite),
                "--corpus",
                str(DEMO),
                "--report",
                str(report),
                *extra,
            ),
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=600,
        )
        assert result.returncode in (0, 1), result.stderr
        index: dict[str, object] = json.loads((report / "report.json").read_text())["config"][
            "index"
        ]
        return index

    first = eval_run()
    assert not first["cache_hit"] and first["chunks_embedded"]
    second = eval_run()
    assert second["cache_hit"] and second["chunks_embedded"] == 0
    fresh = eval_run("--fresh")
    assert not fresh["cache_hit"] and fresh["chunks_embedded"] == first["chunks_embedded"]


@needs_local_model
def test_a_run_reads_the_callers_copy_of_the_local_model(
    tmp_path: Path, embedder: Embedder
) -> None:
    """The run's data directory is temporary: the local model it reads with is the one
    assembled (once) in the caller's, not a 1.1 GB copy of its own on every run."""
    settings = Settings(
        data_dir=tmp_path / "data", eval_cache_dir=tmp_path / "cache", answerer="local"
    )
    with open_index(settings, [corpus_copy(tmp_path)], embedder) as (runtime, info):
        used = runtime.settings.local_model_path
        assert not Path(info.data_dir, "models").exists()
    assert used == settings.local_model_path and used.is_file()
