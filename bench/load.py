"""Load: a fixed number of questions at a fixed concurrency against one server it starts.

    python bench/load.py [--questions 500] [--concurrency 16] [--answerer extractive]

For each row it indexes the demo corpus into a fresh data directory (with the CLI), starts
`newsdesk serve` on loopback, asks the questions (the demo eval suite's and one per demo
article, cycled) from `--concurrency` threads, each with its own keep-alive connection, and
prints throughput, p50/p95/p99 of the /ask round trip, errors (anything but 200, or no
reply) and the peak RSS of the server's process tree (uvicorn's supervisor and workers,
sampled every 0.2 s; the Chroma server's own peak is printed beside it). Rows: embedded
Chroma with one worker, and Chroma's server (a `chroma run` the bench starts) with one and
two workers. Loopback only; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from processes import free_port, stop, wait_for  # bench/processes.py, beside this script

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "demo" / "articles"
SUITE = REPO / "eval" / "suites" / "demo.jsonl"
NEWSDESK = [sys.executable, "-m", "newsdesk.cli"]
CHROMA = Path(sys.executable).with_name("chroma")
PAGE = os.sysconf("SC_PAGE_SIZE")


def questions() -> list[str]:
    """The demo suite's questions, then one per demo article (from its headline)."""
    asked = [json.loads(line)["question"] for line in SUITE.read_text().splitlines() if line]
    for path in sorted(DEMO.glob("*.txt")):
        first = path.read_text().splitlines()[0]
        headline = first.split(" ", 2)[2] if first.startswith("date ") else first
        asked.append(f"What do the articles say about this: {headline}?")
    return asked


def tree_rss(root: int) -> int:
    """Bytes resident in `root` and all its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            statm = Path(f"/proc/{entry}/statm").read_text().split()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = int(statm[1]) * PAGE
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


class PeakRss:
    """Samples the process trees' RSS every 0.2 s in a thread; `peak[pid]` is the largest."""

    def __init__(self, *roots: int) -> None:
        self.peak = dict.fromkeys(roots, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self.peak:
                self.peak[pid] = max(self.peak[pid], tree_rss(pid))
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def chroma_server(folder: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    command = str(CHROMA) if CHROMA.exists() else shutil.which("chroma")
    if command is None:
        raise SystemExit("the server rows need the `chroma` CLI (installed with chromadb)")
    port = free_port()
    process = subprocess.Popen(
        [command, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/api/v2/heartbeat", process, 60)
        yield process, port
    finally:
        stop(process)


@dataclass
class Row:
    label: str
    seconds: float
    latencies: list[float]
    errors: int
    server_rss: int
    chroma_rss: int | None

    def line(self) -> str:
        ms = sorted(1000 * s for s in self.latencies) or [0.0]

        def pct(p: float) -> float:
            return ms[min(len(ms) - 1, int(p * len(ms)))]

        total = len(self.latencies) + self.errors
        chroma = f"{self.chroma_rss / 2**20:.0f} MiB" if self.chroma_rss is not None else "-"
        return (
            f"| {self.label} | {total / self.seconds:.1f} q/s | {pct(0.50):.0f} | "
            f"{pct(0.95):.0f} | {pct(0.99):.0f} | {self.errors} | "
            f"{self.server_rss / 2**20:.0f} MiB | {chroma} |"
        )


def load(
    url: str, asked: list[str], count: int, concurrency: int
) -> tuple[float, list[float], int]:
    """(wall seconds, latencies of the 200s, errors) for `count` questions."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    local = threading.local()

    def one(i: int) -> None:
        nonlocal errors
        client: httpx.Client | None = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, timeout=300)
        start = time.perf_counter()
        try:
            ok = client.post("/ask", json={"question": asked[i % len(asked)]}).status_code == 200
        except httpx.HTTPError:
            ok = False
        took = time.perf_counter() - start
        with lock:
            if ok:
                latencies.append(took)
            else:
                errors += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - start, latencies, errors


def run_row(
    label: str,
    folder: Path,
    env: dict[str, str],
    workers: int,
    args: argparse.Namespace,
    chroma_pid: int | None,
) -> Row:
    data = folder / "data"
    subprocess.run(
        [*NEWSDESK, "ingest", str(DEMO), "--data-dir", str(data)],
        check=True,
        env=env,
        capture_output=True,
    )
    port = free_port()
    serve = ["serve", "--port", str(port), "--data-dir", str(data), "--workers", str(workers)]
    server = subprocess.Popen(
        [*NEWSDESK, *serve],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + "/health", server)
        # Every worker answers once before the clock starts (each loads its models).
        wait_for(url + "/ready", server)
        load(url, questions(), 2 * workers, workers)
        sampler = PeakRss(server.pid, *([chroma_pid] if chroma_pid else []))
        seconds, latencies, errors = load(url, questions(), args.questions, args.concurrency)
        sampler.stop()
    finally:
        stop(server)
    chroma = sampler.peak.get(chroma_pid) if chroma_pid else None
    return Row(label, seconds, latencies, errors, sampler.peak[server.pid], chroma)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--answerer", default="extractive", help="NEWSDESK_ANSWERER")
    args = parser.parse_args()
    base = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "NEWSDESK_ANSWERER": args.answerer,
        # The bench is one client at one address: the rate limit would measure itself.
        "NEWSDESK_RATE_LIMIT_PER_MINUTE": "0",
    }
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        home = folder / "home"  # Chroma's default embedder must find nothing to download
        home.mkdir()
        rows.append(run_row("embedded, 1 worker", folder / "e1", base, 1, args, None))
        with chroma_server(folder / "chroma") as (chroma, port):
            server_env = {
                **base,
                "HOME": str(home),
                "NEWSDESK_CHROMA_MODE": "http",
                "NEWSDESK_CHROMA_PORT": str(port),
            }
            for workers in (1, 2):
                env = {**server_env, "NEWSDESK_COLLECTION": f"load{workers}"}
                label = f"Chroma server, {workers} worker{'s' if workers > 1 else ''}"
                rows.append(run_row(label, folder / f"s{workers}", env, workers, args, chroma.pid))
    print(
        f"{args.questions} questions at concurrency {args.concurrency}, "
        f"answerer {args.answerer}, loopback"
    )
    print("| stores, workers | throughput | p50 ms | p95 ms | p99 ms | errors | "
          "server peak RSS | Chroma peak RSS |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row.line())
    return 0 if not any(r.errors for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
