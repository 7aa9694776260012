"""Issue 12: a page on another origin cannot write, and one data directory has one server.

Cross-site writes are tried for real: a foreign page, served from another loopback origin,
runs its attack in Debian's Chromium against a real server, with and without an API key;
the HTTP-level cases show what the guard refuses and what it lets through (the CLI, curl,
the openai client and the server's own pages). The second server is a real `newsdesk serve`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from index import owner
from index.owner import ServerBusy, ServerLock

from conftest import (
    Server,
    copy_data,
    free_port,
    newsdesk_command,
    start_server,
    stop_server,
)
from tests_support import article, write_jsonl

API_KEY = "s3cret"
DASHBOARD = "http://dashboard.example"
EVIL = "http://evil.example"

# Unbuffered, so the access log shows each request as it is answered.
UNBUFFERED = {"PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def open_server(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server over its own copy of the demo index, no API key: the default configuration."""
    folder = tmp_path_factory.mktemp("open")
    server = start_server(copy_data(demo_data, folder / "data"), folder / "server.log", UNBUFFERED)
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def keyed_server(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An API key, and one other origin allowed to call the API (so CORS is on for it)."""
    folder = tmp_path_factory.mktemp("keyed")
    env = {**UNBUFFERED, "NEWSDESK_API_KEY": API_KEY, "NEWSDESK_CORS_ORIGINS": DASHBOARD}
    server = start_server(copy_data(demo_data, folder / "data"), folder / "server.log", env)
    yield server
    stop_server(server)


def article_ids(server: Server) -> list[str]:
    status, page = server.get("/articles?limit=500")
    assert status == 200 and isinstance(page, dict)
    assert page["total"] <= 500
    return sorted(a["id"] for a in page["articles"])


def port_of(server: Server) -> int:
    return int(urllib.parse.urlsplit(server.url).port or 0)


# A real foreign page ------------------------------------------------------------------------

ATTACK_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>Totally unrelated page</title>
<iframe name="sink" title="sink"></iframe>
<script>
const params = new URLSearchParams(location.search);
const target = params.get("target");
const victim = params.get("victim");
const planted = JSON.stringify({
  id: "planted", title: "Planted", published: "2023-10-01", source: "Elsewhere",
  text: "A foreign page planted this story and pruned every other one.",
});
const seed = "date 2023-10-01 Planted\\nA foreign page planted this story.\\n";

async function attempt(name, run) {
  try { await run(); return name + ": sent"; } catch (error) { return name + ": " + error; }
}

function formPost() {
  // The classic: an HTML form with a file field, posted into an iframe. No script on this
  // page can read the answer, and none is needed to do the damage.
  return new Promise((resolve, reject) => {
    const form = document.createElement("form");
    form.method = "POST";
    form.enctype = "multipart/form-data";
    form.action = target + "/articles?prune=true";
    form.target = "sink";
    const input = document.createElement("input");
    input.type = "file";
    input.name = "file";
    const files = new DataTransfer();
    files.items.add(new File([seed], "planted.txt", {type: "text/plain"}));
    input.files = files.files;
    form.appendChild(input);
    document.body.appendChild(form);
    document.querySelector("iframe").addEventListener("load", resolve, {once: true});
    setTimeout(() => reject(new Error("no answer in 15 s")), 15000);
    form.submit();
  });
}

async function attack() {
  const results = [];
  results.push(await attempt("form upload", formPost));
  const upload = new FormData();
  upload.append("file", new File([seed], "planted.txt", {type: "text/plain"}));
  results.push(await attempt("no-cors upload", () =>
    fetch(target + "/articles?prune=true", {mode: "no-cors", method: "POST", body: upload})));
  results.push(await attempt("no-cors JSON as text", () =>
    fetch(target + "/articles?prune=true", {mode: "no-cors", method: "POST", body: planted})));
  results.push(await attempt("no-cors JSON without a type", () =>
    fetch(target + "/articles?prune=true",
          {mode: "no-cors", method: "POST", body: new Blob([planted])})));
  const one = target + "/articles/" + encodeURIComponent(victim);
  results.push(await attempt("no-cors delete", () =>
    fetch(one, {mode: "no-cors", method: "DELETE"})));
  results.push(await attempt("cors delete", () => fetch(one, {method: "DELETE"})));
  window.__results = results;
}
attack();
</script>
"""

ATTACK_POSTS = 4
"""Requests of the page that a browser does send: the form, and the three no-cors POSTs (a
no-cors DELETE is refused by the browser itself, a cors one by the failed preflight)."""


@pytest.fixture(scope="module")
def foreign_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A plain static web server on another loopback port, holding the attack page."""
    folder = tmp_path_factory.mktemp("foreign")
    (folder / "attack.html").write_text(ATTACK_PAGE)
    (folder / "read.html").write_text(READ_PAGE)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/attack.html", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_page(browser: Any, page_origin: str, name: str, params: dict[str, str]) -> list[str]:
    """Opens one of the foreign site's pages in a fresh context; returns what it recorded."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{page_origin}/{name}?{urllib.parse.urlencode(params)}")
        page.wait_for_function("() => window.__results !== undefined", timeout=60_000)
        results: list[str] = page.evaluate("() => window.__results")
        return results
    finally:
        context.close()


def run_attack(browser: Any, page_origin: str, server: Server, victim: str) -> list[str]:
    return run_page(browser, page_origin, "attack.html", {"target": server.url, "victim": victim})


def refused_attack_posts(server: Server) -> list[str]:
    log = server.log.read_text(errors="replace")
    return [line for line in log.splitlines() if '"POST /articles?prune=true HTTP/1.1"' in line]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("configured", ["no key", "API key"])
def test_a_foreign_page_in_chromium_changes_nothing(
    browser: Any,
    foreign_site: int,
    open_server: Server,
    keyed_server: Server,
    configured: str,
) -> None:
    """The page runs from two other origins: http://localhost:<port> (another site: the
    browser says Sec-Fetch-Site: cross-site) and http://127.0.0.1:<port> (the same site on
    another port: same-site). Each request that leaves the browser is refused with 403, and
    the index is the same afterwards, key or no key."""
    server = open_server if configured == "no key" else keyed_server
    before = article_ids(server)
    seen = len(refused_attack_posts(server))
    for page_origin in (f"http://localhost:{foreign_site}", f"http://127.0.0.1:{foreign_site}"):
        results = run_attack(browser, page_origin, server, victim=before[0])
        assert len(results) == 6, results
        # The POSTs leave the browser; it stops the DELETEs itself (no-cors allows no DELETE,
        # and this server grants no preflight to a foreign origin).
        assert all(r.endswith(": sent") for r in results[:4]), results
        assert not any(r.endswith(": sent") for r in results[4:]), results
        assert article_ids(server) == before, (page_origin, results)
    posts = refused_attack_posts(server)[seen:]
    # Every POST reached the server (the test is not passing on a blocked request) and met
    # the guard, which answers before the API key is looked at.
    assert len(posts) == 2 * ATTACK_POSTS, posts
    assert all(" 403 " in line for line in posts), posts


@pytest.mark.browser
@pytest.mark.slow
def test_the_servers_own_page_may_upload_and_delete(browser: Any, open_server: Server) -> None:
    """Same-origin scripts (the chat page's origin) keep every write: the browser vouches
    with Origin and Sec-Fetch-Site, so an upload needs no extra header."""
    before = article_ids(open_server)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(open_server.url + "/")
        outcome = page.evaluate(
            """async () => {
            const upload = new FormData();
            const seed = "date 2023-10-02 Own page\\nThe newsroom's own page uploaded this.\\n";
            upload.append("file", new File([seed], "own.txt", {type: "text/plain"}));
            const added = await fetch("articles", {method: "POST", body: upload});
            const body = await added.json();
            const json = await fetch("articles", {
                method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({id: "own-json", title: "Own JSON", published: "2023-10-03",
                    text: "The newsroom's own page posted this story as JSON."}),
            });
            const gone = await Promise.all([body.ids[0], "own-json"].map(
                id => fetch("articles/" + encodeURIComponent(id), {method: "DELETE"})));
            return [added.status, json.status, ...gone.map(r => r.status)];
        }"""
        )
    finally:
        context.close()
    assert outcome == [200, 200, 200, 200]
    assert article_ids(open_server) == before


# The same rules over plain HTTP -------------------------------------------------------------


def test_foreign_origins_are_refused_over_http(open_server: Server) -> None:
    http = httpx.Client(base_url=open_server.url, timeout=120)
    before = article_ids(open_server)
    conversation = http.post("/chat", json={"message": "Who attended the Moscow meeting?"})
    assert conversation.status_code == 200, conversation.text
    conversation_id = conversation.json()["conversation_id"]
    token = {"X-Conversation-Token": conversation.json()["conversation_token"]}
    new = article(71, text="The Kettleby ferry added a night crossing on Saturday.")
    other_port = f"http://127.0.0.1:{free_port()}"
    https_twin = open_server.url.replace("http://", "https://")
    upload = {"file": ("story.txt", b"date 2023-10-29 Ferry\nThe Kettleby ferry sailed.\n")}
    chat = {"message": "What happened in Acapulco?"}
    completion = {"model": "newsdesk", "messages": [{"role": "user", "content": "Acapulco?"}]}
    cases: list[tuple[str, httpx.Response, str]] = [
        ("evil origin", http.post("/articles", json=new, headers={"Origin": EVIL}), EVIL),
        ("another port", http.post("/articles", json=new, headers={"Origin": other_port}), ""),
        ("https twin", http.post("/articles", json=new, headers={"Origin": https_twin}), ""),
        ("opaque page", http.post("/articles", json=new, headers={"Origin": "null"}), "null"),
        (
            "cross-site",
            http.post("/articles", json=new, headers={"Sec-Fetch-Site": "cross-site"}),
            "cross-site",
        ),
        (
            "same-site",
            http.post("/articles", json=new, headers={"Sec-Fetch-Site": "same-site"}),
            "same-site",
        ),
        (
            "upload with the header, from elsewhere",
            http.post(
                "/articles?prune=true",
                files=upload,
                headers={"Origin": EVIL, "X-Newsdesk-Client": "x"},
            ),
            EVIL,
        ),
        (
            "upload without the header",
            http.post("/articles?prune=true", files=upload),
            "X-Newsdesk-Client",
        ),
        (
            "delete article",
            http.delete(f"/articles/{before[0]}", headers={"Origin": EVIL}),
            EVIL,
        ),
        (
            "delete conversation",
            http.delete(f"/conversations/{conversation_id}", headers={"Origin": EVIL, **token}),
            EVIL,
        ),
        ("chat", http.post("/chat", json=chat, headers={"Origin": EVIL}), EVIL),
        (
            "completions",
            http.post("/v1/chat/completions", json=completion, headers={"Origin": EVIL}),
            EVIL,
        ),
    ]
    for name, response, named in cases:
        assert response.status_code == 403, (name, response.text)
        assert response.headers["content-type"] == "application/json", name
        assert named in response.json()["detail"], (name, response.json())
    assert article_ids(open_server) == before
    assert http.get(f"/conversations/{conversation_id}", headers=token).status_code == 200


def test_json_writes_need_the_json_content_type(open_server: Server) -> None:
    """A body a cross-site page can send without a preflight is never read as JSON."""
    http = httpx.Client(base_url=open_server.url, timeout=120)
    before = article_ids(open_server)
    body = json.dumps(article(72)).encode()
    chat = json.dumps({"message": "What happened in Acapulco?"}).encode()
    cases = [
        http.post("/articles", content=body, headers={"Content-Type": "text/plain"}),
        http.post("/articles?prune=true", content=body),  # no Content-Type at all
        http.post(
            "/articles",
            content=b"articles=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        http.post("/chat", content=chat, headers={"Content-Type": "text/plain;charset=UTF-8"}),
        http.post("/v1/chat/completions", content=chat),
    ]
    for response in cases:
        assert response.status_code == 415, response.text
        assert "application/json" in response.json()["detail"], response.text
    assert article_ids(open_server) == before


def test_own_pages_and_plain_clients_still_write(open_server: Server) -> None:
    """The server's own origin (as the Host header names it), and clients that are not a
    browser (no Origin, no Sec-Fetch-Site: curl, the CLI, the openai client) keep working."""
    http = httpx.Client(base_url=open_server.url, timeout=120)
    before = article_ids(open_server)
    own = {"Origin": open_server.url, "Sec-Fetch-Site": "same-origin"}
    port = port_of(open_server)
    by_name = {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"}
    written = [
        http.post("/articles", json=article(73), headers=own),
        http.post("/articles", json=article(74), headers={"Origin": open_server.url}),
        http.post("/articles", json=article(75), headers=by_name),
        http.post("/articles", json=article(76)),  # curl and the CLI
        http.post(
            "/articles",
            files={"file": ("a77.txt", b"date 2023-10-27 Upload\nThe Orrin dam reopened.\n")},
            headers={"X-Newsdesk-Client": "curl"},
        ),
        http.post(
            "/articles",
            files={"file": ("a78.txt", b"date 2023-10-28 Own\nThe Orrin mill closed.\n")},
            headers={"Origin": open_server.url},
        ),
    ]
    for response in written:
        assert response.status_code == 200, response.text
    ids = [i for response in written for i in response.json()["ids"]]
    assert len(ids) == 6 and set(ids) <= set(article_ids(open_server))
    chat = http.post("/chat", json={"message": "What happened in Acapulco?"}, headers=own)
    assert chat.status_code == 200, chat.text
    completion = http.post(
        "/v1/chat/completions",
        json={"model": "newsdesk", "messages": [{"role": "user", "content": "Acapulco?"}]},
        headers=own,
    )
    assert completion.status_code == 200, completion.text
    token = {"X-Conversation-Token": chat.json()["conversation_token"]}
    forgotten = http.delete(
        f"/conversations/{chat.json()['conversation_id']}", headers={**own, **token}
    )
    assert forgotten.status_code == 200, forgotten.text
    for article_id in ids:
        assert http.delete(f"/articles/{article_id}", headers=own).status_code == 200
    assert article_ids(open_server) == before


def test_an_allowed_origin_gets_cors_and_still_needs_the_key(keyed_server: Server) -> None:
    http = httpx.Client(base_url=keyed_server.url, timeout=120)
    preflight = http.options(
        "/articles",
        headers={
            "Origin": DASHBOARD,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
    )
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == DASHBOARD
    refused = http.options(
        "/articles", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in refused.headers
    from_dashboard = {"Origin": DASHBOARD, "Sec-Fetch-Site": "cross-site"}
    new = article(79, text="The Brannock observatory opened to visitors on Sunday.")
    assert http.post("/articles", json=new, headers=from_dashboard).status_code == 401
    added = http.post("/articles", json=new, headers={**from_dashboard, "X-API-Key": API_KEY})
    assert added.status_code == 200, added.text
    assert added.headers["access-control-allow-origin"] == DASHBOARD
    evil = http.delete("/articles/a79", headers={"Origin": EVIL, "X-API-Key": API_KEY})
    assert evil.status_code == 403
    gone = http.delete("/articles/a79", headers={**from_dashboard, "X-API-Key": API_KEY})
    assert gone.status_code == 200, gone.text


# One server per data directory --------------------------------------------------------------


def serve_again(server: Server, port: int) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    try:
        result = subprocess.run(
            newsdesk_command("serve", "--port", str(port), "--data-dir", str(server.data_dir)),
            capture_output=True,
            text=True,
            timeout=90,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"a second server on {server.data_dir} started and kept serving: {exc}")
    return result, time.monotonic() - start


@pytest.mark.slow
def test_a_second_server_on_the_directory_refuses_to_start(demo_data: Path, tmp_path: Path) -> None:
    first = start_server(copy_data(demo_data, tmp_path / "data"), tmp_path / "first.log")
    try:
        registered = json.loads((first.data_dir / "server.json").read_text())
        # On the first one's port (the bind would fail) and on a free one (it would serve).
        for port in (port_of(first), free_port()):
            result, took = serve_again(first, port)
            assert result.returncode == 2, (port, result.stdout, result.stderr)
            message = result.stderr.strip()
            assert message.startswith("newsdesk: error: "), message
            assert "\n" not in message and "Traceback" not in result.stderr, message
            assert str(first.data_dir) in message and first.url in message, message
            assert took < 30, f"took {took:.1f} s to refuse"
            assert json.loads((first.data_dir / "server.json").read_text()) == registered
        assert registered["url"] == first.url and registered["pid"] == first.process.pid
        assert first.get("/health")[0] == 200
        assert first.get("/search?q=Moscow+meeting")[0] == 200
        path = write_jsonl(
            tmp_path / "new.jsonl",
            [article(81, text="The Quillan lighthouse was relit on Tuesday after 40 years.")],
        )
        ingest = subprocess.run(
            newsdesk_command("ingest", str(path), "--data-dir", str(first.data_dir)),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert ingest.returncode == 0, ingest.stderr
        assert f"sending to the server at {first.url}" in ingest.stderr
        status, found = first.get("/search?q=Quillan+lighthouse+relit&k=1")
        assert status == 200, found
        assert isinstance(found, dict) and found["passages"][0]["article_id"] == "a81"
    finally:
        stop_server(first)
    assert not (first.data_dir / "server.json").exists(), "the owner removes its registration"


def test_create_app_takes_the_server_lock_too(tmp_path: Path) -> None:
    """An app built by create_app (not `newsdesk serve`) will not start on a held directory."""
    settings = Settings(data_dir=tmp_path / "data")
    with (
        ServerLock(settings),
        pytest.raises(ServerBusy, match=str(settings.data_dir)),
        TestClient(create_app(settings)),
    ):
        pass
    assert not owner.registration_path(settings).exists()


def test_a_registration_is_removed_only_by_its_owner(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    path = owner.registration_path(settings)
    stale = owner.register(settings, "http://127.0.0.1:8001")
    current = owner.register(settings, "http://127.0.0.1:8002")  # same pid, new registration
    owner.unregister(settings, stale)
    assert owner.registration(settings) == {
        "url": "http://127.0.0.1:8002",
        "pid": os.getpid(),
        "token": current,
    }
    # Another process's registration, even one carrying the same token.
    path.write_text(json.dumps({"url": "http://x:1", "pid": os.getppid(), "token": current}))
    owner.unregister(settings, current)
    assert path.exists()
    own = owner.register(settings, "http://127.0.0.1:8003")
    owner.unregister(settings, own)
    assert not path.exists()


# Conversations belong to whoever started them ----------------------------------------------

SECRET_QUESTION = "What did Israel say about the Moscow meeting with Hamas?"


def start_conversation(server: Server) -> tuple[str, str]:
    reply = httpx.post(server.url + "/chat", json={"message": SECRET_QUESTION}, timeout=120)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert len(body["conversation_token"]) >= 32
    return body["conversation_id"], body["conversation_token"]


@pytest.mark.parametrize("configured", ["no key", "API key"])
def test_a_conversation_opens_only_with_its_token_or_the_key(
    open_server: Server, keyed_server: Server, configured: str
) -> None:
    server = open_server if configured == "no key" else keyed_server
    http = httpx.Client(base_url=server.url, timeout=120)
    conversation, token = start_conversation(server)
    other, other_token = start_conversation(server)
    path = f"/conversations/{conversation}"
    mine = {"X-Conversation-Token": token}
    someone_elses = {"X-Conversation-Token": other_token}
    wrong = {"X-Conversation-Token": token[:-1] + ("A" if token[-1] != "A" else "B")}
    follow_up = {"conversation_id": conversation, "message": "Who hosted it?"}

    for headers in ({}, someone_elses, wrong, {"X-API-Key": "not the key"}):
        for response in (
            http.get(path, headers=headers),
            http.post("/chat", json=follow_up, headers=headers),
            http.post("/chat", json=follow_up, headers={**headers, "Accept": "text/event-stream"}),
        ):
            assert response.status_code == 403, (headers, response.text)
            assert "token" in response.json()["detail"]
            assert SECRET_QUESTION not in response.text
        refused = http.delete(path, headers=headers)
        assert refused.status_code == (403 if configured == "no key" else 401), refused.text

    listed = http.get("/conversations")
    assert listed.status_code == 401, listed.text
    assert "API key" in listed.json()["detail"] and SECRET_QUESTION not in listed.text
    own = http.get("/conversations", headers=mine).json()["conversations"]
    assert [c["id"] for c in own] == [conversation]
    both = http.get("/conversations", headers={"X-Conversation-Token": f"{token},{other_token}"})
    assert {c["id"] for c in both.json()["conversations"]} == {conversation, other}

    assert http.get(path, headers=mine).json()["turns"][0]["text"] == SECRET_QUESTION
    extended = http.post("/chat", json=follow_up, headers=mine)
    assert extended.status_code == 200, extended.text
    assert extended.json()["conversation_token"] is None
    if configured == "API key":
        key = {"X-API-Key": API_KEY}
        assert http.get(path, headers=key).status_code == 200
        everyone = http.get("/conversations?limit=500", headers=key).json()["conversations"]
        assert {conversation, other} <= {c["id"] for c in everyone}
        # The key guards every write: a conversation's own token does not delete it here.
        assert http.delete(path, headers=mine).status_code == 401
        assert http.delete(path, headers=key).status_code == 200
    else:
        assert http.delete(path, headers=mine).status_code == 200
    assert http.get(path, headers=mine).status_code == 404
    assert http.get(f"/conversations/{other}", headers=someone_elses).status_code == 200


READ_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>Another page</title>
<script>
const params = new URLSearchParams(location.search);
const target = params.get("target");
const id = params.get("id");
async function attempt(name, url, init) {
  try {
    const response = await fetch(url, init);
    return name + ": " + response.status + " " + await response.text();
  } catch (error) {
    return name + ": " + error;
  }
}
(async () => {
  window.__results = [
    await attempt("list", target + "/conversations?limit=500"),
    await attempt("read", target + "/conversations/" + id),
    await attempt("delete", target + "/conversations/" + id, {method: "DELETE"}),
  ];
})();
</script>
"""


@pytest.fixture(scope="module")
def trusted_page_servers(
    demo_data: Path, tmp_path_factory: pytest.TempPathFactory, foreign_site: int
) -> Iterator[dict[str, Server]]:
    """Servers that grant CORS to the page's origin (a dashboard the owner trusts), one with
    a key and one without: even a page allowed to call the API reads no conversation."""
    folder = tmp_path_factory.mktemp("trusted")
    page_origin = f"http://localhost:{foreign_site}"
    servers: dict[str, Server] = {}
    try:
        for name, extra in (("no key", {}), ("API key", {"NEWSDESK_API_KEY": API_KEY})):
            data = copy_data(demo_data, folder / name.replace(" ", "-"))
            env = {**UNBUFFERED, "NEWSDESK_CORS_ORIGINS": page_origin, **extra}
            servers[name] = start_server(data, folder / f"{name.replace(' ', '-')}.log", env)
        yield servers
    finally:
        for server in servers.values():
            stop_server(server)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("configured", ["no key", "API key"])
def test_a_page_on_another_origin_reads_no_conversation(
    browser: Any,
    foreign_site: int,
    trusted_page_servers: dict[str, Server],
    configured: str,
) -> None:
    """From http://localhost:<port> (an origin the server lets call it: CORS answers) and from
    http://127.0.0.1:<port> (not listed: the browser hides the answer). Neither sees the
    conversation's question, key or no key."""
    server = trusted_page_servers[configured]
    conversation, _token = start_conversation(server)
    outcomes = {
        page_origin: run_page(
            browser, page_origin, "read.html", {"target": server.url, "id": conversation}
        )
        for page_origin in (f"http://localhost:{foreign_site}", f"http://127.0.0.1:{foreign_site}")
    }
    for results in outcomes.values():
        assert len(results) == 3, results
        assert not any(SECRET_QUESTION in r for r in results), results
    allowed = outcomes[f"http://localhost:{foreign_site}"]
    # The listed origin's requests did reach the server and were refused there.
    deleting = "403" if configured == "no key" else "401"
    assert [r.split(" ")[1] for r in allowed] == ["401", "403", deleting], allowed
    unlisted = outcomes[f"http://127.0.0.1:{foreign_site}"]
    assert all("TypeError" in r for r in unlisted), unlisted
    status, _ = server.get(f"/conversations/{conversation}?")
    assert status == 403  # still there, still closed


# Browser-facing headers and the Host check ---------------------------------------------------


def test_every_response_carries_the_browser_headers(open_server: Server) -> None:
    http = httpx.Client(base_url=open_server.url, timeout=120)
    for response in (
        http.get("/"),
        http.get("/app.js"),
        http.get("/health"),
        http.post("/ask", json={"question": ""}),
        http.get("/no-such-page"),
    ):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", response.url
        assert headers["x-frame-options"] == "DENY", response.url
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy


def test_a_foreign_host_name_is_refused(open_server: Server) -> None:
    """DNS rebinding: a page whose name now points at 127.0.0.1 reaches the server as its
    own origin, but its requests still carry its name in Host."""
    http = httpx.Client(base_url=open_server.url, timeout=120)
    port = port_of(open_server)
    for host in (f"rebound.example:{port}", "rebound.example", f"127.0.0.2:{port}"):
        for response in (
            http.get("/conversations", headers={"Host": host}),
            http.get("/articles", headers={"Host": host}),
            http.post("/ask", json={"question": "Acapulco?"}, headers={"Host": host}),
        ):
            assert response.status_code == 400, (host, response.text)
            assert "NEWSDESK_ALLOWED_HOSTS" in response.json()["detail"]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        assert http.get("/health", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_setting_names_the_hosts(demo_data: Path, tmp_path: Path) -> None:
    server = start_server(
        copy_data(demo_data, tmp_path / "data"),
        tmp_path / "server.log",
        {"NEWSDESK_ALLOWED_HOSTS": "news.internal, 127.0.0.1"},
    )
    try:
        http = httpx.Client(base_url=server.url, timeout=120)
        assert http.get("/health", headers={"Host": "news.internal:8000"}).status_code == 200
        assert http.get("/health").status_code == 200
        assert (
            http.get("/health", headers={"Host": f"localhost:{port_of(server)}"}).status_code == 400
        )
    finally:
        stop_server(server)


# Low findings ---------------------------------------------------------------------------------


def test_odd_inputs_get_a_json_4xx(open_server: Server) -> None:
    http = httpx.Client(base_url=open_server.url, timeout=120)
    before = article_ids(open_server)
    huge = "9223372036854775808"
    nested = b"[" * 100_000 + b"]" * 100_000
    javascript = article(93, url="javascript:alert(document.domain)")
    cases = [
        (http.get(f"/conversations?offset={huge}", headers={"X-API-Key": "x"}), 422, "offset"),
        (http.get(f"/articles?offset={huge}"), 422, "offset"),
        (
            http.post("/articles", content=nested, headers={"Content-Type": "application/json"}),
            400,
            "nested",
        ),
        (http.post("/articles", json=javascript), 422, "http(s)"),
        (http.post("/articles", json=article(94, url="data:text/html,<b>x</b>")), 422, "http(s)"),
        (http.post("/articles", json=article(95, id=".")), 422, "dots"),
        (http.post("/articles", json=article(96, id="..")), 422, "dots"),
    ]
    for response, status, named in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"
        assert named in response.json()["detail"], response.json()
    assert article_ids(open_server) == before


def test_percent_and_underscore_in_the_source_filter_are_literal(open_server: Server) -> None:
    """A wire story folded into one article carries its other outlets in `sources`; the
    filter matched them with LIKE, where % and _ are wildcards."""
    http = httpx.Client(base_url=open_server.url, timeout=120)
    body = "The Dunmore canal lock reopened after a winter of repairs, the trust said."
    stories = [
        article(97, text=body, source="Canal Times"),
        article(98, text=body, source="AxB News", url="https://axb.example/98"),
    ]
    added = http.post("/articles", json=stories)
    assert added.status_code == 200, added.text
    try:
        for name, expected in (("AxB News", ["a97"]), ("A_B News", []), ("%", []), ("_", [])):
            listed = http.get("/articles", params={"source": name, "limit": 500}).json()
            assert [a["id"] for a in listed["articles"]] == expected, name
    finally:
        for article_id in ("a97", "a98"):
            http.delete(f"/articles/{article_id}")


def test_an_article_over_the_upload_limit_is_a_message_not_a_traceback(
    open_server: Server, tmp_path: Path
) -> None:
    before = article_ids(open_server)
    big = article(99, text="The harbour report ran long. " * 800_000)  # 22 MB
    path = write_jsonl(tmp_path / "big.jsonl", [article(100), big])
    result = subprocess.run(
        newsdesk_command("ingest", str(path), "--data-dir", str(open_server.data_dir)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("newsdesk: error: "), message
    assert "'a99'" in message and "NEWSDESK_MAX_UPLOAD_BYTES" in message, message
    assert article_ids(open_server) == before


def test_batches_for_a_server_stay_under_its_body_limit() -> None:
    from core.articles import make_article
    from index.remote import batches

    articles = [
        make_article(title=f"T{i}", text="word " * 400, id=f"b{i}", published="2023-10-01")
        for i in range(10)
    ]
    sent = list(batches(articles, max_bytes=5_000))
    assert [len(b) for b in sent] == [2] * 5
    assert all(len(json.dumps({"articles": b})) <= 5_000 for b in sent)
    assert [r["id"] for b in sent for r in b] == [f"b{i}" for i in range(10)]
    with pytest.raises(RuntimeError, match=r"'b0' is .* more than the server's 1000-byte limit"):
        list(batches(articles, max_bytes=1_000))


@pytest.mark.browser
@pytest.mark.slow
def test_a_javascript_url_never_becomes_a_link(
    browser: Any, demo_data: Path, tmp_path: Path
) -> None:
    """An index built before urls were checked at ingest may hold one: the page still links
    only http(s) addresses."""
    import sqlite3

    from playwright.sync_api import expect
    from test_browser import ask

    data = copy_data(demo_data, tmp_path / "data")
    with sqlite3.connect(data / "catalog.sqlite3") as db:
        db.execute("UPDATE articles SET url = 'javascript:window.__pwned=1'")
    db.close()
    server = start_server(data, tmp_path / "server.log")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        turn = ask(page, "Who attended the Moscow meeting?")
        turn.get_by_test_id("citation-marker").first.click()
        expect(page.get_by_test_id("passage-panel")).to_be_visible()
        link = page.get_by_test_id("passage-link")
        expect(link).to_be_hidden()
        assert link.get_attribute("href") is None
        assert page.evaluate("() => window.__pwned") is None
    finally:
        context.close()
        stop_server(server)
