"""Followed feeds: polled from a real HTTP server on loopback, pages fetched and extracted,
indexed through the writer; broken feeds recorded and retried; the CLI and the API."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from assistant.runtime import Runtime
from core.settings import Settings
from index.catalog import open_catalog
from index.embedder import Embedder
from index.migrations import ARTICLES, STEPS
from index.poller import Poller
from index.sources import SourceStore

from conftest import (
    Server,
    newsdesk_command,
    on_engine,
    run_newsdesk,
    start_server,
    stop_server,
)
from feedsite import RSS, Site, Story, page, publish, serve_site

STORIES = [
    Story(
        "ferry",
        "Gull Island ferry returns to its full timetable",
        "The passenger ferry linking the north pier to Gull Island returned to its full "
        "timetable on Tuesday, three weeks after a storm damaged the landing stage.\n\n"
        "Captain Ilse Brandt said the crew had rebuilt the gangway with oak from the old "
        "boatyard and that crossings now leave every forty minutes.",
        date(2024, 3, 10),
        byline="Marta Vensel",
        teaser="The ferry is back.",
    ),
    Story(
        "lighthouse",
        "Keeper's cottage at Skerry Point to become a museum",
        "The keeper's cottage beside the Skerry Point lighthouse will become a small maritime "
        "museum, the harbour trust decided at its March meeting.\n\n"
        "Trust chair Oskar Lindqvist said the museum would open in the autumn and show the "
        "lamp lenses that guided ships for a century.",
        date(2024, 3, 11),
        teaser="A museum for the point.",
    ),
    Story(
        "market",
        "Fish market moves to the old rope works",
        "The weekly fish market will move into the restored rope works on Quay Street from "
        "April, giving the twenty stallholders a roof over their heads for the first time.\n\n"
        "Stallholder Aino Sirola said customers had waited in the rain for long enough.",
        date(2024, 3, 12),
        teaser="A roof for the market.",
    ),
]
SEAL = Story(
    "seal",
    "Grey seal pup rescued from the marina",
    "A grey seal pup named Pebble was rescued from the marina slipway on Wednesday by "
    "volunteers of the Otter Bay rescue station.\n\n"
    "Rescuer Jonas Keel said the pup was underweight and would be released in May.",
    date(2024, 3, 13),
    teaser="Pebble the seal.",
)


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site() as served:
        yield served


def quick(tmp_path: Path, **extra: Any) -> Settings:
    """No politeness delay or backoff in tests, and a short timeout for the slow feed."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "host_delay": 0,
        "fetch_backoff": 0,
        "fetch_retries": 1,
        "fetch_timeout": 1.0,
        **extra,
    }
    return Settings(**values)


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_engine(request: pytest.FixtureRequest) -> str:
    """Sources live in the catalog's database: SQLite, or a real PostgreSQL."""
    return str(request.param)


@pytest.fixture
def feed_runtime(
    tmp_path: Path, embedder: Embedder, catalog_engine: str, request: pytest.FixtureRequest
) -> Iterator[Runtime]:
    opened = Runtime(on_engine(quick(tmp_path), catalog_engine, request), embedder)
    yield opened
    opened.close()


def poller_of(runtime: Runtime) -> Poller:
    return runtime.poller(runtime.writer.ingest)


