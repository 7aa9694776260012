"""The one app factory: models load once at start-up and every route shares them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from api import errors
from api.deps import TOKEN_HEADER
from api.guard import CLIENT_HEADER, CrossSiteGuard
from api.headers import BrowserSafety
from api.limits import BodyLimit, RateLimit
from api.metrics import Metrics
from api.metrics import router as metrics_router
from api.observability import RequestObserver
from api.routes import articles, chat, openai_compat, qa, sources
from assistant.runtime import Runtime
from core.settings import Settings
from index import owner
from index.owner import ServerLock

STATIC = Path(__file__).parent / "static"
WORKER_SETTINGS = "NEWSDESK_SERVE_SETTINGS"
"""The environment variable through which `newsdesk serve --workers N` hands its settings
(command-line options applied) to the worker processes uvicorn spawns."""


def create_app(
    settings: Settings,
    *,
    register: bool = True,
    runtime: Runtime | None = None,
    server_lock: ServerLock | None = None,
) -> FastAPI:
    """`runtime` lets the caller open (and check) the system before the server binds, so a
    misconfigured model is reported as one sentence, not a start-up traceback.

    `server_lock` is the data directory's server lock when the caller already holds it
    (`newsdesk serve` takes it before opening anything); otherwise the app takes it itself at
    start-up, before opening the store, and a second server on the directory fails there
    with ServerBusy instead of serving (and unregistering) beside the first."""

    given = runtime

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        held = server_lock or ServerLock(settings).acquire()
        try:
            runtime = (given or Runtime(settings)).observe(app.state.metrics).start_serving()
            app.state.runtime = runtime
            token = None
            if register:
                # Written under the write lock, so a CLI ingest sees it before it would write.
                with runtime.lock:
                    token = owner.register(settings, f"http://{settings.host}:{settings.port}")
            if settings.poll:
                runtime.start_polling()
            try:
                yield
            finally:
                runtime.stop_polling()
                if token is not None:
                    owner.unregister(settings, token)
                runtime.close()
        finally:
            if server_lock is None:
                held.release()  # ours to release; a caller's lock is the caller's

    app = FastAPI(
        title="Newsdesk",
        summary="Cited answers over your news corpus.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.metrics = Metrics()  # this app's own registry, also the runtime's recorder
    errors.install(app)
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(RateLimit, settings=settings)
    app.add_middleware(CrossSiteGuard, allowed_origins=settings.cors_origins)
    if settings.cors_origins:
        # Outside the guard: it answers the preflight its origins send before a write.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=[
                "Accept",
                "Content-Type",
                "X-API-Key",
                "Authorization",
                CLIENT_HEADER,
                TOKEN_HEADER,
            ],
        )
    # Outside all but the request observer: a request under a foreign Host name is
    # answered by nothing else.
    app.add_middleware(BrowserSafety, allowed_hosts=settings.host_names())
    app.include_router(qa.router)
    app.include_router(articles.router)
    app.include_router(sources.router)
    app.include_router(chat.router)
    app.include_router(openai_compat.router)
    app.include_router(metrics_router)
    # Added last, so outermost: request ids and timings cover every other middleware.
    app.add_middleware(RequestObserver, metrics=app.state.metrics)
    if (STATIC / "index.html").exists():
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="chat")
    return app


def worker_app() -> FastAPI:
    """The app of one worker of `newsdesk serve --workers N` (an import string for uvicorn,
    which spawns the workers). Each builds its own Runtime from the supervisor's settings;
    the supervisor holds the server lock and the registration for all of them, so a worker
    neither takes the lock (its handle here stays unacquired) nor registers."""
    settings = Settings.model_validate_json(os.environ[WORKER_SETTINGS])
    return create_app(settings, register=False, server_lock=ServerLock(settings))
