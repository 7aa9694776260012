"""The HTTP API through a real uvicorn server: answers, search, health, docs, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import Server, copy_data, start_server, stop_server
from tests_support import ANSWER_FIELDS, article

ATTENDEES = ["Bassem Naeem", "Mousa Abu Marzouk", "Ali Bagheri Kani", "Mikhail Bogdanov"]
UPLOAD = {"X-Newsdesk-Client": "tests"}
"""What a file upload carries and a cross-site form cannot (api/guard.py)."""


@pytest.fixture(scope="module")
def client(demo_server: Server) -> httpx.Client:
    return httpx.Client(base_url=demo_server.url, timeout=60)


def test_ask_names_all_attendees_with_citations(client: httpx.Client) -> None:
    response = client.post("/ask", json={"question": "Who attended the Moscow meeting?"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ANSWER_FIELDS
    assert (body["reader"], body["kind"], body["support"], body["dropped"], body["threshold"]) == (
        "extractive",
        "list",
        None,
        [],
        None,
    )
    assert body["refused"] is False
    by_id = {c["id"]: c for c in body["citations"]}
    for name in ATTENDEES:
        sentence = next(s for s in body["answer"].split(". ") if name in s)
        markers = [int(m) for m in __import__("re").findall(r"\[(\d+)\]", sentence)]
        assert any(name in by_id[m]["passage"] for m in markers), sentence
    for c in body["citations"]:
        assert set(c) >= {
            "id",
            "article_id",
            "title",
            "published",
            "source",
            "url",
            "passage",
            "start",
            "end",
        }


def test_israel_question_and_refusal(client: httpx.Client) -> None:
    israel = client.post(
        "/ask", json={"question": "What did Israel's foreign ministry call the meeting?"}
    ).json()
    assert not israel["refused"] and "obscene" in israel["answer"]
    assert any("obscene" in c["passage"] for c in israel["citations"])
    refused = client.post("/ask", json={"question": "What is the capital of Australia?"}).json()
    assert refused["refused"] is True and refused["citations"] == []


def test_filters_and_top_k(client: httpx.Client) -> None:
    body = client.post(
        "/ask",
        json={
            "question": "Who attended the Moscow meeting?",
            "top_k": 2,
            "filters": {"published_after": "2023-10-27", "published_before": "2023-10-27"},
        },
    ).json()
    assert body["citations"] and all(c["published"] == "2023-10-27" for c in body["citations"])
    assert len(body["citations"]) <= 2


def test_search_and_health_and_docs(client: httpx.Client) -> None:
    search = client.get("/search", params={"q": "Acapulco hurricane", "k": 3}).json()
    assert len(search["passages"]) == 3
    assert "Acapulco" in search["passages"][0]["text"]
    scores = [p["score"] for p in search["passages"]]
    assert scores == sorted(scores, reverse=True)
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["articles"] >= 14 and health["passages"] > 14
    assert "minilm" in health["embedding_model"]
    assert client.get("/docs").status_code == 200
    assert "/ask" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize(
    ("payload", "status", "mentions"),
    [
        ({"question": ""}, 422, "question"),
        ({"question": "   "}, 422, "question"),
        ({"question": "x" * 10_000}, 422, "question"),
        ({}, 422, "question"),
        ({"question": "hi", "filters": {"author": "x"}}, 422, "filters.author"),
        ({"question": "hi", "filters": {"published_after": "someday"}}, 422, "published_after"),
        (
            {
                "question": "hi",
                "filters": {"published_after": "2023-11-01", "published_before": "2023-10-01"},
            },
            422,
            "later",
        ),
        (
            {
                "question": "hi",
                "filters": {"published_after": "2023-11-01", "as_of": "2023-10-01"},
            },
            422,
            "as_of must not be earlier than published_after",
        ),
        ({"question": "hi", "filters": {"as_of": "someday"}}, 422, "filters.as_of"),
        ({"question": "hi", "top_k": 0}, 422, "top_k"),
        ({"question": "hi", "bogus": 1}, 422, "bogus"),
    ],
)
def test_bad_ask_input_is_a_json_error_naming_the_problem(
    client: httpx.Client, payload: dict[str, object], status: int, mentions: str
) -> None:
    response = client.post("/ask", json=payload)
    assert response.status_code == status
    assert mentions in response.json()["detail"]


def test_malformed_json_and_bad_search(client: httpx.Client) -> None:
    response = client.post(
        "/ask", content=b'{"question": ', headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert "JSON" in response.json()["detail"]
    assert client.get("/search", params={"q": ""}).status_code == 422
    assert client.get("/search", params={"q": "x", "k": 0}).status_code == 422
    assert client.get("/search", params={"q": "x", "published_after": "nope"}).status_code == 422
    reversed_as_of = client.get(
        "/search", params={"q": "x", "published_after": "2023-11-01", "as_of": "2023-10-01"}
    )
    assert reversed_as_of.status_code == 422
    assert "as_of must not be earlier than published_after" in reversed_as_of.json()["detail"]


def test_articles_api_adds_lists_deletes_with_api_key(demo_data: Path, tmp_path: Path) -> None:
    server = start_server(
        copy_data(demo_data, tmp_path / "data"),
        tmp_path / "log.txt",
        env={"NEWSDESK_API_KEY": "s3cret"},
    )
    try:
        http = httpx.Client(base_url=server.url, timeout=120)
        new = article(
            7,
            text="The harbour authority of Port Elling opened a floating "
            "solar farm of 4,000 panels on Monday.",
        )
        assert http.post("/articles", json=new).status_code == 401
        assert http.post("/articles", json=new, headers={"x-api-key": "nope"}).status_code == 401
        before = http.get("/health").json()
        added = http.post("/articles", json=new, headers={"x-api-key": "s3cret"})
        assert added.status_code == 200, added.text
        assert added.json()["ids"] == ["a7"] and added.json()["added"] == 1
        answer = http.post("/ask", json={"question": "What did Port Elling open?"}).json()
        assert not answer["refused"] and "solar" in answer["answer"]
        listed = http.get("/articles", params={"source": "Test Wire"}).json()
        assert [a["id"] for a in listed["articles"]] == ["a7"]
        page = http.get("/articles", params={"limit": 5, "offset": 5}).json()
        assert page["total"] == before["articles"] + 1 and len(page["articles"]) == 5
        assert http.delete("/articles/a7").status_code == 401
        assert http.delete("/articles/a7", headers={"x-api-key": "s3cret"}).status_code == 200
        assert http.delete("/articles/a7", headers={"x-api-key": "s3cret"}).status_code == 404
        assert http.get("/health").json()["articles"] == before["articles"]
        gone = http.post("/ask", json={"question": "What did Port Elling open?"}).json()
        assert gone["refused"]
        # Reads stay open without the key.
        assert http.get("/articles").status_code == 200
    finally:
        stop_server(server)


def test_bad_article_input_changes_nothing(demo_data: Path, tmp_path: Path) -> None:
    server = start_server(copy_data(demo_data, tmp_path / "data"), tmp_path / "log.txt")
    try:
        http = httpx.Client(base_url=server.url, timeout=120)
        before = http.get("/health").json()
        good = article(1)
        cases = [
            (
                http.post(
                    "/articles", content=b"{nope", headers={"content-type": "application/json"}
                ),
                400,
            ),
            (
                http.post("/articles", json={"articles": [good, {**good, "id": "b", "text": ""}]}),
                422,
            ),
            (http.post("/articles", json={**good, "published": "2999-01-01"}), 422),
            (http.post("/articles", json={**good, "published": "last Tuesday"}), 422),
            (
                http.post(
                    "/articles", files={"file": ("x.txt", b"\x00\x01\x02binary")}, headers=UPLOAD
                ),
                422,
            ),
            (http.post("/articles", files={"file": ("x.exe", b"MZ")}, headers=UPLOAD), 415),
            (
                http.post(
                    "/articles",
                    content=b"x" * (50 * 1024 * 1024),
                    headers={"content-type": "application/json"},
                ),
                413,
            ),
        ]
        for response, status in cases:
            assert response.status_code == status, response.text
            assert response.json()["detail"]
        assert http.get("/health").json() == before
        upload = http.post(
            "/articles",
            headers=UPLOAD,
            files={
                "file": (
                    "story.txt",
                    b"date 2023-10-29 Ferry news\nThe Zanzibar ferry "
                    b"company added three boats on Sunday.\n",
                )
            },
        )
        assert upload.status_code == 200 and upload.json()["added"] == 1
        assert json.dumps(upload.json())
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server over an empty index, for tests that need a corpus of their own."""
    folder = tmp_path_factory.mktemp("empty")
    server = start_server(folder / "data", folder / "server.log")
    yield server
    stop_server(server)