def test_a_feed_is_followed_through_new_entries_edits_and_304s(
    feed_runtime: Runtime, site: Site
) -> None:
    feed = publish(site, "/feed.rss", STORIES)
    feed_runtime.sources.add(feed, name="The Harbour Gazette", every="15m")
    poller = poller_of(feed_runtime)
    try:
        [first] = poller.poll_all()
        assert (first.status, first.entries, first.new, first.pages) == ("ok", 3, 3, 3)
        assert (first.added, first.fallbacks, first.error) == (3, 0, None)
        catalog = feed_runtime.store.catalog
        entries = {e.url: e for e in catalog.entries().values()}
        assert set(entries) == {f"{site.url}/news/{s.slug}" for s in STORIES}
        for story in STORIES:
            entry = entries[f"{site.url}/news/{story.slug}"]
            assert (entry.source, entry.published, entry.title) == (
                "The Harbour Gazette",
                story.published,
                story.title,
            )
            article = catalog.article(entry.id)
            assert article is not None
            # The page's text, not the feed's one-line teaser; no navigation or footer.
            assert story.body.split("\n\n")[1] in article.text
            assert "All rights reserved" not in article.text
        bylines = feed_runtime.sources.db.rows("SELECT byline FROM source_entries ORDER BY link")
        assert [row["byline"] for row in bylines] == ["Marta Vensel", "Ana Ruiz", "Ana Ruiz"]

        # Nothing new: the feed answers 304, no page is fetched, nothing is embedded.
        requests_before = len(site.log)
        [second] = poller.poll_all()
        assert (second.status, second.chunks_embedded, second.added) == ("not-modified", 0, 0)
        assert site.log[requests_before:] == [("/feed.rss", 304)]

        # A new entry: only its page is fetched, and it is answerable with a citation.
        publish(site, "/feed.rss", [SEAL, *STORIES])
        requests_before = len(site.log)
        [third] = poller.poll_all()
        assert (third.new, third.added, third.unchanged, third.pages) == (1, 1, 0, 1)
        fetched = [path for path, _ in site.log[requests_before:]]
        assert fetched == ["/feed.rss", "/news/seal"]
        answer = feed_runtime.assistant.ask("What was the name of the rescued seal pup?")
        assert not answer.refused and "Pebble" in answer.answer
        assert answer.citations[0].url == f"{site.url}/news/seal"
        assert answer.citations[0].source == "The Harbour Gazette"

        # An edited page (the feed's teaser changes with it) updates the same article.
        old = entries[f"{site.url}/news/lighthouse"]
        edited = Story(
            "lighthouse",
            STORIES[1].title,
            STORIES[1].body.replace("in the autumn", "on the first of June"),
            STORIES[1].published,
            teaser="A museum for the point, opening in June.",
        )
        publish(site, "/feed.rss", [SEAL, STORIES[0], edited, STORIES[2]])
        [fourth] = poller.poll_all()
        assert (fourth.changed, fourth.updated, fourth.added) == (1, 1, 0)
        now = catalog.get(old.id)
        assert now is not None and now.hash != old.hash
        assert len(catalog.entries()) == 4
        answer = feed_runtime.assistant.ask("When will the Skerry Point museum open?")
        assert "first of June" in answer.answer
        assert answer.citations[0].article_id == old.id

        [state] = [s.as_dict() for s in feed_runtime.sources.all()]
        assert (state["added"], state["updated"], state["last_error"]) == (4, 1, None)
        assert state["last_success"] and state["last_poll"] and state["failures"] == 0
    finally:
        poller.fetcher.close()


def test_a_site_with_only_last_modified_gets_if_modified_since(
    feed_runtime: Runtime, site: Site
) -> None:
    site.etags = False
    feed = publish(site, "/feed.rss", STORIES[:1])
    feed_runtime.sources.add(feed)
    poller = poller_of(feed_runtime)
    try:
        assert poller.poll_all()[0].added == 1
        assert poller.poll_all()[0].status == "not-modified"
        publish(site, "/feed.rss", [SEAL, STORIES[0]])
        [report] = poller.poll_all()
        assert (report.status, report.new, report.added) == ("ok", 1, 1)
        assert site.requests("/feed.rss") == 3
        assert [status for path, status in site.log if path == "/feed.rss"] == [200, 304, 200]
    finally:
        poller.fetcher.close()


