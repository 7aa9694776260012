"""Prometheus metrics of one app: requests, stage timings, index size, writes.

Each app owns its registry (not prometheus_client's global one), so several apps in one
process (the tests) count separately. The same object is the Runtime's recorder
(core.telemetry), which is how the assistant's stages and the writes reach it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from api.deps import RuntimeDep

# Seconds: a cached search is milliseconds, a local model's answer tens of seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
INGEST_OUTCOMES = ("added", "updated", "unchanged", "deleted")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self.requests = Counter(
            "newsdesk_http_requests",
            "HTTP requests by route template and status.",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "newsdesk_http_request_duration_seconds",
            "Time from request to the end of the response body, by route template and status.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stages = Histogram(
            "newsdesk_stage_duration_seconds",
            "Time per answering stage: retrieval (encode, search, fuse, rerank), rerank, "
            "reader (writing the answer, verification included) and verification (the judge).",
            ("stage",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.index_size = Gauge(
            "newsdesk_index_size",
            "Indexed passages and articles (ready ones), read at scrape time.",
            ("unit",),
            registry=self.registry,
        )
        self.ingested_articles = Counter(
            "newsdesk_ingest_articles",
            "Articles written through this server by outcome.",
            ("outcome",),
            registry=self.registry,
        )
        self.ingested_chunks = Counter(
            "newsdesk_ingest_chunks_embedded",
            "Passages embedded and stored through this server.",
            registry=self.registry,
        )
        self.reader_tokens = Counter(
            "newsdesk_reader_tokens",
            "Tokens the reader's language model read (prompt) and wrote (completion).",
            ("kind",),
            registry=self.registry,
        )
        self.process = Gauge(
            "newsdesk_process",
            "The process that served this scrape (1). Each worker of `serve --workers N` "
            "keeps its own counts; the pid tells their scrapes apart.",
            ("pid",),
            registry=self.registry,
        )
        self.process.labels(str(os.getpid())).set(1)
        for outcome in INGEST_OUTCOMES:
            self.ingested_articles.labels(outcome)  # present at 0 before the first write
        for kind in ("prompt", "completion"):
            self.reader_tokens.labels(kind)

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def stage(self, name: str, seconds: float) -> None:
        self.stages.labels(name).observe(seconds)

    def ingested(self, counts: Mapping[str, int]) -> None:
        for outcome in INGEST_OUTCOMES:
            if counts.get(outcome):
                self.ingested_articles.labels(outcome).inc(counts[outcome])
        if counts.get("chunks_embedded"):
            self.ingested_chunks.inc(counts["chunks_embedded"])

    def tokens(self, prompt: int, completion: int) -> None:
        self.reader_tokens.labels("prompt").inc(prompt)
        self.reader_tokens.labels("completion").inc(completion)

    def render(self, index_counts: Mapping[str, int]) -> bytes:
        for unit in ("articles", "passages"):
            self.index_size.labels(unit).set(index_counts.get(unit, 0))
        return generate_latest(self.registry)


router = APIRouter()


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request, runtime: RuntimeDep) -> Response:
    served: Metrics = request.app.state.metrics
    body = served.render(runtime.store.catalog.counts())
    return Response(body, media_type=CONTENT_TYPE_LATEST)
