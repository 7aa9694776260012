"""One deadline for the work behind an answer, whatever stage it is in.

The model has its own per-call timeout (`NEWSDESK_LLM_TIMEOUT`), but retrieval, the judge and
a model that falls back to quotes add up; a client waiting on `/ask` gets a 504 with the reason
once `NEWSDESK_ANSWER_TIMEOUT` has passed instead of waiting on a busy server without end. The
worker thread cannot be cancelled from here: it finishes in the background and its result is
discarded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from core.settings import Settings

T = TypeVar("T")


async def answered_within(settings: Settings, work: Callable[..., T], *args: object) -> T:
    seconds = settings.answer_timeout
    try:
        return await asyncio.wait_for(run_in_threadpool(work, *args), timeout=seconds)
    except TimeoutError:
        raise HTTPException(
            504,
            f"no answer within {seconds:g} s (NEWSDESK_ANSWER_TIMEOUT): the server is busy or "
            "its model is slow; try again, or raise the limit",
        ) from None
