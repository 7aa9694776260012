"""`newsdesk serve --workers 2` over a real `chroma run`: every worker answers from every
write, whichever worker (or the CLI) made it, and a soak of questions while articles arrive.

The workers share the data directory's SQLite catalog (WAL; writes serialised by the write
lock's flock across the processes) and Chroma's server; nothing a worker keeps in memory may
hide another worker's write.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import (
    ChromaServer,
    Server,
    run_newsdesk,
    start_server,
    stop_server,
    unique_collection,
)
from tests_support import article, call, write_jsonl

PLACES = [
    "Brackwater", "Ostmere", "Kellsby", "Varrow", "Thornquay", "Lindhaven", "Mossford",
    "Quillon", "Ravensholt", "Dunmarrow", "Eskerby", "Fallowdene", "Gorsemouth", "Hollinsby",
    "Jessamor",
]  # fmt: skip
THINGS = [
    "floating solar farm", "lighthouse museum", "cable car", "seaweed hatchery",
    "tidal power station", "glass footbridge", "oyster reef", "bicycle library",
    "night ferry", "whale observatory", "rope factory", "salt marsh park",
    "clock tower", "bell foundry", "kelp drying shed",
]  # fmt: skip


def story(n: int) -> dict[str, object]:
    """Article n: the harbour authority of PLACES[n] opened a THINGS[n], and nothing else."""
    return article(
        n,
        text=f"The harbour authority of {PLACES[n]} opened a {THINGS[n]} on Monday, "
        f"officials in {PLACES[n]} said.",
    )


def question(n: int) -> str:
    return f"What did the harbour authority of {PLACES[n]} open?"


def cites(answer: object, n: int) -> bool:
    assert isinstance(answer, dict), answer
    return (
        not answer["refused"]
        and any(c["article_id"] == f"a{n}" for c in answer["citations"])
        and THINGS[n].split()[-1] in answer["answer"]
    )


def answered_by(server: Server) -> dict[str, float]:
    """Worker pid -> POST /ask answered 200, as each worker's own /metrics says; scraped on
    fresh connections until every worker that answers has been heard from twice."""
    seen: dict[str, float] = {}
    heard: dict[str, int] = {}
    for _ in range(60):
        status, text = call(server.url + "/metrics")
        assert status == 200 and isinstance(text, str)
        families = {f.name: f for f in text_string_to_metric_families(text)}
        pid = next(s.labels["pid"] for s in families["newsdesk_process"].samples)
        seen[pid] = sum(
            s.value
            for s in families["newsdesk_http_requests"].samples
            if s.name == "newsdesk_http_requests_total"
            and s.labels == {"method": "POST", "route": "/ask", "status": "200"}
        )
        heard[pid] = heard.get(pid, 0) + 1
        if len(heard) >= 2 and min(heard.values()) >= 2:
            break
    return seen


@dataclass
class Cluster:
    server: Server
    env: dict[str, str]


@pytest.fixture(scope="module")
def cluster(
    chroma_server: ChromaServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """Two workers over a data directory indexed by the CLI (articles 0-2) beforehand."""
    folder = tmp_path_factory.mktemp("workers")
    home = folder / "home"
    home.mkdir()
    env = {**chroma_server.env(unique_collection()), "HOME": str(home)}
    source = write_jsonl(folder / "first.jsonl", [story(n) for n in range(3)])
    done = run_newsdesk("ingest", str(source), "--data-dir", str(folder / "data"), env=env)
    assert done.returncode == 0, done.stderr
    server = start_server(folder / "data", folder / "server.log", env=env, args=["--workers", "2"])
    yield Cluster(server, env)
    stop_server(server)


def test_several_workers_need_chromas_server(tmp_path: Path) -> None:
    refused = run_newsdesk("serve", "--workers", "2", "--data-dir", str(tmp_path / "data"))
    assert refused.returncode == 2
    assert "NEWSDESK_CHROMA_MODE=http" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was opened


def test_a_write_through_one_worker_is_answered_by_every_worker(cluster: Cluster) -> None:
    url = cluster.server.url
    status, added = call(url + "/articles", "POST", story(3))
    assert status == 200 and added["added"] == 1, added  # type: ignore[index]
    answers = 0
    for _ in range(40):
        for _ in range(5):
            status, answer = call(url + "/ask", "POST", {"question": question(3)})
            assert status == 200 and cites(answer, 3), answer
            answers += 1
        counts = answered_by(cluster.server)
        if len(counts) == 2 and all(counts.values()):
            break
    assert len(counts) == 2 and all(counts.values()), (counts, cluster.server.log.read_text())

    # The CLI writes into the same directory while the workers run (handed to them).
    source = write_jsonl(cluster.server.data_dir.parent / "later.jsonl", [story(4)])
    done = run_newsdesk(
        "ingest", str(source), "--data-dir", str(cluster.server.data_dir), env=cluster.env
    )
    assert done.returncode == 0, done.stderr
    for _ in range(10):
        status, answer = call(url + "/ask", "POST", {"question": question(4)})
        assert status == 200 and cites(answer, 4), answer
    status, ready = call(url + "/ready")
    assert status == 200, ready
    assert ready["passages"] == ready["vectors"] == 5  # type: ignore[index]


def test_soak_questions_while_articles_arrive(cluster: Cluster) -> None:
    """30 questions at concurrency 4 while 10 articles are POSTed by two writers to whichever
    worker takes each: no 5xx, every acknowledged article is answerable with a citation, and
    catalog and vectors agree (the writes were serialised across the workers)."""
    url = cluster.server.url
    arriving = list(range(5, 15))  # 0-4 were written by the earlier test and the fixture
    statuses: list[int] = []
    acknowledged: list[int] = []

    def ask(i: int) -> None:
        status, _ = call(url + "/ask", "POST", {"question": question(i % 3)})
        statuses.append(status)

    def post_all(numbers: list[int]) -> None:
        for n in numbers:
            status, _ = call(url + "/articles", "POST", story(n))
            statuses.append(status)
            if 200 <= status < 300:
                acknowledged.append(n)
            time.sleep(0.05)

    # Two writers at once, so writes reach both workers together and queue on the lock.
    with ThreadPoolExecutor(2) as writers, ThreadPoolExecutor(4) as askers:
        posting = [writers.submit(post_all, arriving[i::2]) for i in range(2)]
        asks = [askers.submit(ask, i) for i in range(30)]
        for future in [*posting, *asks]:
            future.result()
    assert not [s for s in statuses if s >= 500], statuses
    assert sorted(acknowledged) == arriving
    for n in acknowledged:
        status, answer = call(url + "/ask", "POST", {"question": question(n)})
        assert status == 200 and cites(answer, n), (n, answer)
    status, ready = call(url + "/ready")
    assert status == 200 and ready["passages"] == ready["vectors"] == 15, ready  # type: ignore[index]
