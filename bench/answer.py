"""Each reader on each suite: quality, what its check dropped, and how long people wait.

    python bench/answer.py [--readers extractive local openai] [--suites demo multihop-ci ...]
                           [--limit N] [--full]

For every reader (the extractive composer; the bundled model in process; the same model behind
llama.cpp's OpenAI-compatible server, started here on loopback) and every suite (the demo
suite, and the CI subsets of ../shared's benchmarks, or the full dev suites with --full), runs
`newsdesk eval`'s own evaluation and prints one row: correctness, MultiHop's word-overlap
accuracy, faithfulness, citation precision, refusal accuracy and wrong refusals, the share of
the reader's sentences its judge dropped, p50/p95 answer latency and time to the first streamed
sentence (measured over /chat's event stream on a server of that reader for a few questions).
Take the timings on a quiet machine: nothing else running.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from processes import free_port, stop, wait_for  # noqa: E402 - bench/processes.py

from core.settings import Settings  # noqa: E402
from eval.build import build_suites  # noqa: E402
from eval.datasets import default_shared  # noqa: E402
from eval.runner import evaluate  # noqa: E402
from index.embedder import Embedder  # noqa: E402

SUITES = {
    "demo": ("eval/suites/demo.jsonl", "demo/articles"),
    "multihop-ci": ("{build}/multihop-ci.jsonl", "{build}/multihop-corpus.jsonl"),
    "realtimeqa-ci": ("{build}/realtimeqa-ci.jsonl", "{build}/realtimeqa-ci-corpus.jsonl"),
    "multihop-full": ("{build}/multihop-full.jsonl", "{build}/multihop-corpus.jsonl"),
    "realtimeqa-full": ("{build}/realtimeqa-full.jsonl", "{build}/realtimeqa-full-corpus.jsonl"),
}
STREAM_QUESTIONS = 5


@contextmanager
def model_server(gguf: Path, threads: int) -> Iterator[str]:
    """llama.cpp's own OpenAI-compatible server on loopback, serving the bundled model."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--n_threads",
            str(threads),
            "--model_alias",
            "qwen",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/v1/models", process)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(process)


def reader_env(reader: str, settings: Settings, base_url: str | None) -> dict[str, str]:
    env = {"NEWSDESK_ANSWERER": reader, "NEWSDESK_LLM_THREADS": str(settings.llm_threads)}
    if base_url:
        env |= {"NEWSDESK_OPENAI_BASE_URL": base_url, "NEWSDESK_OPENAI_MODEL": "qwen"}
    return env


def first_sentence_seconds(corpus: Path, questions: list[str], env: dict[str, str]) -> list[float]:
    """Seconds from sending a /chat message to the first `delta` event, on a real server."""
    newsdesk = [sys.executable, "-m", "newsdesk.cli"]
    full_env = {**os.environ, **env}
    waits: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        data = str(Path(folder) / "data")
        subprocess.run(
            [*newsdesk, "ingest", str(corpus), "--data-dir", data],
            check=True,
            env=full_env,
            capture_output=True,
        )
        port = free_port()
        server = subprocess.Popen(
            [*newsdesk, "serve", "--port", str(port), "--data-dir", data],
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/health", server)
            for question in questions:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/chat",
                    data=json.dumps({"message": question}).encode(),
                    headers={"content-type": "application/json", "accept": "text/event-stream"},
                )
                start = time.perf_counter()
                with urllib.request.urlopen(request, timeout=300) as response:
                    for raw in response:
                        if raw.startswith(b"event: delta") or raw.startswith(b"event: done"):
                            waits.append(time.perf_counter() - start)
                            break
        finally:
            stop(server)
    return waits


def sentence_count(text: str) -> int:
    return len([s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()])


def fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "n/m"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", nargs="+", default=["extractive", "local", "openai"])
    parser.add_argument("--suites", nargs="+", default=["demo", "multihop-ci", "realtimeqa-ci"])
    parser.add_argument("--full", action="store_true", help="also build the full dev suites")
    parser.add_argument("--limit", type=int, default=None, help="first N questions per suite")
    parser.add_argument("--shared", type=Path, default=default_shared())
    parser.add_argument("--build", type=Path, default=REPO / "build" / "eval")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    args = parser.parse_args()

    if any(s != "demo" for s in args.suites):
        build_suites(args.shared, args.build, full=args.full)
    embedder = Embedder.from_settings(Settings())
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f}")
    print(
        "| reader | suite | n | correctness | anchor acc. | faithfulness | cit. precision "
        "| refusal acc. | wrong refusals | dropped | p50 s | p95 s | first sentence s |"
    )
    print("|" + "---|" * 13)
    for reader in args.readers:
        settings = Settings(answerer=reader, llm_threads=args.threads)
        served = _served(settings, args.threads) if reader == "openai" else nullcontext(None)
        with served as base:
            if base:
                settings = settings.model_copy(
                    update={"openai_base_url": base, "openai_model": "qwen"}
                )
            for suite in args.suites:
                # The build folder is absolute: joining it to REPO leaves it as it is.
                suite_file, corpus = (
                    REPO / part.format(build=args.build) for part in SUITES[suite]
                )
                if args.limit:
                    lines = suite_file.read_text().splitlines()[: args.limit]
                    limited = Path(tempfile.mkstemp(suffix=".jsonl")[1])
                    limited.write_text("\n".join(lines) + "\n")
                    suite_file = limited
                run = evaluate(suite_file, settings, corpus=[corpus], embedder=embedder)
                agg = run.aggregate
                written = sum(sentence_count(r.answer) for r in run.results)
                dropped = sum(len(r.dropped) for r in run.results)
                share = dropped / (written + dropped) if written + dropped else None
                questions = [r.case.question for r in run.results[:STREAM_QUESTIONS]]
                waits = first_sentence_seconds(
                    corpus, questions, reader_env(reader, settings, base)
                )
                latencies = [r.latency_ms / 1000 for r in run.results if r.latency_ms is not None]
                print(
                    f"| {reader} | {suite} | {len(run.results)} | {fmt(agg.get('correctness'))} "
                    f"| {fmt(agg.get('anchor_accuracy'))} | {fmt(agg.get('faithfulness'))} "
                    f"| {fmt(agg.get('citation_precision'))} | {fmt(agg.get('refusal_accuracy'))} "
                    f"| {fmt(agg.get('wrong_refusal_rate'))} | {fmt(share)} "
                    f"| {fmt(statistics.median(latencies), 2)} "
                    f"| {fmt(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 2)} "
                    f"| {fmt(statistics.median(waits), 2) if waits else 'n/m'} |",
                    flush=True,
                )
    return 0


@contextmanager
def _served(settings: Settings, threads: int) -> Iterator[str]:
    from assistant.llm.weights import local_model_file

    with model_server(local_model_file(settings), threads) as base:
        yield base


if __name__ == "__main__":
    raise SystemExit(main())
