"""Pacing an answer into streamed pieces, shared by /chat's events and OpenAI's chunks."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator

from starlette.concurrency import iterate_in_threadpool

from assistant.chat import ChatTurn

WORDS_PER_DELTA = 3
DELTA_PAUSE_SECONDS = 0.015
"""The extractive answer is composed whole; pacing its pieces lets a page show it growing (and
keeps one answer from leaving as a single TCP packet that hides the streaming path)."""

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_PIECE = re.compile(r"\S+\s*")


def pieces(text: str, words: int = WORDS_PER_DELTA) -> list[str]:
    """Word groups that concatenate back to the text; a citation marker like '[2].' is one
    word, so a marker is never split across two pieces."""
    tokens = _PIECE.findall(text)
    lead = text[: len(text) - len(text.lstrip())]
    groups = ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]
    if groups and lead:
        groups[0] = lead + groups[0]
    return groups


async def paced(steps: Iterator[str | ChatTurn]) -> AsyncIterator[str | ChatTurn]:
    """Pieces of each sentence as soon as the reader has checked it (paced), then the turn.

    The reader runs in a worker thread; a refusal, which streams no sentence, is sent whole.
    """
    said = False
    async for step in iterate_in_threadpool(steps):
        if isinstance(step, ChatTurn):
            if not said:
                for piece in pieces(step.answer):
                    yield piece
                    await asyncio.sleep(DELTA_PAUSE_SECONDS)
            yield step
            return
        for piece in pieces(f" {step}" if said else step):
            yield piece
            await asyncio.sleep(DELTA_PAUSE_SECONDS)
        said = True
    raise RuntimeError("the answer stream ended without a turn")
