"""A real web site on loopback for the feed tests and the arrival bench: a threaded
http.server whose files the caller changes while it runs, with ETag / 304, a robots.txt,
and the ways real feeds break (404, a response too slow for the timeout, a redirect loop)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

RSS = "application/rss+xml; charset=utf-8"
HTML = "text/html; charset=utf-8"


@dataclass
class Site:
    url: str = ""
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    """path -> (body, content type); change it while the server runs."""
    log: list[tuple[str, int]] = field(default_factory=list)
    """(path, status) of every request served, in order."""
    arrived: list[str] = field(default_factory=list)
    """The path of every request, as it arrives (before a slow answer)."""
    slow: float = 5.0
    """Seconds /slow* paths wait before answering."""
    etags: bool = True
    """False: the site validates with Last-Modified only, as many feed servers do."""
    modified: dict[str, datetime] = field(default_factory=dict)
    changes: int = 0

    def put(self, path: str, body: str | bytes, content_type: str = HTML) -> str:
        self.files[path] = (body.encode() if isinstance(body, str) else body, content_type)
        # A made-up clock, a minute on per change, so two changes in one second still differ.
        self.changes += 1
        self.modified[path] = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=self.changes)
        return self.url + path

    def requests(self, path: str) -> int:
        return self.arrived.count(path)


@dataclass
class Story:
    slug: str
    title: str
    body: str
    """Paragraphs separated by blank lines."""
    published: date
    byline: str = "Ana Ruiz"
    teaser: str = ""


def page(story: Story, site: str = "The Harbour Gazette") -> str:
    paragraphs = "".join(f"<p>{escape(p)}</p>\n" for p in story.body.split("\n\n"))
    stamp = f"{story.published.isoformat()}T08:00:00+00:00"
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{escape(story.title)} | {site}</title>
<meta property="og:title" content="{escape(story.title)}">
<meta property="og:site_name" content="{site}">
<meta property="article:published_time" content="{stamp}">
<meta name="author" content="{escape(story.byline)}">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li></ul></nav>
<main><article><h1>{escape(story.title)}</h1>
<p class="byline">By {escape(story.byline)}</p>
{paragraphs}</article></main>
<footer><p>Copyright {site}. All rights reserved.</p></footer>
</body></html>"""


def rss(base: str, stories: list[Story], title: str = "Harbour Gazette: latest") -> str:
    items = []
    for story in stories:
        when = datetime(*story.published.timetuple()[:3], 8, 0, tzinfo=UTC)
        items.append(
            f"<item><title>{escape(story.title)}</title>"
            f"<link>{base}/news/{story.slug}</link><guid>{base}/news/{story.slug}</guid>"
            f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
            f"<description>{escape(story.teaser or story.title)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{base}/</link>"
        f"<description>News</description>{''.join(items)}</channel></rss>"
    )


def publish(site: Site, feed_path: str, stories: list[Story], **kwargs: str) -> str:
    """Puts each story's page and the feed listing them on the site; returns the feed URL."""
    for story in stories:
        site.put(f"/news/{story.slug}", page(story))
    return site.put(feed_path, rss(site.url, stories, **kwargs), RSS)


class _Handler(BaseHTTPRequestHandler):
    site: Site

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.site.arrived.append(path)
        try:
            self._answer(path)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first (the timeout test): its entry says so.
            self.site.log[-1] = (path, 499)

    def _answer(self, path: str) -> int:
        if path.startswith("/slow"):
            time.sleep(self.site.slow)
        if path.startswith("/loop"):
            return self._send(302, b"", HTML, {"Location": path})
        found = self.site.files.get(path)
        if found is None:
            return self._send(404, b"not found", "text/plain", {})
        body, content_type = found
        if self.site.etags:
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, b"", content_type, {"ETag": etag})
            return self._send(200, body, content_type, {"ETag": etag})
        stamp = self.site.modified[path]
        since = self.headers.get("If-Modified-Since")
        if since and parsedate_to_datetime(since) >= stamp:
            return self._send(304, b"", content_type, {})
        headers = {"Last-Modified": format_datetime(stamp, usegmt=True)}
        return self._send(200, body, content_type, headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> int:
        # Logged before the answer goes out: a client that has its answer may look at the log
        # before this thread would get to a line after the write.
        self.site.log.append((self.path.split("?")[0], status))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if status != 304:
            self.wfile.write(body)
        return status

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_site() -> Iterator[Site]:
    site = Site()
    handler = type("Handler", (_Handler,), {"site": site})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
