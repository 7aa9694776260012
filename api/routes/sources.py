"""Following feeds over HTTP: list the sources with their state, add one, stop following one.

Writes sit behind the API key (WriteAccess) and, like every write, behind the cross-site
guard (api/guard.py), which refuses a foreign page's POST or DELETE before this code runs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from api.deps import RuntimeDep, WriteAccess
from api.schemas import SourceIn
from index.sources import SourceError, SourceExists

router = APIRouter(prefix="/sources", tags=["sources"])


@router.get("")
def list_sources(runtime: RuntimeDep) -> dict[str, Any]:
    """Every source with its last poll, last success, last error and counts."""
    return {"sources": [s.as_dict() for s in runtime.sources.all()]}


@router.post("", dependencies=[WriteAccess], status_code=201)
async def add_source(body: SourceIn, runtime: RuntimeDep) -> dict[str, Any]:
    """422 for a URL that is not http(s) or a bad interval, 409 when it is followed already.
    Polled by the server's poller (NEWSDESK_POLL=1) or `newsdesk watch --sources`."""
    try:
        source = await run_in_threadpool(runtime.sources.add, body.url, body.name, body.every)
    except SourceExists as exc:
        raise HTTPException(409, str(exc)) from None
    except SourceError as exc:
        raise HTTPException(422, str(exc)) from None
    return source.as_dict()


@router.delete("/{source_id}", dependencies=[WriteAccess])
async def remove_source(source_id: int, runtime: RuntimeDep) -> dict[str, Any]:
    """Stops following; the articles it brought stay indexed (DELETE /articles/{id})."""
    if not await run_in_threadpool(runtime.sources.remove, source_id):
        raise HTTPException(404, f"no source with id {source_id}")
    return {"deleted": source_id}
