"""/v1/chat/completions and /v1/models, driven by the real `openai` client over HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from conftest import Server

MOSCOW = "Who attended the Moscow meeting?"
MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def server(demo_server: Server) -> Server:
    """The shared demo server: chat turns and completions only add conversations."""
    return demo_server


@pytest.fixture(scope="module")
def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def raw(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def extra(obj: Any) -> dict[str, Any]:
    """Fields beyond OpenAI's schema, which the client keeps in model_extra."""
    found: dict[str, Any] = obj.model_extra or {}
    return found


def test_models_lists_newsdesk(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["newsdesk"]
    assert client.models.retrieve("newsdesk").id == "newsdesk"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_completion_has_cited_content_and_citations(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="newsdesk",
        messages=[
            {"role": "system", "content": "Answer from the news."},
            {"role": "user", "content": MOSCOW},
        ],
        temperature=0.7,
        max_tokens=300,
        user="tester",
    )
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "newsdesk"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    content = choice.message.content or ""
    assert "Bogdanov" in content
    citations = extra(completion)["citations"]
    assert {int(n) for n in MARKER.findall(content)} == {c["id"] for c in citations}
    assert all("Moscow" in c["title"] for c in citations)
    assert extra(completion)["refused"] is False
    usage = completion.usage
    assert usage is not None
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_earlier_messages_resolve_a_follow_up(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model="newsdesk", messages=[{"role": "user", "content": MOSCOW}]
    )
    completion = client.chat.completions.create(
        model="newsdesk",
        messages=[
            {"role": "user", "content": MOSCOW},
            {"role": "assistant", "content": first.choices[0].message.content or ""},
            {
                "role": "user",
                "content": [{"type": "text", "text": "What did Israel say about it?"}],
            },
        ],
    )
    assert extra(completion)["question"] == "What did Israel say about the Moscow meeting?"
    citations = extra(completion)["citations"]
    obscene = [c for c in citations if "obscene" in c["passage"]]
    assert obscene
    assert f"[{obscene[0]['id']}]" in (completion.choices[0].message.content or "")


def test_stream_matches_the_completion(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(
        model="newsdesk", messages=[{"role": "user", "content": MOSCOW}]
    )
    stream = client.chat.completions.create(
        model="newsdesk",
        messages=[{"role": "user", "content": MOSCOW}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in with_choices if c.choices[0].delta.content]
    assert len(pieces) >= 3
    assert "".join(pieces) == whole.choices[0].message.content
    last = with_choices[-1]
    assert last.choices[0].finish_reason == "stop"
    assert [c.choices[0].finish_reason for c in with_choices[:-1]] == [None] * (
        len(with_choices) - 1
    )
    assert extra(last)["citations"] == extra(whole)["citations"]
    usage = chunks[-1].usage
    assert usage is not None and not chunks[-1].choices
    assert whole.usage is not None
    assert usage.completion_tokens == whole.usage.completion_tokens


def test_stream_wire_format_ends_with_done(raw: httpx.Client) -> None:
    body = {"model": "newsdesk", "stream": True, "messages": [{"role": "user", "content": MOSCOW}]}
    with raw.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    final = json.loads(lines[-2][6:])
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["citations"]


def test_malformed_requests_get_openai_style_errors(
    client: openai.OpenAI, raw: httpx.Client
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="newsdesk", messages=[{"role": "system", "content": "Be brief."}]
        )
    assert caught.value.status_code == 400
    assert caught.value.param == "messages"
    assert caught.value.type == "invalid_request_error"

    cases: list[tuple[Any, str | None]] = [
        ({"model": "newsdesk"}, "messages"),
        ({"model": "newsdesk", "messages": []}, "messages"),
        ({"model": "newsdesk", "messages": "Hi"}, "messages"),
        ({"messages": [{"role": "user", "content": "Hi"}]}, "model"),
        (
            {"model": "newsdesk", "messages": [{"role": "user", "content": 5}]},
            "messages[0].content",
        ),
        (
            {"model": "newsdesk", "messages": [{"role": "robot", "content": "Hi"}]},
            "messages[0].role",
        ),
        (
            {
                "model": "newsdesk",
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
            },
            "messages[0]",
        ),
        (
            {"model": "newsdesk", "messages": [{"role": "user", "content": "  "}]},
            "messages[0].content",
        ),
        (
            {"model": "newsdesk", "messages": [{"role": "user", "content": "w " * 5000}]},
            "messages[0].content",
        ),
        ({"model": "newsdesk", "n": 2, "messages": [{"role": "user", "content": "Hi"}]}, "n"),
        (
            {
                "model": "newsdesk",
                "stream": "often",
                "messages": [{"role": "user", "content": "Hi"}],
            },
            "stream",
        ),
    ]
    for body, param in cases:
        response = raw.post("/v1/chat/completions", json=body)
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}, error
        assert error["type"] == "invalid_request_error"
        assert error["param"] == param, (body, error)
        assert error["message"]

    broken = raw.post(
        "/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "invalid_json"