BRIDGE = [
    article(
        41,
        text="Crews in Telvik began repairing the Marrow Bridge on Thursday, closing two of its "
        "four lanes until the work is done.",
        title="Marrow Bridge repairs begin",
        published="2023-10-05",
        source="Telvik Post",
    ),
    article(
        42,
        text="The Marrow Bridge in Telvik reopened to all traffic on Wednesday after the "
        "repairs finished a week early.",
        title="Marrow Bridge reopens",
        published="2023-10-25",
        source="Telvik Post",
    ),
]


def test_as_of_answers_as_if_asked_that_day(empty_server: Server) -> None:
    """Between the two bridge stories, the newer one does not exist yet: it is not cited,
    and "latest" means the older one."""
    http = httpx.Client(base_url=empty_server.url, timeout=120)
    assert http.post("/articles", json=BRIDGE).status_code == 200
    question = "What is the latest on the Marrow Bridge in Telvik?"
    now = http.post("/ask", json={"question": question}).json()
    assert not now["refused"] and now["citations"][0]["article_id"] == "a42"
    as_of = {"as_of": "2023-10-15"}
    then = http.post("/ask", json={"question": question, "filters": as_of}).json()
    assert not then["refused"] and "repairing" in then["answer"]
    assert {c["article_id"] for c in then["citations"]} == {"a41"}
    # A later published_before does not widen it; the earlier of the two bounds holds.
    both = {"as_of": "2023-10-15", "published_before": "2023-10-30"}
    hits = http.get("/search", params={"q": question, **both}).json()["passages"]
    assert hits and {h["article_id"] for h in hits} == {"a41"}
    chat = http.post("/chat", json={"message": question, "filters": as_of}).json()
    assert {c["article_id"] for c in chat["citations"]} == {"a41"}
    completion = http.post(
        "/v1/chat/completions",
        json={
            "model": "newsdesk",
            "messages": [{"role": "user", "content": question}],
            "filters": as_of,
        },
    ).json()
    assert {c["article_id"] for c in completion["citations"]} == {"a41"}


