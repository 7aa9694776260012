"""OpenAI's chat completions API, so existing clients and chat front-ends can talk to Newsdesk.

Stateless like the original: the client sends the whole history each time, and earlier
messages only serve the follow-up rewriter. Answers keep their [n] markers in the text and
carry the cited passages in an extra top-level `citations` field (on the last chunk when
streaming), as PrivateGPT does with its sources.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.chat_schemas import ChatCompletionRequest, ChatMessageIn
from api.deadline import answered_within
from api.deps import RuntimeDep
from api.errors import describe, storage_detail
from api.streaming import SSE_HEADERS, paced
from assistant.chat import Chat, ChatTurn, PendingTurn
from core.records import MAX_QUESTION_CHARS, Filters
from core.settings import Settings
from index.store import is_storage_fault

MODEL_ID = "newsdesk"
CREATED = 1_700_000_000
"""A fixed 'created' for the one model: it changes with no deployment."""

log = logging.getLogger("newsdesk.openai")


class OpenAIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(message, kind, param, code)

    def response(self) -> JSONResponse:
        return JSONResponse(status_code=self.status, content=self.body)


def error_body(message: str, kind: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "none", "dict", "list"})


def param_name(loc: Sequence[Any]) -> str | None:
    """('body', 'messages', 0, 'content') -> 'messages[0].content', OpenAI's spelling."""
    out = ""
    for part in loc:
        if part == "body":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" not in str(part) and str(part) not in _TYPE_TAGS:  # skip union branch tags
            out += f".{part}" if out else str(part)
    return out or None


class OpenAIRoute(APIRoute):
    """Every error on these paths takes OpenAI's shape, which its client libraries parse into
    a typed exception; the app-wide handlers would answer `{"detail": ...}` instead."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                errors = list(exc.errors())
                first = dict(errors[0]) if errors else {}
                message = "; ".join(describe(dict(e)) for e in errors) or "invalid request"
                malformed = first.get("type") == "json_invalid"
                code = "invalid_json" if malformed else None
                param = None if malformed else param_name(first.get("loc", ()))
                return OpenAIError(400, message, param, code).response()
            except OpenAIError as exc:
                return exc.response()
            except StarletteHTTPException as exc:  # fastapi's and the body limit's
                kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
                return OpenAIError(exc.status_code, str(exc.detail), kind=kind).response()
            except Exception as exc:
                if not is_storage_fault(exc):
                    raise
                return OpenAIError(503, storage_detail(exc), kind="server_error").response()

        return handle


router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute)


def model_card() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": CREATED, "owned_by": "newsdesk"}


@router.get("/models", summary="The one model (OpenAI-compatible)")
def list_models() -> dict[str, Any]:
    return {"object": "list", "data": [model_card()]}


@router.get("/models/{model_id}", summary="A model by id (OpenAI-compatible)")
def get_model(model_id: str) -> dict[str, Any]:
    if model_id != MODEL_ID:
        raise OpenAIError(404, f"The model {model_id!r} does not exist", "model", "model_not_found")
    return model_card()


def check_history(messages: Sequence[ChatMessageIn], settings: Settings) -> None:
    """Bounds the work one request can ask for: every message is read (rewritten or counted),
    so a long history costs CPU and memory for nothing the answer uses."""
    if len(messages) > settings.max_history_messages:
        raise OpenAIError(
            422,
            f"{len(messages)} messages; at most {settings.max_history_messages} are accepted "
            "(NEWSDESK_MAX_HISTORY_MESSAGES)",
            "messages",
            "too_many_messages",
        )
    total = sum(len(m.plain_text()) for m in messages)
    if total > settings.max_history_chars:
        raise OpenAIError(
            413,
            f"the messages hold {total} characters; at most {settings.max_history_chars} are "
            "accepted (NEWSDESK_MAX_HISTORY_CHARS)",
            "messages",
            "context_length_exceeded",
        )


def split_messages(
    messages: Sequence[ChatMessageIn], limit: int
) -> tuple[list[tuple[str, str]], str]:
    """(history, question): the last user message asks; what came before is context."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        raise OpenAIError(400, "messages must include a user message", "messages")
    question = messages[last_user].plain_text().strip()
    param = f"messages[{last_user}].content"
    if not question:
        raise OpenAIError(400, "the last user message is empty", param)
    if len(question) > limit:
        raise OpenAIError(400, f"the last user message is longer than {limit} characters", param)
    history: list[tuple[str, str]] = [
        (m.role, m.plain_text())
        for m in messages[:last_user]
        if m.role in ("user", "assistant") and m.plain_text().strip()
    ]
    return history, question


def words(text: str) -> int:
    """Usage is counted in words: there is no generating model whose tokens could be counted."""
    return len(text.split())


@router.post("/chat/completions", summary="Chat completion (OpenAI-compatible)")
async def chat_completions(body: ChatCompletionRequest, runtime: RuntimeDep) -> Any:
    check_history(body.messages, runtime.settings)
    history, question = split_messages(body.messages, MAX_QUESTION_CHARS)
    filters = body.filters.to_filters() if body.filters else None
    pending = await run_in_threadpool(runtime.chat.prepare_stateless, history, question)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    prompt_tokens = sum(words(m.plain_text()) for m in body.messages)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            stream_completion(
                runtime.chat,
                pending,
                filters,
                CompletionChunks(completion_id, created),
                prompt_tokens if include_usage else None,
            ),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    turn = await answered_within(runtime.settings, runtime.chat.complete, pending, filters)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": MODEL_ID,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": turn.answer, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage(prompt_tokens, turn),
        **extras(turn),
    }


def usage(prompt_tokens: int, turn: ChatTurn) -> dict[str, int]:
    completion_tokens = words(turn.answer)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def extras(turn: ChatTurn) -> dict[str, Any]:
    """Newsdesk's additions to OpenAI's object: the sources behind the [n] markers."""
    return {
        **{key: value for key, value in turn.reply.as_dict().items() if key != "answer"},
        "question": turn.question,
    }


class CompletionChunks:
    def __init__(self, completion_id: str, created: int) -> None:
        self.completion_id = completion_id
        self.created = created

    def chunk(
        self,
        delta: dict[str, Any] | None,
        finish_reason: str | None = None,
        **extra: Any,
    ) -> str:
        data: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": MODEL_ID,
            "system_fingerprint": None,
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            **extra,
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def stream_completion(
    chat: Chat,
    pending: PendingTurn,
    filters: Filters | None,
    chunker: CompletionChunks,
    prompt_tokens: int | None,
) -> AsyncIterator[str]:
    yield chunker.chunk({"role": "assistant", "content": ""})
    turn: ChatTurn | None = None
    try:
        async for item in paced(chat.stream(pending, filters)):
            if isinstance(item, ChatTurn):
                turn = item
            else:
                yield chunker.chunk({"content": item})
    except Exception:
        log.exception("chat completion failed")
        body = error_body("the answer could not be produced", "server_error", None, None)
        yield f"data: {json.dumps(body)}\n\n"
        yield "data: [DONE]\n\n"
        return
    assert turn is not None  # paced() ends with the turn or raises
    yield chunker.chunk({}, "stop", **extras(turn))
    if prompt_tokens is not None:
        yield chunker.chunk(None, usage=usage(prompt_tokens, turn))
    yield "data: [DONE]\n\n"