def test_broken_feeds_are_recorded_and_the_healthy_one_still_polls(
    feed_runtime: Runtime, site: Site
) -> None:
    site.slow = 3.0
    site.put("/notxml.rss", "<rss><channel><title>Cut off<item><title>half", RSS)
    site.put("/page.rss", "<html><body><h1>Welcome</h1><p>Our news.</p></body></html>")
    broken = {
        f"{site.url}/missing.rss": "HTTP 404",
        f"{site.url}/slow.rss": "timed out",
        f"{site.url}/notxml.rss": "not a readable RSS or Atom feed",
        f"{site.url}/page.rss": "not an RSS or Atom feed",
        f"{site.url}/loop.rss": "redirects more than 5 times",
    }
    for url in broken:
        feed_runtime.sources.add(url)
    healthy = publish(site, "/feed.rss", STORIES)
    feed_runtime.sources.add(healthy, name="The Harbour Gazette")
    poller = poller_of(feed_runtime)
    try:
        reports = {r.url: r for r in poller.poll_all()}
        for url, words in broken.items():
            assert reports[url].status == "error", url
            assert words in (reports[url].error or ""), (url, reports[url].error)
        assert (reports[healthy].status, reports[healthy].added) == ("ok", 3)
        assert site.requests("/slow.rss") == 2  # the timeout was retried once
        state = {s.url: s for s in feed_runtime.sources.all()}
        for url, words in broken.items():
            assert words in (state[url].last_error or "")
            assert state[url].failures == 1 and state[url].last_success is None
            assert state[url].next_poll > time.time() + 60  # retried later, not at once
        assert state[healthy].last_error is None
        catalog = feed_runtime.store.catalog
        assert len(catalog.entries()) == 3 and not catalog.unfinished()

        # Retried later: a feed that is fixed is read on its next poll and its error cleared.
        publish(site, "/missing.rss", [SEAL])
        again = {r.url: r for r in poller.poll_all()}
        assert (
            again[f"{site.url}/missing.rss"].status,
            again[f"{site.url}/missing.rss"].added,
        ) == (
            "ok",
            1,
        )
        fixed = feed_runtime.sources.find(f"{site.url}/missing.rss")
        assert fixed is not None and fixed.last_error is None and fixed.failures == 0
        assert feed_runtime.sources.find(f"{site.url}/slow.rss").failures == 2  # type: ignore[union-attr]
    finally:
        poller.fetcher.close()


def test_pages_that_cannot_be_used_fall_back_to_the_feed_text(
    tmp_path: Path, embedder: Embedder, site: Site
) -> None:
    runtime = Runtime(quick(tmp_path, max_page_bytes=4096), embedder)
    huge = Story("huge", "Harbour dredging plan published", "Dredging. " * 2000, date(2024, 3, 9))
    private = Story("x", "Private notes", "Secret text.", date(2024, 3, 9))
    site.put("/news/huge", page(huge))
    site.put("/private/notes", page(private))
    items = [
        ("Dredging plan", f"{site.url}/news/huge", "The harbour dredging plan was published."),
        ("Gone", f"{site.url}/news/gone", "The regatta was moved to Saturday."),
        ("Private", f"{site.url}/private/notes", "The pier cafe reopens on Friday."),
        ("Link only", f"{site.url}/news/also-gone", ""),
    ]
    body = "".join(
        f"<item><title>{t}</title><link>{u}</link><pubDate>Mon, 11 Mar 2024 08:00:00 GMT"
        f"</pubDate>{f'<description>{d}</description>' if d else ''}</item>"
        for t, u, d in items
    )
    feed = site.put(
        "/feed.rss",
        f'<rss version="2.0"><channel><title>Quay Notes</title>{body}</channel></rss>',
        RSS,
    )
    runtime.sources.add(feed)
    poller = poller_of(runtime)
    try:
        [report] = poller.poll_all()
        assert (report.status, report.added, report.fallbacks, report.skipped) == ("ok", 3, 3, 1)
        problems = " | ".join(report.problems)
        assert "4096-byte limit" in problems and "HTTP 404" in problems
        assert "robots.txt does not allow" in problems
        assert site.requests("/private/notes") == 0  # robots.txt was honoured
        texts = {
            e.url: runtime.store.catalog.article(e.id).text
            for e in runtime.store.catalog.entries().values()
        }  # type: ignore[union-attr]
        assert texts[f"{site.url}/news/huge"] == "The harbour dredging plan was published."
        assert {e.source for e in runtime.store.catalog.entries().values()} == {"Quay Notes"}
        # The feed changes: pages that failed for a passing reason are tried again.
        site.put(
            "/news/gone",
            page(
                Story(
                    "gone",
                    "Regatta moved",
                    "The regatta was moved to Saturday because of the gale warning.",
                    date(2024, 3, 11),
                )
            ),
        )
        site.put(
            "/feed.rss",
            site.files["/feed.rss"][0].replace(b"</channel>", b"<ttl>60</ttl></channel>"),
            RSS,
        )
        [again] = poller.poll_all()
        assert (again.pages, again.updated, again.unchanged, again.fallbacks) == (1, 1, 1, 1)
        assert site.requests("/private/notes") == 0
    finally:
        poller.fetcher.close()
        runtime.close()


