"""Chroma's server killed under a running `newsdesk serve`, then started again.

While it is down the answering routes say 503 naming the vector store, /ready says which store
is down and /health stays 200; once it is back on the same port and folder the same server
answers again, without a restart, from everything it had before.
"""

from __future__ import annotations

import threading
from pathlib import Path

from conftest import free_port, start_chroma, start_server, stop_server, terminate
from tests_support import article, call

ROUTES = [
    ("POST", "/ask", {"question": "What did Port Elling open?"}),
    ("GET", "/search?q=Port+Elling+solar", None),
    ("POST", "/chat", {"message": "What did Port Elling open?"}),
    (
        "POST",
        "/v1/chat/completions",
        {"model": "newsdesk", "messages": [{"role": "user", "content": "Port Elling?"}]},
    ),
]
SOLAR = (
    "The harbour authority of Port Elling opened a floating solar farm of 4,000 panels on Monday."
)


def cites_solar(answer: object) -> bool:
    assert isinstance(answer, dict), answer
    return "solar" in answer["answer"] and answer["citations"][0]["article_id"] == "a7"


def test_a_killed_chroma_server_is_a_503_until_it_is_back(tmp_path: Path) -> None:
    port = free_port()
    chroma_log = tmp_path / "chroma.log"
    chroma = start_chroma(tmp_path / "db", port, chroma_log)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "NEWSDESK_CHROMA_MODE": "http",
        "NEWSDESK_CHROMA_PORT": str(port),
        "HOME": str(home),  # Chroma's default embedder would download into it
    }
    server = start_server(tmp_path / "data", tmp_path / "server.log", env=env)
    try:
        url = server.url
        status, added = call(url + "/articles", "POST", [article(1), article(7, text=SOLAR)])
        assert status == 200, added
        status, answer = call(url + "/ask", "POST", ROUTES[0][2])
        assert status == 200 and cites_solar(answer), answer
        _, health = call(url + "/health")

        # Killed while questions are being answered: each gets an answer or a 503, no 500.
        seen: list[int] = []
        stop = threading.Event()

        def ask() -> None:
            while not stop.is_set():
                seen.append(call(url + "/ask", "POST", ROUTES[0][2])[0])

        asking = threading.Thread(target=ask)
        asking.start()
        try:
            chroma.kill()
            chroma.wait()
            for method, path, body in ROUTES:
                status, reply = call(url + path, method, body)
                assert status == 503, (path, reply)
                assert isinstance(reply, dict), reply
                detail = reply["detail"] if "detail" in reply else reply["error"]["message"]
                assert "vector store" in detail and f"127.0.0.1:{port}" in detail, detail
        finally:
            stop.set()
            asking.join()
        assert seen and set(seen) <= {200, 503}, seen
        status, ready = call(url + "/ready")
        assert status == 503, ready
        problems = " ".join(ready["problems"])  # type: ignore[index]
        assert "vector store" in problems and f"Chroma server at http://127.0.0.1:{port}" in (
            problems
        ), problems
        assert call(url + "/health")[0] == 200

        # Back on the same port and folder: the same Newsdesk process answers as before.
        chroma = start_chroma(tmp_path / "db", port, chroma_log, restart=True)
        for method, path, body in ROUTES:
            status, reply = call(url + path, method, body)
            assert status == 200, (path, reply)
        status, answer = call(url + "/ask", "POST", ROUTES[0][2])
        assert status == 200 and cites_solar(answer), answer
        status, ready = call(url + "/ready")
        assert status == 200 and ready["vectors"] == ready["passages"] == 2, ready  # type: ignore[index]
        assert call(url + "/health")[1] == health
        assert server.process.poll() is None
    finally:
        stop_server(server)
        terminate(chroma)
