"""Crash safety, the folder watcher, and questions answered during a large ingest."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from eval.datasets import articles_as_records, realtimeqa_pages, write_jsonl
from index.catalog import open_catalog
from index.database import is_storage_fault
from index.embedder import Embedder
from index.lock import AdvisoryLock, LockTimeout, write_lock
from index.store import Store

from conftest import (
    PostgresServer,
    Server,
    copy_data,
    newsdesk_command,
    shared_file,
    start_server,
    stop_server,
)
from tests_support import article


def ready_count(data_dir: Path, database_url: str | None = None) -> int:
    """Ready articles, read as another process would (0 before the catalog exists)."""
    if database_url is None and not (data_dir / "catalog.sqlite3").exists():
        return 0
    try:
        catalog = open_catalog(Settings(data_dir=data_dir, database_url=database_url))
    except Exception as exc:
        if not is_storage_fault(exc):
            raise
        return 0
    try:
        return catalog.counts()["articles"]
    except Exception as exc:
        if not is_storage_fault(exc):
            raise
        return 0
    finally:
        catalog.close()


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_engine(request: pytest.FixtureRequest) -> str:
    """Crash safety and the one-writer rule hold with the catalog in SQLite and PostgreSQL."""
    return str(request.param)


def engine_env(settings: Settings) -> dict[str, str]:
    """The settings' catalog, for a `newsdesk` subprocess."""
    return {"NEWSDESK_DATABASE_URL": settings.database_url} if settings.database_url else {}


def titles(data_dir: Path) -> set[str]:
    with sqlite3.connect(data_dir / "catalog.sqlite3", timeout=5) as db:
        return {row[0] for row in db.execute("SELECT title FROM articles WHERE state='ready'")}


def assert_whole(handle: Store) -> None:
    """Every article a reader can see has all of its passages and vectors."""
    for entry in handle.catalog.entries().values():
        if entry.state != "ready":
            continue
        vectors = handle.vectors.chunk_ids(entry.id)
        passages = handle.catalog.passages(vectors)
        assert len(vectors) == entry.n_chunks == len(passages), entry.id


