"""POST /chat and the stored conversations, over HTTP against a real `newsdesk serve`."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from assistant.conversations import Turn, UnknownConversation, new_id, open_conversations
from core.records import Citation
from core.settings import Settings

from conftest import Server

SSE = {"Accept": "text/event-stream"}
MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_engine(request: pytest.FixtureRequest) -> str:
    """The store tests run on conversations in SQLite and in a real PostgreSQL."""
    return str(request.param)


@pytest.fixture(scope="module")
def server(demo_server: Server) -> Server:
    """The shared demo server: chat turns and completions only add conversations."""
    return demo_server


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


TOKENS: dict[str, str] = {}
"""Each conversation's token, as /chat returned it when the conversation began."""


def opens(conversation_id: str) -> dict[str, str]:
    """The header that opens a conversation this module started."""
    return {"X-Conversation-Token": TOKENS[conversation_id]}


def chat(client: httpx.Client, message: str, conversation_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if conversation_id:
        body["conversation_id"] = conversation_id
    headers = opens(conversation_id) if conversation_id else {}
    response = client.post("/chat", json=body, headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    if conversation_id is None:
        TOKENS[data["conversation_id"]] = data["conversation_token"]
    else:
        assert data["conversation_token"] is None, "the token is handed out once"
    return data


def events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(event, decoded data) pairs from a text/event-stream response, as they arrive."""
    name, data = "message", list[str]()
    for line in response.iter_lines():
        if line == "":
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", list[str]()
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def markers_resolve(answer: str, citations: list[dict[str, Any]]) -> None:
    ids = {c["id"] for c in citations}
    used = {int(n) for n in MARKER.findall(answer)}
    assert used, answer
    assert used == ids, (used, ids)


def test_three_turn_conversation_about_the_moscow_meeting(client: httpx.Client) -> None:
    first = chat(client, "Who attended the Moscow meeting?")
    conversation = first["conversation_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", conversation)
    assert first["question"] == "Who attended the Moscow meeting?"
    assert not first["refused"]
    assert "Bogdanov" in first["answer"]
    markers_resolve(first["answer"], first["citations"])

    second = chat(client, "What did Israel say about it?", conversation)
    assert second["conversation_id"] == conversation
    assert second["question"] == "What did Israel say about the Moscow meeting?"
    assert not second["refused"]
    markers_resolve(second["answer"], second["citations"])
    obscene = [c for c in second["citations"] if "obscene" in c["passage"]]
    assert obscene, second["citations"]
    assert all("Israel" in c["passage"] for c in obscene)  # the ministry's statement
    assert f"[{obscene[0]['id']}]" in second["answer"]
    assert "obscene" in second["answer"]

    third = chat(client, "Who hosted the meeting?", conversation)
    assert third["question"] == "Who hosted the Moscow meeting?"
    assert "Bogdanov" in third["answer"]

    stored = client.get(f"/conversations/{conversation}", headers=opens(conversation)).json()
    assert stored["id"] == conversation
    assert stored["title"] == "Who attended the Moscow meeting?"
    turns = stored["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant"] * 3
    assert [t["text"] for t in turns[::2]] == [
        "Who attended the Moscow meeting?",
        "What did Israel say about it?",
        "Who hosted the meeting?",
    ]
    assert turns[2]["question"] == "What did Israel say about the Moscow meeting?"
    assert turns[3]["text"] == second["answer"]
    assert turns[3]["citations"] == second["citations"]
    assert turns[1]["refused"] is False

    mine = opens(conversation)
    listed = client.get("/conversations", headers=mine).json()["conversations"]
    assert [c["id"] for c in listed] == [conversation]
    assert listed[0]["turns"] == 6

    assert client.delete(f"/conversations/{conversation}", headers=mine).status_code == 200
    gone = client.get(f"/conversations/{conversation}", headers=mine)
    assert gone.status_code == 404
    assert "no conversation" in gone.json()["detail"]
    assert client.delete(f"/conversations/{conversation}", headers=mine).status_code == 404
    assert client.get("/conversations", headers=mine).json()["conversations"] == []
    again = client.post(
        "/chat", json={"conversation_id": conversation, "message": "And then?"}, headers=mine
    )
    assert again.status_code == 404


def test_without_history_a_follow_up_is_searched_as_written(client: httpx.Client) -> None:
    reply = chat(client, "What did Israel say about it?")
    assert reply["question"] == "What did Israel say about it?"


def test_refusal_is_flagged_and_cites_nothing(client: httpx.Client) -> None:
    reply = chat(client, "What is the capital of Australia?")
    assert reply["refused"] is True
    assert reply["citations"] == []
    conversation = reply["conversation_id"]
    stored = client.get(f"/conversations/{conversation}", headers=opens(conversation)).json()
    assert stored["turns"][1]["refused"] is True


def test_stream_sends_meta_deltas_citations_done_in_order(client: httpx.Client) -> None:
    first = chat(client, "Who attended the Moscow meeting?")
    body = {"conversation_id": first["conversation_id"], "message": "What did Israel say about it?"}
    headers = {**SSE, **opens(first["conversation_id"])}
    with client.stream("POST", "/chat", json=body, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        received = list(events(response))

    names = [name for name, _ in received]
    deltas = [data["text"] for name, data in received if name == "delta"]
    assert names[0] == "meta"
    assert names[-2:] == ["citations", "done"]
    assert set(names[1:-2]) == {"delta"}
    assert len(deltas) >= 3, "the answer should arrive in several pieces"

    meta = received[0][1]
    assert meta == {
        "conversation_id": first["conversation_id"],
        "question": "What did Israel say about the Moscow meeting?",
    }
    answer = "".join(deltas)
    citations = received[-2][1]["citations"]
    markers_resolve(answer, citations)
    assert any("obscene" in c["passage"] for c in citations)
    assert received[-1][1] == {"conversation_id": first["conversation_id"], "refused": False}

    stored = client.get(
        f"/conversations/{first['conversation_id']}", headers=opens(first["conversation_id"])
    ).json()["turns"]
    assert stored[-1]["text"] == answer
    assert stored[-2]["question"] == meta["question"]


def test_bad_input_is_rejected_before_any_stream_opens(client: httpx.Client) -> None:
    unknown = new_id()
    for headers in ({}, SSE):
        response = client.post(
            "/chat", json={"conversation_id": unknown, "message": "Hello?"}, headers=headers
        )
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/json")
        assert unknown in response.json()["detail"]
    assert (
        client.post("/chat", json={"conversation_id": "../etc", "message": "x"}).status_code == 404
    )
    assert client.get(f"/conversations/{unknown}").status_code == 404
    assert client.delete("/conversations/not-an-id").status_code == 404

    empty = client.post("/chat", json={"message": "   "})
    assert empty.status_code == 422
    assert "message" in empty.json()["detail"]

    huge = client.post("/chat", json={"message": "word " * 2048}, headers=SSE)
    assert huge.status_code == 422
    assert "message" in huge.json()["detail"]
    assert len(huge.content) < 2000, "the 10 kB message must not be echoed back"

    assert client.post("/chat", json={"question": "Hi?"}).status_code == 422
    assert client.post("/chat", json={"message": "Hi?", "extra": 1}).status_code == 422
    dates = {"published_after": "2023-11-01", "published_before": "2023-10-01"}
    assert client.post("/chat", json={"message": "Hi?", "filters": dates}).status_code == 422
    assert (
        client.post(
            "/chat", content=b"{nope", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )


def test_filters_reach_the_answer(client: httpx.Client) -> None:
    """A date range that excludes the Moscow articles turns the same question into a refusal."""
    late = {"published_after": "2023-11-15"}
    response = client.post(
        "/chat", json={"message": "Who attended the Moscow meeting?", "filters": late}
    )
    assert response.status_code == 200
    assert response.json()["refused"] is True


def test_client_disconnect_mid_stream_leaves_server_healthy(
    client: httpx.Client, server: Server
) -> None:
    for stop_after in ("meta", "delta"):
        with (
            httpx.Client(base_url=server.url, timeout=60) as other,
            other.stream(
                "POST", "/chat", json={"message": "Who attended the Moscow meeting?"}, headers=SSE
            ) as response,
        ):
            first = next(name for name, _ in events(response) if name == stop_after)
            assert first == stop_after
            # leaving both blocks closes the response and the connection mid-stream

    assert client.get("/health").status_code == 200
    reply = chat(client, "What did Israel say about the Moscow meeting?")
    assert not reply["refused"]
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "Exception in ASGI application" not in log


def test_concurrent_turns_in_one_conversation_are_all_kept(client: httpx.Client) -> None:
    conversation = chat(client, "Who attended the Moscow meeting?")["conversation_id"]
    questions = [
        "What did Israel say about it?",
        "Who hosted the meeting?",
        "What did Russia say after that?",
        "Who else was there?",
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda q: chat(client, q, conversation), questions))
    assert all(r["conversation_id"] == conversation for r in replies)
    turns = client.get(f"/conversations/{conversation}", headers=opens(conversation)).json()[
        "turns"
    ]
    assert len(turns) == 2 + 2 * len(questions)
    assert [t["role"] for t in turns] == ["user", "assistant"] * (1 + len(questions))
    asked = {t["text"] for t in turns[2::2]}
    assert asked == set(questions)
    # Each answer sits right after its own question.
    by_question = {r["question"]: r["answer"] for r in replies}
    for user, assistant in zip(turns[2::2], turns[3::2], strict=True):
        assert by_question[user["question"]] == assistant["text"]


# --- the store itself, in process (real SQLite, real PostgreSQL) ---------------------------


def test_store_survives_reopening_and_keeps_citations(settings: Settings) -> None:
    citation = Citation(1, "a1", "Title", "2023-10-27", "Wire", "https://x/1", "Passage.", 0, 8)
    store = open_conversations(settings)
    first, second = new_id(), new_id()
    store.append(
        first,
        [Turn("user", "Q1?", question="Q1?"), Turn("assistant", "A [1].", citations=[citation])],
        create=True,
    )
    store.append(second, [Turn("user", "Other?")], create=True)
    store.append(
        first, [Turn("user", "Q2?", question="Q2 full?"), Turn("assistant", "No.", refused=True)]
    )
    store.close()

    reopened = open_conversations(settings)
    conversation = reopened.get(first)
    assert [t.text for t in conversation.turns] == ["Q1?", "A [1].", "Q2?", "No."]
    assert conversation.turns[1].citations == [citation]
    assert conversation.turns[2].question == "Q2 full?"
    assert conversation.turns[3].refused is True
    assert [t.text for t in reopened.recent_turns(first, 2)] == ["Q2?", "No."]
    assert [c.id for c in reopened.list()] == [first, second]
    assert [c.turns for c in reopened.list()] == [4, 1]

    assert reopened.delete(first) is True
    assert reopened.delete(first) is False
    with pytest.raises(UnknownConversation):
        reopened.get(first)
    with pytest.raises(UnknownConversation):
        reopened.append(first, [Turn("user", "Back?")])
    assert [c.id for c in reopened.list()] == [second]
    reopened.close()


def test_a_stream_left_by_its_client_stops_before_the_turn_is_stored(
    client: httpx.Client,
) -> None:
    """The answer is composed as the client reads it: a client that leaves after the first
    event stops the work, so nothing is remembered for it (the reader is not run to the end)."""
    with client.stream(
        "POST", "/chat", json={"message": "Who attended the Moscow meeting?"}, headers=SSE
    ) as response:
        name, meta = next(events(response))
        assert name == "meta"
    conversation = meta["conversation_id"]
    TOKENS[conversation] = meta["conversation_token"]
    time.sleep(3)  # far longer than the whole paced answer takes
    gone = client.get(f"/conversations/{conversation}", headers=opens(conversation))
    assert gone.status_code == 404, gone.text
