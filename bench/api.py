"""Server cold start and /ask latency on the demo corpus.

    python bench/api.py [--questions N] [--data-dir DIR]

Indexes demo/articles into a temporary data directory (or serves DIR as it is), starts
`newsdesk serve` as a separate process and times it until /health answers (cold start:
imports, model load, warm-up), then asks N questions (default 20, cycling through a fixed
list) over HTTP and prints the median and p95 of the /ask round trip. The baseline printed
beside it is GET /health in the same run: the cost of the HTTP path alone. Server memory: the
peak resident set (VmHWM) of the server and every process it started, summed, read from /proc
before it is stopped (Linux), and the resident set after the questions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from processes import free_port, stop  # noqa: E402 - bench/processes.py, beside this script

from core.client import NewsdeskClient  # noqa: E402 - after the path is set
from eval.metrics import percentile  # noqa: E402

QUESTIONS = [
    "Who attended the Moscow meeting?",
    "What did Israel's foreign ministry call the meeting?",
    "What is the capital of Australia?",
    "Who won the Mexico City Grand Prix?",
    "What happened in Acapulco?",
    "Who is the new Speaker of the House?",
    "What did the European Central Bank decide?",
    "Where did the aid convoy enter Gaza?",
    "What happened at the airport in Dagestan?",
    "Why did US jets strike sites in Syria?",
]


def call(client: NewsdeskClient, path: str, body: dict[str, object] | None = None) -> float:
    """Milliseconds for one request, reply read whole."""
    start = time.perf_counter()
    client.request("GET" if body is None else "POST", path, body)
    return 1000 * (time.perf_counter() - start)


def tree(pid: int) -> list[int]:
    """The process and its descendants (Linux /proc)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in children:
            found += tree(int(child))
    return found


def memory_mb(pid: int, field: str) -> float:
    """A /proc/<pid>/status memory field (VmHWM: peak resident set; VmRSS: now) summed over
    the process tree, in MB; 0 where /proc is not there."""
    total = 0
    for member in tree(pid):
        status = Path(f"/proc/{member}/status")
        for line in status.read_text().splitlines() if status.exists() else []:
            if line.startswith(f"{field}:"):
                total += int(line.split()[1])
    return total / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="serve this index instead of the demo corpus (e.g. bench/retrieval.py's "
        "realtimeqa-index-x10 copy, for RSS at ~200k passages); the server may write to it",
    )
    args = parser.parse_args()
    newsdesk = [sys.executable, "-m", "newsdesk.cli"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as folder:
        data = str(args.data_dir or Path(folder) / "data")
        if args.data_dir is None:
            subprocess.run(
                [*newsdesk, "ingest", str(REPO / "demo" / "articles"), "--data-dir", data],
                check=True,
                env=env,
                capture_output=True,
            )
        port = free_port()
        client = NewsdeskClient(f"http://127.0.0.1:{port}")
        start = time.perf_counter()
        server = subprocess.Popen(
            [*newsdesk, "serve", "--port", str(port), "--data-dir", data],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                if client.healthy():
                    break
                time.sleep(0.05)
            cold = time.perf_counter() - start
            asks = [
                call(client, "/ask", {"question": QUESTIONS[i % len(QUESTIONS)]})
                for i in range(args.questions)
            ]
            health = [call(client, "/health") for _ in range(args.questions)]
            peak, resident = memory_mb(server.pid, "VmHWM"), memory_mb(server.pid, "VmRSS")
        finally:
            stop(server)
    print("| measure | value |")
    print("|---|---|")
    print(f"| server cold start (spawn to first /health 200) | {cold:.1f} s |")
    print(
        f"| POST /ask over {args.questions} questions | median {statistics.median(asks):.0f} ms, "
        f"p95 {percentile(asks, 95) or 0.0:.0f} ms |"
    )
    print(f"| GET /health (HTTP baseline, same run) | median {statistics.median(health):.1f} ms |")
    print(f"| server RSS, process tree | peak {peak:.0f} MB, {resident:.0f} MB after the asks |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
