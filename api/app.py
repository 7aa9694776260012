"""The one app factory: models load once at start-up and every route shares them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors
from api.routes import articles, chat, openai_compat, qa
from assistant.runtime import Runtime
from core.settings import Settings
from index import owner

STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings, *, register: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings).start_serving()
        app.state.runtime = runtime
        if register:
            # Written under the write lock, so a CLI ingest sees it before it would write.
            with runtime.lock:
                owner.register(settings, f"http://{settings.host}:{settings.port}")
        try:
            yield
        finally:
            if register:
                owner.unregister(settings)
            runtime.close()

    app = FastAPI(
        title="Newsdesk",
        summary="Cited answers over your news corpus.",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(qa.router)
    app.include_router(articles.router)
    app.include_router(chat.router)
    app.include_router(openai_compat.router)
    if (STATIC / "index.html").exists():
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="chat")
    return app