def test_an_old_catalog_gains_the_sources_table_and_keeps_its_articles(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(ARTICLES)  # a catalog as Newsdesk wrote it before sources existed
    old.execute(
        "INSERT INTO articles (id, hash, state, title, source, url, fingerprint, text) "
        "VALUES ('a1', 'h', 'ready', 'Old story', 'Wire', '', 'f', 'Old text.')"
    )
    old.commit()
    old.close()
    settings = Settings(data_dir=tmp_path)
    store = SourceStore.open(settings)
    store.add("https://news.example/feed.xml", "News", "1h")
    catalog = open_catalog(settings)
    assert catalog.get("a1") is not None and catalog.get("a1").title == "Old story"  # type: ignore[union-attr]
    assert [s.url for s in store.all()] == ["https://news.example/feed.xml"]
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == len(STEPS)
    catalog.close()
    store.close()


run = run_newsdesk


QUICK_ENV = {"NEWSDESK_HOST_DELAY": "0", "NEWSDESK_FETCH_BACKOFF": "0"}


def test_sources_on_the_command_line(tmp_path: Path, site: Site) -> None:
    data = str(tmp_path / "data")
    bad = run("sources", "add", "not a url", "--data-dir", data)
    assert bad.returncode == 2 and "is not a" in bad.stderr
    bad = run("sources", "add", "ftp://news.example/feed", "--data-dir", data)
    assert bad.returncode == 2 and "expected http://" in bad.stderr
    bad = run("sources", "add", f"{site.url}/feed.rss", "--every", "often", "--data-dir", data)
    assert bad.returncode == 2 and "'often' is not a duration" in bad.stderr
    bad = run("sources", "add", f"{site.url}/feed.rss", "--every", "10s", "--data-dir", data)
    assert bad.returncode == 2 and "between 1m and 7d" in bad.stderr
    feed = publish(site, "/feed.rss", STORIES)
    added = run(
        "sources", "add", feed, "--name", "The Harbour Gazette", "--every", "2h", "--data-dir", data
    )
    assert added.returncode == 0, added.stderr
    again = run("sources", "add", feed, "--data-dir", data)
    assert again.returncode == 2 and "followed already" in again.stderr
    run("sources", "add", f"{site.url}/missing.rss", "--data-dir", data)
    bad = run("watch", "--once", "--data-dir", data)
    assert bad.returncode == 2 and "--sources" in bad.stderr

    polled = run("watch", "--sources", "--once", "--json", "--data-dir", data, env=QUICK_ENV)
    # A broken source makes the exit status 1 (cron notices), and the other one still works.
    assert polled.returncode == 1, polled.stderr
    reports = {r["url"]: r for r in json.loads(polled.stdout)["sources"]}
    assert (reports[feed]["status"], reports[feed]["added"]) == ("ok", 3)
    assert reports[f"{site.url}/missing.rss"]["status"] == "error"

    listed = json.loads(run("sources", "list", "--json", "--data-dir", data).stdout)["sources"]
    assert [(s["outlet"], s["every"], s["added"]) for s in listed] == [
        ("The Harbour Gazette", "2h", 3),
        ("", "15m", 0),
    ]
    assert "HTTP 404" in listed[1]["last_error"]
    text = run("sources", "list", "--data-dir", data).stdout
    assert "last error (1 in a row)" in text and "3 added" in text
    gone = run("sources", "remove", f"{site.url}/missing.rss", "--data-dir", data)
    assert gone.returncode == 0
    missing = run("sources", "remove", "99", "--data-dir", data)
    assert missing.returncode == 2 and "no source '99'" in missing.stderr
    listed = json.loads(run("sources", "list", "--json", "--data-dir", data).stdout)["sources"]
    assert [s["url"] for s in listed] == [feed]


def call(
    server: Server,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_sources_over_the_api_and_the_servers_poller(tmp_path: Path, site: Site) -> None:
    env = {
        **QUICK_ENV,
        "NEWSDESK_POLL": "1",
        "NEWSDESK_POLL_TICK": "0.2",
        "NEWSDESK_API_KEY": "sesame",
    }
    server = start_server(tmp_path / "data", tmp_path / "server.log", env)
    key = {"X-API-Key": "sesame"}
    try:
        feed = publish(site, "/feed.rss", STORIES)
        status, body = call(server, "POST", "/sources", {"url": feed})
        assert status == 401
        status, body = call(
            server, "POST", "/sources", {"url": feed}, {**key, "Origin": "https://evil.example"}
        )
        assert status == 403 and "cross-origin" in body["detail"]
        status, body = call(server, "POST", "/sources", {"url": "news.example/feed"}, key)
        assert status == 422 and "not a feed URL" in body["detail"]
        status, body = call(server, "POST", "/sources", {"url": feed, "every": "5 minutes"}, key)
        assert status == 422 and "not a duration" in body["detail"]
        status, body = call(
            server, "POST", "/sources", {"url": feed, "name": "Gazette", "every": "1h"}, key
        )
        assert status == 201, body
        source_id = body["id"]
        status, body = call(server, "POST", "/sources", {"url": feed}, key)
        assert status == 409 and "followed already" in body["detail"]

        # The server's poller picks the new source up on its own.
        deadline = time.monotonic() + 120
        while True:
            state = server.get("/sources")[1]["sources"][0]  # type: ignore[index]
            if state["last_success"] or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert (state["added"], state["outlet"], state["last_error"]) == (3, "Gazette", None)
        status, answer = call(
            server,
            "POST",
            "/ask",
            {"question": "Who rebuilt the gangway of the Gull Island ferry?"},
        )
        assert status == 200 and not answer["refused"]
        assert answer["citations"][0]["url"] == f"{site.url}/news/ferry"

        # The server polls on schedule, so a second scheduled poller is refused.
        loop = run("watch", "--sources", "--data-dir", str(server.data_dir))
        assert loop.returncode == 2 and "polls the sources" in loop.stderr

        # The CLI's poll hands its writes to the server, which answers from them at once.
        publish(site, "/feed.rss", [SEAL, *STORIES])
        polled = run(
            "watch",
            "--sources",
            "--once",
            "--data-dir",
            str(server.data_dir),
            env={**QUICK_ENV, "NEWSDESK_API_KEY": "sesame"},
        )
        assert polled.returncode == 0, polled.stderr
        assert "sending 1 article(s) to the server" in polled.stderr
        status, answer = call(
            server, "POST", "/ask", {"question": "What was the name of the rescued seal pup?"}
        )
        assert "Pebble" in answer["answer"]
        assert answer["citations"][0]["url"] == f"{site.url}/news/seal"

        assert call(server, "DELETE", "/sources/999", None, key)[0] == 404
        assert call(server, "DELETE", f"/sources/{source_id}")[0] == 401
        assert call(server, "DELETE", f"/sources/{source_id}", None, key) == (
            200,
            {"deleted": source_id},
        )
        assert server.get("/sources") == (200, {"sources": []})
    finally:
        stop_server(server)


def test_watch_sources_polls_on_schedule_until_stopped(tmp_path: Path, site: Site) -> None:
    import os
    import signal

    data = tmp_path / "data"
    store = SourceStore.open(Settings(data_dir=data))
    store.add(publish(site, "/feed.rss", STORIES), "The Harbour Gazette")
    store.close()
    log = (tmp_path / "watch.log").open("w")
    process = subprocess.Popen(
        newsdesk_command("watch", "--sources", "--data-dir", str(data)),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **QUICK_ENV, "NEWSDESK_POLL_TICK": "0.2"},
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            catalog = open_catalog(Settings(data_dir=data))
            count = catalog.counts()["articles"]
            catalog.close()
            if count == 3:
                break
            time.sleep(0.3)
        assert count == 3
        # Not due again for 15 minutes: the loop does not poll the feed a second time.
        time.sleep(1.0)
        assert site.requests("/feed.rss") == 1
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
        log.close()
    output = (tmp_path / "watch.log").read_text()
    assert process.returncode == 0, output
    assert "3 added" in output and "stopped polling" in output