def test_sigkill_mid_ingest_leaves_no_half_article_and_rerun_finishes(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    body = " ".join(f"Paragraph {i} of the report describes harbour works." for i in range(60))
    records = [article(i, text=f"Story {i}. {body}") for i in range(150)]
    path = write_jsonl([dict(r) for r in records], tmp_path / "many.jsonl")
    data, env = settings.data_dir, {**os.environ, **engine_env(settings)}
    process = subprocess.Popen(
        newsdesk_command("ingest", str(path), "--data-dir", str(data)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 240
    url = settings.database_url
    while ready_count(data, url) == 0 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "ingest finished before it could be killed; make it larger"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    handle = Store.open(settings, embedder)
    try:
        done = handle.catalog.counts()["articles"]
        assert 0 < done < len(records)
        assert_whole(handle)
    finally:
        handle.close()
    rerun = subprocess.run(
        newsdesk_command("ingest", str(path), "--json", "--data-dir", str(data)),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["added"] + summary["unchanged"] + summary["updated"] == len(records)
    handle = Store.open(settings, embedder)
    try:
        assert handle.catalog.counts()["articles"] == len(records)
        assert not handle.catalog.unfinished()
        assert_whole(handle)
        assert handle.vectors.count() == handle.catalog.counts()["passages"]
    finally:
        handle.close()


def test_watch_indexes_new_and_changed_files(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = tmp_path / "data"
    log = (tmp_path / "watch.log").open("w")
    process = subprocess.Popen(
        newsdesk_command(
            "watch", str(inbox), "--data-dir", str(data), "--interval", "0.2", "--debounce", "0.5"
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        (inbox / "bad.txt").write_bytes(b"\x00\x01binary")
        (inbox / "ferry.txt").write_text(
            "date 2023-10-29 Ferry news\nThe Zanzibar ferry company added three boats.\n"
        )
        deadline = time.monotonic() + 120
        while ready_count(data) < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready_count(data) == 1
        (inbox / "more.jsonl").write_text(json.dumps(article(3)) + "\n")
        while ready_count(data) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready_count(data) == 2
        (inbox / "ferry.txt").write_text(
            "date 2023-10-29 Ferry news, updated\nThe Zanzibar ferry company added four boats.\n"
        )
        while titles(data) != {"Ferry news, updated", "Article 3"}:
            assert time.monotonic() < deadline, titles(data)
            time.sleep(0.2)
        assert ready_count(data) == 2
        # A file that goes takes its articles with it; the others stay.
        (inbox / "more.jsonl").unlink()
        while titles(data) != {"Ferry news, updated"}:
            assert time.monotonic() < deadline, titles(data)
            time.sleep(0.2)
        assert process.poll() is None  # a bad file did not end the watch
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=120)  # a batch in hand is finished first
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
    assert process.returncode == 0
    output = (tmp_path / "watch.log").read_text()
    assert "bad.txt" in output and "binary" in output
    assert "1 added" in output
    assert "more.jsonl: removed; 1 deleted" in output
    assert "stopped watching" in output


def test_questions_are_answered_while_realtimeqa_pages_are_ingested(
    demo_data: Path, tmp_path: Path
) -> None:
    folder = shared_file("data", "realtimeqa-2023q4")
    pages = realtimeqa_pages(folder)[:60]  # ~900 chunks: about a minute of embedding on 2 cores
    path = write_jsonl(articles_as_records(pages), tmp_path / "pages.jsonl")
    server: Server = start_server(copy_data(demo_data, tmp_path / "data"), tmp_path / "log")
    try:
        before = server.get("/health")[1]
        ingest = subprocess.Popen(
            newsdesk_command("ingest", str(path), "--json", "--data-dir", str(server.data_dir)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        answered: list[float] = []
        failures: list[str] = []
        questions = ["Who attended the Moscow meeting?", "What happened in Acapulco?"]
        with httpx.Client(base_url=server.url, timeout=120) as client:
            while ingest.poll() is None:
                start = time.monotonic()
                response = client.post("/ask", json={"question": questions[len(answered) % 2]})
                if response.status_code != 200 or response.json()["refused"]:
                    failures.append(response.text)
                answered.append(time.monotonic() - start)
        out, err = ingest.communicate()
        assert ingest.returncode == 0, err
        assert "sending to the server" in err
        assert json.loads(out)["added"] == len(pages)
        assert not failures
        assert len(answered) >= 5, "the ingest ended too soon to overlap the questions"
        after = server.get("/health")[1]
        assert after["articles"] == before["articles"] + len(pages)  # type: ignore[index]
    finally:
        stop_server(server)


def test_two_writers_queue_on_the_lock(tmp_path: Path, settings: Settings) -> None:
    """Two CLI ingests at once into one index: both finish, nothing lost. (With the catalog in
    PostgreSQL they queue on its advisory lock, as processes on two hosts would.)"""
    first = write_jsonl([article(i) for i in range(0, 20)], tmp_path / "a.jsonl")
    second = write_jsonl([article(i) for i in range(20, 40)], tmp_path / "b.jsonl")
    data = str(settings.data_dir)
    runs = [
        subprocess.Popen(
            newsdesk_command("ingest", str(p), "--json", "--data-dir", data),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **engine_env(settings)},
        )
        for p in (first, second)
    ]
    results = [r.communicate(timeout=600) for r in runs]
    assert all(r.returncode == 0 for r in runs), results
    assert ready_count(Path(data), settings.database_url) == 40


def test_writers_on_two_hosts_queue_on_the_databases_advisory_lock(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    """Two hosts (two data directories) sharing one PostgreSQL catalog: a file lock could not
    keep them apart, the database's advisory lock does; a holder that dies frees it."""
    url = postgres.new_database()
    host_a = write_lock(Settings(data_dir=tmp_path / "a", database_url=url))
    host_b = write_lock(Settings(data_dir=tmp_path / "b", database_url=url), timeout=0.3)
    busy = r"writing to the catalog in PostgreSQL at 127\.0\.0\.1"
    with host_a, pytest.raises(LockTimeout, match=busy):
        host_b.acquire()
    with host_b:  # released: the other host may write now
        pass
    host_a.acquire()
    assert isinstance(host_a, AdvisoryLock)
    host_a._connection.close()  # as if host A died holding it: the server drops its lock
    with host_b:
        pass
