"""Route dependencies: the runtime the app was started with, the write-key check, and who may
open a conversation."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from assistant.runtime import Runtime

TOKEN_HEADER = "X-Conversation-Token"
MAX_TOKENS = 100
"""Tokens one listing may present: the chat page keeps far fewer."""


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def presented_key(x_api_key: str | None, authorization: str | None) -> str | None:
    if x_api_key is not None:
        return x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def key_matches(expected: str | None, given: str | None) -> bool:
    """True only for a configured key presented exactly; compared in constant time."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def has_key(
    runtime: RuntimeDep,
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> bool:
    return key_matches(runtime.settings.api_key, presented_key(x_api_key, authorization))


KeyDep = Annotated[bool, Depends(has_key)]


def require_write_key(runtime: RuntimeDep, keyed: KeyDep) -> None:
    """Writes need NEWSDESK_API_KEY when one is set (X-API-Key or Bearer); reads stay open."""
    if runtime.settings.api_key and not keyed:
        raise HTTPException(
            status_code=401,
            detail="this endpoint needs the API key in the X-API-Key header",
            headers={"WWW-Authenticate": "Bearer"},
        )


WriteAccess = Depends(require_write_key)


def conversation_tokens(
    x_conversation_token: Annotated[str | None, Header()] = None,
) -> list[str]:
    """The tokens a client presents: one, or several separated by commas (for a listing)."""
    if not x_conversation_token:
        return []
    tokens = [t.strip() for t in x_conversation_token.split(",") if t.strip()]
    if len(tokens) > MAX_TOKENS:
        raise HTTPException(422, f"{TOKEN_HEADER}: more than {MAX_TOKENS} tokens")
    return tokens


TokensDep = Annotated[list[str], Depends(conversation_tokens)]


def check_conversation(
    runtime: Runtime, conversation_id: str, keyed: bool, tokens: list[str]
) -> None:
    """A conversation opens to the API key or its own token, nothing else (its title and
    turns are the user's questions). Raises 403 when neither was presented; an id that is not
    stored is left to the caller's 404."""
    if keyed or not runtime.conversations.exists(conversation_id):
        return
    if any(runtime.conversations.holds(conversation_id, t) for t in tokens):
        return
    raise HTTPException(
        403,
        f"conversation {conversation_id!r} opens only with its own token (the "
        f"{TOKEN_HEADER} header; /chat returned it as conversation_token) or the API key",
    )
