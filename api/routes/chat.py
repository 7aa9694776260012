"""Conversations: POST /chat (JSON, or server-sent events), and the stored history.

One endpoint serves both shapes, chosen by the Accept header, so the page and scripts share
the validation and the 404 for an unknown conversation: both happen before a stream opens, and
once it is open every failure arrives as an `error` event instead of a cut connection.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.chat_schemas import ChatRequest, ChatResponse, ConversationList, ConversationOut
from api.deadline import answered_within
from api.deps import (
    TOKEN_HEADER,
    KeyDep,
    RuntimeDep,
    TokensDep,
    WriteAccess,
    check_conversation,
)
from api.streaming import SSE_HEADERS, paced
from assistant.chat import Chat, ChatTurn, PendingTurn
from assistant.conversations import UnknownConversation
from core.records import MAX_OFFSET, Filters

router = APIRouter(tags=["chat"])
log = logging.getLogger("newsdesk.chat")


def sse(event: str, data: Any) -> str:
    payload = json.dumps(data, ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n"


def wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "").lower()


@router.post(
    "/chat",
    response_model=ChatResponse,
    summary="Ask within a conversation (JSON, or SSE with Accept: text/event-stream)",
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "description": "events meta, delta (repeated), citations, done; or error"
                }
            }
        },
        403: {"description": "conversation_id without its token or the API key"},
        404: {"description": "Unknown conversation_id"},
    },
)
async def chat(
    body: ChatRequest, request: Request, runtime: RuntimeDep, keyed: KeyDep, tokens: TokensDep
) -> Any:
    filters = body.filters.to_filters() if body.filters else None
    if body.conversation_id is not None:
        await run_in_threadpool(check_conversation, runtime, body.conversation_id, keyed, tokens)
    try:
        pending = await run_in_threadpool(runtime.chat.prepare, body.conversation_id, body.message)
    except UnknownConversation as exc:
        raise HTTPException(404, str(exc)) from None
    if wants_stream(request):
        return StreamingResponse(
            stream_reply(runtime.chat, pending, filters),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    try:
        turn = await answered_within(runtime.settings, runtime.chat.complete, pending, filters)
    except UnknownConversation as exc:
        raise HTTPException(404, f"{exc} (deleted while answering)") from None
    return turn.as_dict()


async def stream_reply(
    chat: Chat, pending: PendingTurn, filters: Filters | None
) -> AsyncIterator[str]:
    token = {"conversation_token": pending.token} if pending.token else {}
    yield sse(
        "meta",
        {"conversation_id": pending.conversation_id, **token, "question": pending.question},
    )
    turn: ChatTurn | None = None
    try:
        async for item in paced(chat.stream(pending, filters)):
            if isinstance(item, ChatTurn):
                turn = item
            else:
                yield sse("delta", {"text": item})
    except UnknownConversation as exc:
        yield sse("error", {"message": f"{exc} (deleted while answering)"})
        return
    except Exception:
        log.exception("chat answer failed for conversation %s", pending.conversation_id)
        yield sse("error", {"message": "the answer could not be produced; see the server log"})
        return
    assert turn is not None  # paced() ends with the turn or raises
    yield sse(
        "citations",
        {key: value for key, value in turn.reply.as_dict().items() if key != "answer"},
    )
    yield sse("done", {"conversation_id": turn.conversation_id, "refused": turn.refused})


@router.get(
    "/conversations",
    response_model=ConversationList,
    summary="Recent conversations (all with the API key; otherwise those whose tokens are sent)",
    responses={401: {"description": "Neither the API key nor a conversation token"}},
)
async def list_conversations(
    runtime: RuntimeDep,
    keyed: KeyDep,
    tokens: TokensDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    if not keyed and not tokens:
        raise HTTPException(
            401,
            "listing every conversation needs the API key (X-API-Key); send your conversations' "
            f"tokens in {TOKEN_HEADER} (comma-separated) to list only those",
            headers={"WWW-Authenticate": "Bearer"},
        )
    found = await run_in_threadpool(
        runtime.conversations.list, limit, offset, None if keyed else tokens
    )
    return {"conversations": [c.as_dict() for c in found]}


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    summary="A conversation's turns",
    responses={
        403: {"description": "Without its token or the API key"},
        404: {"description": "Unknown conversation"},
    },
)
async def get_conversation(
    conversation_id: str, runtime: RuntimeDep, keyed: KeyDep, tokens: TokensDep
) -> dict[str, Any]:
    await run_in_threadpool(check_conversation, runtime, conversation_id, keyed, tokens)
    try:
        conversation = await run_in_threadpool(runtime.conversations.get, conversation_id)
    except UnknownConversation as exc:
        raise HTTPException(404, str(exc)) from None
    return conversation.as_dict()


@router.delete(
    "/conversations/{conversation_id}",
    summary="Forget a conversation (its token, or the API key when one is set)",
    responses={404: {"description": "Unknown conversation"}},
    dependencies=[WriteAccess],
)
async def delete_conversation(
    conversation_id: str, runtime: RuntimeDep, keyed: KeyDep, tokens: TokensDep
) -> dict[str, str]:
    await run_in_threadpool(check_conversation, runtime, conversation_id, keyed, tokens)
    if not await run_in_threadpool(runtime.conversations.delete, conversation_id):
        raise HTTPException(404, f"no conversation with id {conversation_id!r}")
    return {"deleted": conversation_id}
