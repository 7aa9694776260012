"""GET /metrics (Prometheus text), request ids and JSON logs, over a real uvicorn server."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.metrics import Metrics
from api.observability import RequestIdFilter
from assistant.runtime import Runtime
from core.settings import Settings
from index.embedder import Embedder

from conftest import Server, copy_data, start_server, stop_server
from tests_support import article

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def request(
    server: Server, path: str, body: object | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else json.dumps(body).encode()
    sent = urllib.request.Request(server.url + path, data=data, headers=headers or {})
    if data is not None:
        sent.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(sent, timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def scrape(server: Server) -> Samples:
    status, headers, body = request(server, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def json_server(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("observed")
    server = start_server(
        copy_data(demo_data, folder / "data"),
        folder / "server.log",
        env={"NEWSDESK_LOG_FORMAT": "json"},
    )
    yield server
    stop_server(server)


def test_metrics_count_requests_stages_index_and_writes(json_server: Server) -> None:
    before = scrape(json_server)
    status, _, _ = request(json_server, "/ask", {"question": "Who won the election?"})
    assert status == 200
    assert request(json_server, "/articles/no-such-id")[0] in (404, 405)
    after = scrape(json_server)

    ask = {"method": "POST", "route": "/ask", "status": "200"}
    assert value(after, "newsdesk_http_requests_total", **ask) == (
        value(before, "newsdesk_http_requests_total", **ask) + 1
    )
    assert value(after, "newsdesk_http_request_duration_seconds_count", **ask) >= 1
    assert value(after, "newsdesk_http_request_duration_seconds_bucket", le="+Inf", **ask) >= 1
    # Routes are labelled by template, never by the raw path.
    assert not any(dict(labels).get("route") == "/articles/no-such-id" for _, labels in after)
    count = "newsdesk_stage_duration_seconds_count"
    for stage in ("retrieval", "reader"):
        assert value(after, count, stage=stage) == value(before, count, stage=stage) + 1, stage
    # Once per part of the question (a multi-part question is reranked part by part).
    assert value(after, count, stage="rerank") > value(before, count, stage="rerank")

    _, _, health = request(json_server, "/health")
    sizes = json.loads(health)
    assert value(after, "newsdesk_index_size", unit="passages") == sizes["passages"] > 0
    assert value(after, "newsdesk_index_size", unit="articles") == sizes["articles"] > 0

    new = [article(901), article(902)]
    assert request(json_server, "/articles", new)[0] == 200
    assert request(json_server, "/articles/a901", headers={})[0] in (404, 405)  # GET: no route
    delete = urllib.request.Request(json_server.url + "/articles/a901", method="DELETE")
    with urllib.request.urlopen(delete, timeout=60) as response:
        assert response.status == 200
    written = scrape(json_server)
    added = value(written, "newsdesk_ingest_articles_total", outcome="added")
    assert added == value(after, "newsdesk_ingest_articles_total", outcome="added") + 2
    assert value(written, "newsdesk_ingest_articles_total", outcome="deleted") >= 1
    assert value(written, "newsdesk_ingest_chunks_embedded_total") >= 2
    assert value(written, "newsdesk_index_size", unit="articles") == sizes["articles"] + 1
    deleted = {"method": "DELETE", "route": "/articles/{article_id}", "status": "200"}
    assert value(written, "newsdesk_http_requests_total", **deleted) == 1


def log_lines(server: Server) -> list[dict[str, object]]:
    lines = []
    for line in server.log.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_request_id_is_echoed_and_in_the_json_log(json_server: Server) -> None:
    status, headers, _ = request(
        json_server, "/ask", {"question": "What happened?"}, {"X-Request-ID": "trace-7f3a.1"}
    )
    assert status == 200
    assert headers["x-request-id"] == "trace-7f3a.1"
    # An id that could forge log lines or bloat every record is replaced, not echoed.
    _, headers, _ = request(json_server, "/health", headers={"X-Request-ID": "x" * 500})
    fresh = headers["x-request-id"]
    assert fresh != "x" * 500 and len(fresh) == 32
    _, headers, _ = request(json_server, "/health")
    assert len(headers["x-request-id"]) == 32 and headers["x-request-id"] != fresh

    deadline = time.monotonic() + 10
    while True:
        records = log_lines(json_server)
        mine = [r for r in records if r.get("request_id") == "trace-7f3a.1"]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert records, json_server.log.read_text()[-2000:]
    assert all({"time", "level", "logger", "message", "request_id"} <= r.keys() for r in records)
    ask = [r for r in mine if r.get("logger") == "newsdesk.request"]
    assert ask and ask[0]["route"] == "/ask" and ask[0]["status"] == 200
    assert isinstance(ask[0]["duration_ms"], float)
    assert any(r.get("request_id") == fresh for r in records)


def test_each_app_counts_in_its_own_registry(demo_data: Path, embedder: Embedder) -> None:
    """Two recorders in one process (the global registry would refuse the second)."""
    first, second = Metrics(), Metrics()
    runtime = Runtime(Settings(data_dir=demo_data), embedder).observe(first)
    try:
        runtime.assistant.ask("Who won the election?")
    finally:
        runtime.close()
    counts = {"articles": 1, "passages": 2}
    seen = {
        s.labels.get("stage"): s.value
        for f in text_string_to_metric_families(first.render(counts).decode())
        for s in f.samples
        if s.name == "newsdesk_stage_duration_seconds_count"
    }
    assert seen.keys() == {"retrieval", "rerank", "reader"}
    assert seen["retrieval"] == seen["reader"] == 1.0
    assert "newsdesk_stage_duration_seconds_count" not in second.render(counts).decode()


def test_an_unhandled_error_is_a_500_naming_its_request_id(
    demo_data: Path, embedder: Embedder, tmp_path: Path
) -> None:
    """A bug in a route (here one the test adds to the real app) still answers JSON with the
    request id, and the traceback is logged under that id."""
    settings = Settings(data_dir=copy_data(demo_data, tmp_path / "data"))
    app = create_app(settings, register=False, runtime=Runtime(settings, embedder))

    @app.get("/broken")
    def broken() -> None:
        raise RuntimeError("a bug")

    app.router.routes.insert(0, app.router.routes.pop())  # ahead of the chat page's mount

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("newsdesk.request")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        # Addressed as the server's own loopback name: the Host check refuses "testserver".
        with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
            response = client.get("/broken", headers={"X-Request-ID": "bug-1"})
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "bug-1"
    assert "bug-1" in response.json()["detail"]
    failure = [r for r in records if r.exc_info]
    assert failure and failure[0].request_id == "bug-1"  # type: ignore[attr-defined]
    done = [r for r in records if getattr(r, "route", None) == "/broken"]
    assert done and done[0].status == 500  # type: ignore[attr-defined]
