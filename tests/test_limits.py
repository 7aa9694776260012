"""Issue 12: what one request may cost. Body limits on every route, counted as bytes arrive;
the size of an OpenAI-style message history. Against a real server with small limits."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import Server, copy_data, start_server, stop_server

UPLOAD_LIMIT = 200_000
REQUEST_LIMIT = 64 * 1024
HISTORY_CHARS = 20_000
HISTORY_MESSAGES = 40


@pytest.fixture(scope="module")
def limited(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("limited")
    env = {
        "PYTHONUNBUFFERED": "1",
        "NEWSDESK_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
        "NEWSDESK_MAX_REQUEST_BYTES": str(REQUEST_LIMIT),
        "NEWSDESK_MAX_HISTORY_CHARS": str(HISTORY_CHARS),
        "NEWSDESK_MAX_HISTORY_MESSAGES": str(HISTORY_MESSAGES),
    }
    server = start_server(copy_data(demo_data, folder / "data"), folder / "server.log", env)
    yield server
    stop_server(server)


def chunked_post(
    server: Server, path: str, headers: dict[str, str], total: int, start: bytes = b""
) -> tuple[int, bytes]:
    """Streams `total` bytes of a chunked body (no Content-Length) and stops as soon as the
    server answers. Returns (bytes sent by then, the raw response)."""
    parts = urllib.parse.urlsplit(server.url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=60)
    head = f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock.sendall(
        head.encode() + (f"{len(start):x}\r\n".encode() + start + b"\r\n" if start else b"")
    )
    piece = b"x" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent = 0
    response = b""
    deadline = time.monotonic() + 120
    sock.setblocking(False)
    try:
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock] if sent < total else [], [], 1)
            if readable:
                data = sock.recv(65536)
                if not data:
                    break
                response += data
                if b"\r\n\r\n" in response and response.rstrip().endswith(b"}"):
                    break
            elif writable:
                with contextlib.suppress(BlockingIOError, BrokenPipeError, ConnectionResetError):
                    sent += sock.send(chunk)
        return sent, response
    finally:
        sock.close()


def status_and_body(raw: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        size, _, rest = body.partition(b"\r\n")
        body = rest[: int(size, 16)]
    parsed: dict[str, object] = json.loads(body)
    return status, parsed


def test_a_chunked_upload_is_cut_off_at_the_limit(limited: Server) -> None:
    """No Content-Length to refuse up front: the server counts the bytes and answers 413 once
    they pass the limit, long before the 64 MB the client means to send (it used to spool
    the whole body to disk first, then refuse)."""
    before = httpx.get(limited.url + "/health", timeout=60).json()
    total = 64 * 1024 * 1024
    boundary = "newsdeskboundary"
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "X-Newsdesk-Client": "tests",
    }
    part = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=file; filename=big.txt\r\n"
        "Content-Type: text/plain\r\n\r\ndate 2023-10-01 Big\n"
    )
    sent, raw = chunked_post(limited, "/articles", headers, total, part.encode())
    assert raw, f"no answer after {sent} bytes"
    status, body = status_and_body(raw)
    assert status == 413, raw[:500]
    assert "NEWSDESK_MAX_UPLOAD_BYTES" in str(body["detail"])
    assert sent < total // 4, f"the server read {sent} bytes before refusing"
    assert httpx.get(limited.url + "/health", timeout=60).json() == before


@pytest.mark.parametrize(
    ("path", "shape"),
    [("/ask", "detail"), ("/chat", "detail"), ("/v1/chat/completions", "error")],
)
def test_every_route_limits_its_body(limited: Server, path: str, shape: str) -> None:
    http = httpx.Client(base_url=limited.url, timeout=120)
    big = json.dumps({"question": "x" * REQUEST_LIMIT}).encode()
    declared = http.post(path, content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413, declared.text
    assert "NEWSDESK_MAX_REQUEST_BYTES" in json.dumps(declared.json()[shape])
    sent, raw = chunked_post(limited, path, {"Content-Type": "application/json"}, 16 << 20)
    status, body = status_and_body(raw)
    assert status == 413 and shape in body, raw[:500]
    assert sent < 4 << 20


def completion(messages: list[dict[str, str]]) -> dict[str, object]:
    return {"model": "newsdesk", "messages": messages}


def test_a_completion_history_is_bounded(limited: Server) -> None:
    http = httpx.Client(base_url=limited.url, timeout=120)
    question = {"role": "user", "content": "Who attended the Moscow meeting?"}
    earlier = {"role": "user", "content": "Tell me about Acapulco. " * 60}  # 1,440 characters
    long = http.post("/v1/chat/completions", json=completion([earlier] * 15 + [question]))
    assert long.status_code == 413, long.text
    error = long.json()["error"]
    assert error["param"] == "messages" and error["code"] == "context_length_exceeded"
    assert "NEWSDESK_MAX_HISTORY_CHARS" in error["message"]
    hello = {"role": "assistant", "content": "Hello."}
    many = http.post(
        "/v1/chat/completions", json=completion([hello] * HISTORY_MESSAGES + [question])
    )
    assert many.status_code == 422, many.text
    assert "NEWSDESK_MAX_HISTORY_MESSAGES" in many.json()["error"]["message"]
    within = completion([earlier] * 5 + [hello] * 20 + [question])
    assert http.post("/v1/chat/completions", json=within).status_code == 200


@pytest.fixture(scope="module")
def rated(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("rated")
    env = {"NEWSDESK_RATE_LIMIT_PER_MINUTE": "6", "NEWSDESK_RATE_LIMIT_BURST": "4"}
    server = start_server(copy_data(demo_data, folder / "data"), folder / "server.log", env)
    yield server
    stop_server(server)


def test_answering_routes_are_rate_limited_per_client(rated: Server) -> None:
    """Four at once, then one every ten seconds; each client (here told apart by the
    X-Forwarded-For that uvicorn trusts from 127.0.0.1, as behind a reverse proxy) on its own."""
    http = httpx.Client(base_url=rated.url, timeout=120)
    first = {"X-Forwarded-For": "203.0.113.7"}
    second = {"X-Forwarded-For": "203.0.113.8"}
    search = {"q": "Moscow meeting"}
    answered = [http.get("/search", params=search, headers=first) for _ in range(4)]
    assert [r.status_code for r in answered] == [200] * 4
    for response in (
        http.get("/search", params=search, headers=first),
        http.post("/ask", json={"question": "Who met in Moscow?"}, headers=first),
        http.post("/chat", json={"message": "Who met in Moscow?"}, headers=first),
    ):
        assert response.status_code == 429, response.text
        assert 1 <= int(response.headers["retry-after"]) <= 10
        assert "NEWSDESK_RATE_LIMIT_PER_MINUTE" in response.json()["detail"]
    completion = {"model": "newsdesk", "messages": [{"role": "user", "content": "Moscow?"}]}
    limited_openai = http.post("/v1/chat/completions", json=completion, headers=first)
    assert limited_openai.status_code == 429
    assert limited_openai.json()["error"]["type"] == "rate_limit_error"
    # Other routes and other clients are untouched.
    assert http.get("/health", headers=first).status_code == 200
    assert http.get("/articles", headers=first).status_code == 200
    assert http.get("/search", params=search, headers=second).status_code == 200
    time.sleep(int(limited_openai.headers["retry-after"]) + 0.1)
    assert http.get("/search", params=search, headers=first).status_code == 200


def test_an_answer_past_its_deadline_is_a_504_naming_the_setting(
    demo_data: Path, tmp_path: Path
) -> None:
    env = {"PYTHONUNBUFFERED": "1", "NEWSDESK_ANSWER_TIMEOUT": "0.001"}
    server = start_server(copy_data(demo_data, tmp_path / "data"), tmp_path / "server.log", env)
    try:
        asked = httpx.post(
            f"{server.url}/ask", json={"question": "Who attended the Moscow meeting?"}, timeout=60
        )
        assert asked.status_code == 504, asked.text
        assert "NEWSDESK_ANSWER_TIMEOUT" in asked.json()["detail"]
        searched = httpx.get(f"{server.url}/search", params={"q": "Moscow"}, timeout=60)
        assert searched.status_code == 504, searched.text
        assert httpx.get(f"{server.url}/health", timeout=60).status_code == 200
    finally:
        stop_server(server)


def test_each_worker_holds_its_share_of_the_rate_limit(tmp_path: Path) -> None:
    """With `serve --workers 2` a client's connections are spread over two processes, each
    with its own buckets: each holds half the burst and the rate, so the client gets the
    configured limit in all, not twice it."""
    from api.limits import RateLimit
    from core.settings import Settings

    async def app(scope: object, receive: object, send: object) -> None:
        return None

    settings = Settings(data_dir=tmp_path, rate_limit_per_minute=6, rate_limit_burst=4, workers=2)
    limiter = RateLimit(app, settings)
    assert [limiter.take("203.0.113.7", 0.0) for _ in range(2)] == [0.0, 0.0]
    # One request every 20 s here, one every 20 s in the other worker: 6 a minute in all.
    assert limiter.take("203.0.113.7", 0.0) == pytest.approx(20.0)
    one = RateLimit(app, settings.model_copy(update={"workers": 1}))
    assert [one.take("203.0.113.7", 0.0) for _ in range(4)] == [0.0] * 4
