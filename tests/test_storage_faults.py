"""Issue 12: storage faults are answered honestly. A store that cannot be read gives 503 with
a JSON reason (not a plain-text 500) while /health stays alive and /ready says why; a server
does not start on an empty vector store beside a full catalog, and `newsdesk reindex`
rebuilds the vectors from the catalog. Real servers, real files damaged on disk."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx

from assistant.runtime import Runtime
from core.settings import Settings
from index.embedder import Embedder
from index.loaders import load_articles

from conftest import (
    DEMO,
    PostgresServer,
    Server,
    copy_data,
    free_port,
    newsdesk_command,
    run_newsdesk,
    start_server,
    stop_server,
)
from tests_support import article

QUESTION = "What did Israel say about the Moscow meeting?"


def scramble(path: Path) -> None:
    """Garbage over a SQLite file and its WAL and shared memory, in place (same inodes), as a
    failing disk or a stray process might leave them: open connections see it too."""
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if part.exists():
            size = part.stat().st_size
            with part.open("r+b") as handle:
                handle.write(b"\xa5" * max(size, 4096))


def test_a_broken_catalog_is_a_503_with_a_reason(demo_data: Path, tmp_path: Path) -> None:
    server = start_server(copy_data(demo_data, tmp_path / "data"), tmp_path / "server.log")
    try:
        http = httpx.Client(base_url=server.url, timeout=120)
        assert http.get("/ready").json()["status"] == "ready"
        assert http.post("/ask", json={"question": QUESTION}).status_code == 200
        scramble(server.data_dir / "catalog.sqlite3")
        completion = {"model": "newsdesk", "messages": [{"role": "user", "content": QUESTION}]}
        for name, response in [
            ("ask", http.post("/ask", json={"question": QUESTION})),
            ("search", http.get("/search", params={"q": QUESTION})),
            ("chat", http.post("/chat", json={"message": QUESTION})),
            ("articles", http.get("/articles")),
            ("add", http.post("/articles", json=article(91))),
            ("delete", http.delete("/articles/a91")),
        ]:
            assert response.status_code == 503, (name, response.text)
            assert response.headers["content-type"] == "application/json", name
            assert "cannot be read or written" in response.json()["detail"], name
        openai = http.post("/v1/chat/completions", json=completion)
        assert openai.status_code == 503, openai.text
        assert openai.json()["error"]["type"] == "server_error"
        health = http.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ready = http.get("/ready")
        assert ready.status_code == 503, ready.text
        assert any("catalog cannot be read" in p for p in ready.json()["problems"])
    finally:
        stop_server(server)


def test_a_broken_vector_store_is_a_503_and_ready_says_so(demo_data: Path, tmp_path: Path) -> None:
    server = start_server(copy_data(demo_data, tmp_path / "data"), tmp_path / "server.log")
    try:
        http = httpx.Client(base_url=server.url, timeout=120)
        assert http.get("/search", params={"q": QUESTION}).status_code == 200
        scramble(server.data_dir / "chroma" / "chroma.sqlite3")
        search = http.get("/search", params={"q": QUESTION})
        assert search.status_code == 503, search.text
        assert "cannot be read or written" in search.json()["detail"]
        assert http.get("/health").status_code == 200
        ready = http.get("/ready")
        assert ready.status_code == 503, ready.text
        assert any("vector store cannot be read" in p for p in ready.json()["problems"])
    finally:
        stop_server(server)


def test_no_server_on_an_empty_vector_store_beside_a_full_catalog(
    demo_data: Path, tmp_path: Path
) -> None:
    data = copy_data(demo_data, tmp_path / "data")
    shutil.rmtree(data / "chroma")
    serve = subprocess.run(
        newsdesk_command("serve", "--port", str(free_port()), "--data-dir", str(data)),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert serve.returncode == 2, (serve.stdout, serve.stderr)
    message = serve.stderr.strip()
    assert "Traceback" not in serve.stderr, serve.stderr
    assert "vector store" in message and "is empty" in message, message
    assert f"newsdesk reindex --data-dir {data}" in message, message

    rebuilt = subprocess.run(
        newsdesk_command("reindex", "--data-dir", str(data)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    server: Server = start_server(data, tmp_path / "server.log")
    try:
        http = httpx.Client(base_url=server.url, timeout=120)
        ready = http.get("/ready").json()
        assert ready["status"] == "ready", ready
        assert ready["vectors"] == ready["passages"] == http.get("/health").json()["passages"]
        assert f"{ready['passages']} passages embedded" in rebuilt.stdout
        answer = http.post("/ask", json={"question": QUESTION}).json()
        assert not answer["refused"] and answer["citations"], answer
        again = subprocess.run(
            newsdesk_command("reindex", "--data-dir", str(data)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 2 and "already serves" in again.stderr, again.stderr
    finally:
        stop_server(server)


def test_postgres_stopped_under_a_running_server_is_a_503_then_recovers(
    postgres: PostgresServer, tmp_path: Path, embedder: Embedder
) -> None:
    """The catalog in PostgreSQL, which is stopped under a running `newsdesk serve` and
    started again: answering routes say 503 with the reason while it is down, /ready says the
    database is down, and afterwards the same server answers again, with nothing lost."""
    url = postgres.new_database()
    settings = Settings(data_dir=tmp_path / "data", database_url=url)
    runtime = Runtime(settings, embedder)
    runtime.writer.ingest(load_articles([DEMO]))
    runtime.close()
    server = start_server(
        settings.data_dir, tmp_path / "server.log", env={"NEWSDESK_DATABASE_URL": url}
    )
    try:
        http = httpx.Client(base_url=server.url, timeout=120)
        assert http.get("/ready").json()["status"] == "ready"
        before = http.get("/health").json()
        assert before["articles"] > 0
        first = http.post("/chat", json={"message": QUESTION})
        assert first.status_code == 200, first.text
        conversation = first.json()["conversation_id"]
        token = {"X-Conversation-Token": first.json()["conversation_token"]}

        postgres.stop()
        for name, response in [
            ("ask", http.post("/ask", json={"question": QUESTION})),
            ("search", http.get("/search", params={"q": QUESTION})),
            ("chat", http.post("/chat", json={"message": QUESTION})),
            ("conversation", http.get(f"/conversations/{conversation}", headers=token)),
            ("articles", http.get("/articles")),
            ("add", http.post("/articles", json=article(91))),
        ]:
            assert response.status_code == 503, (name, response.text)
            assert response.headers["content-type"] == "application/json", name
            assert "cannot be read or written" in response.json()["detail"], name
        health = http.get("/health")
        assert health.status_code == 200 and health.json()["articles"] is None
        ready = http.get("/ready")
        assert ready.status_code == 503, ready.text
        problems = ready.json()["problems"]
        assert any(
            "catalog cannot be read" in p and f"PostgreSQL at 127.0.0.1:{postgres.port}" in p
            for p in problems
        ), problems

        postgres.start()
        assert http.get("/ready").json()["status"] == "ready"
        answer = http.post("/ask", json={"question": QUESTION})
        assert answer.status_code == 200, answer.text
        assert answer.json()["citations"]
        after = http.get("/health").json()
        assert (after["articles"], after["passages"]) == (before["articles"], before["passages"])
        kept = http.get(f"/conversations/{conversation}", headers=token)
        assert kept.status_code == 200, kept.text
        assert len(kept.json()["turns"]) == 2
        added = http.post("/articles", json=article(91))
        assert added.status_code == 200, added.text
        assert http.get("/health").json()["articles"] == before["articles"] + 1
    finally:
        stop_server(server)
        postgres.start()  # the session's server, for the tests after this one


def test_the_cli_names_a_bad_or_unreachable_database(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    bad = run_newsdesk("status", "--data-dir", data, env={"NEWSDESK_DATABASE_URL": "mysql://h/db"})
    assert bad.returncode == 2, bad.stderr
    assert "NEWSDESK_DATABASE_URL" in bad.stderr and "PostgreSQL URL" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr
    nowhere = f"postgresql://newsdesk@127.0.0.1:{free_port()}/newsdesk"
    down = run_newsdesk("status", "--data-dir", data, env={"NEWSDESK_DATABASE_URL": nowhere})
    assert down.returncode == 1, down.stderr
    assert "cannot be read or written" in down.stderr and "127.0.0.1" in down.stderr, down.stderr
    assert "Traceback" not in down.stderr