def test_upload_source_fills_in_a_missing_outlet(empty_server: Server) -> None:
    http = httpx.Client(base_url=empty_server.url, timeout=120)
    seed = b"date 2023-10-12 Lantern festival\nThe Quarrow lantern festival drew 9,000 visitors.\n"
    uploaded = http.post(
        "/articles",
        params={"source": "Radar Online"},
        files={"file": ("lanterns.txt", seed)},
        headers=UPLOAD,
    )
    assert uploaded.status_code == 200, uploaded.text
    own = article(
        43, text="The Quarrow ferry timetable changes on Monday.", source="Quarrow Herald"
    )
    bare = article(44, text="The Quarrow library extended its opening hours.", source="")
    sent = http.post("/articles", params={"source": "Radar Online"}, json=[own, bare])
    assert sent.status_code == 200, sent.text
    listed = http.get("/articles", params={"limit": 500}).json()["articles"]
    by_title = {a["title"]: a["source"] for a in listed}
    assert by_title["Lantern festival"] == "Radar Online"
    assert by_title["Article 43"] == "Quarrow Herald"
    assert by_title["Article 44"] == "Radar Online"
    hits = http.get("/search", params={"q": "Quarrow lantern festival", "k": 1}).json()
    assert hits["passages"][0]["source"] == "Radar Online"
    for empty in ("", "  "):
        refused = http.post("/articles", params={"source": empty}, json=[bare])
        assert refused.status_code == 422 and "source" in refused.json()["detail"]
