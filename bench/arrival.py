"""Arrival latency: from a new entry appearing on a followed feed to its answer being citable.

A feed site runs on loopback (tests/feedsite.py: a real HTTP server), a fresh data directory
follows it, and each run publishes one new story and then polls, as the scheduled poller does
when the source is due: the figure is the time from publishing to the first answer that cites
the new story's URL (fetching the feed and the page, extraction, embedding, the answer). The
wait for the source to fall due comes on top: at most its `--every` interval (1m or more).

    python bench/arrival.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from assistant.runtime import Runtime  # noqa: E402 - after the path is set
from core.settings import Settings  # noqa: E402

from feedsite import Story, publish, serve_site  # noqa: E402

TOWNS = ["Arnvik", "Belltorp", "Corran", "Dunholm", "Eskby", "Fjellstad", "Garth", "Holme"]


def story(n: int) -> Story:
    town = TOWNS[n % len(TOWNS)]
    return Story(
        f"story-{n}",
        f"{town} opens a new footbridge",
        f"The town of {town} opened a footbridge over the river on Monday, the council said.\n\n"
        f"The bridge in {town} was designed by engineer Runa Tal{n} and cost {n + 2} million "
        "crowns, paid for by the regional transport fund.",
        date(2024, 3, 1 + n % 20),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, serve_site() as site:
        settings = Settings(data_dir=Path(folder) / "data", host_delay=0, fetch_backoff=0)
        runtime = Runtime(settings)
        poller = runtime.poller(runtime.writer.ingest)
        stories = [story(n) for n in range(3)]
        feed = publish(site, "/feed.rss", stories)
        runtime.sources.add(feed, name="Bench Gazette", every="15m")
        poller.poll_all()
        runtime.assistant.ask("warm-up question about a bridge")
        figures: list[float] = []
        for n in range(3, 3 + args.runs):
            new = story(n)
            stories.insert(0, new)
            start = time.perf_counter()
            publish(site, "/feed.rss", stories)
            poller.poll_all()
            answer = runtime.assistant.ask(f"Who designed the footbridge in {TOWNS[n % 8]}?")
            cited = any(c.url == f"{site.url}/news/{new.slug}" for c in answer.citations)
            elapsed = time.perf_counter() - start
            if not cited:
                raise SystemExit(f"run {n - 2}: the new story was not cited: {answer.answer!r}")
            figures.append(elapsed)
            print(f"run {n - 2}: {elapsed * 1000:.0f} ms from publishing to a cited answer")
        poller.fetcher.close()
        runtime.close()
    print(
        f"arrival: median {statistics.median(figures) * 1000:.0f} ms over {len(figures)} runs "
        "(plus the wait for the source to fall due, at most its interval)"
    )


if __name__ == "__main__":
    main()
