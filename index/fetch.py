"""Fetching feeds and pages from other people's servers, politely.

One request at a time per host, with a pause between two requests to the same host; robots.txt
honoured (read with urllib.robotparser, fetched by the same client); a User-Agent that names
Newsdesk; a timeout on every request; retries with exponential backoff on timeouts, dropped
connections, 429 and 5xx; redirects followed up to a limit; and a size cap enforced while
streaming, so a huge or endless response is abandoned, never read whole.
"""

from __future__ import annotations

import threading
import time
import urllib.robotparser
from dataclasses import dataclass

import httpx

from core.settings import Settings

ROBOTS_TTL = 3600.0
"""Seconds a host's robots.txt is trusted before it is read again."""
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_DISALLOW_ALL = ["User-agent: *", "Disallow: /"]


class FetchError(RuntimeError):
    """The URL could not be fetched; the message says why in one line."""


class TransientFetchError(FetchError):
    """A timeout or a dropped connection: worth another try."""


class RobotsDisallowed(FetchError):
    """robots.txt asks Newsdesk not to fetch the URL."""


@dataclass(frozen=True)
class Response:
    url: str
    """Where the content came from, after redirects."""
    status: int
    content: bytes
    etag: str | None
    last_modified: str | None
    content_type: str

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def text(self) -> str:
        """The body decoded as its Content-Type says (UTF-8 when it says nothing)."""
        charset = "utf-8"
        for part in self.content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip("\"' ")
        try:
            return self.content.decode(charset, "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")


class Fetcher:
    def __init__(self, settings: Settings) -> None:
        self.timeout = settings.fetch_timeout
        self.retries = settings.fetch_retries
        self.backoff = settings.fetch_backoff
        self.delay = settings.host_delay
        self.max_bytes = settings.max_page_bytes
        self.user_agent = settings.user_agent
        self._client = httpx.Client(
            timeout=settings.fetch_timeout,
            follow_redirects=True,
            max_redirects=settings.max_redirects,
            headers={"User-Agent": settings.user_agent},
        )
        self._guard = threading.Lock()
        self._hosts: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}
        self._robots: dict[str, tuple[float, urllib.robotparser.RobotFileParser]] = {}

    def get(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Response:
        """The response (status 200 or 304); FetchError for anything else, after retries.
        RobotsDisallowed when robots.txt forbids the URL."""
        if not self.allowed(url):
            raise RobotsDisallowed(f"{url}: robots.txt does not allow Newsdesk to fetch it")
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        response = self._fetch(url, headers)
        if response.status not in (200, 304):
            raise FetchError(f"{url}: HTTP {response.status}")
        return response

    def allowed(self, url: str) -> bool:
        origin = _origin(url)
        with self._guard:
            cached = self._robots.get(origin)
        if cached is None or time.monotonic() - cached[0] > ROBOTS_TTL:
            cached = (time.monotonic(), self._read_robots(origin))
            with self._guard:
                self._robots[origin] = cached
        return cached[1].can_fetch(self.user_agent, url)

    def _read_robots(self, origin: str) -> urllib.robotparser.RobotFileParser:
        """As urllib.robotparser.read() decides: 401/403 forbid everything, other 4xx allow
        everything; a server that cannot say (5xx, no answer) is treated as forbidding, for
        now, since it may well be down."""
        parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        try:
            response = self._fetch(origin + "/robots.txt", {})
        except FetchError:
            parser.parse(_DISALLOW_ALL)
            return parser
        if response.status in (401, 403) or response.status >= 500:
            parser.parse(_DISALLOW_ALL)
        elif response.status >= 400:
            parser.parse([])
        else:
            parser.parse(response.text().splitlines())
        return parser

    def _fetch(self, url: str, headers: dict[str, str]) -> Response:
        attempt = 0
        while True:
            try:
                response = self._once(url, headers)
            except TransientFetchError:
                if attempt >= self.retries:
                    raise
            else:
                if response.status not in RETRY_STATUSES or attempt >= self.retries:
                    return response
            time.sleep(self.backoff * 2**attempt)
            attempt += 1

    def _once(self, url: str, headers: dict[str, str]) -> Response:
        host = _origin(url)
        with self._guard:
            lock = self._hosts.setdefault(host, threading.Lock())
        with lock:  # one request at a time per host
            wait = self._last.get(host, 0.0) + self.delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                return self._stream(url, headers)
            finally:
                self._last[host] = time.monotonic()

    def _stream(self, url: str, headers: dict[str, str]) -> Response:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(
                        f"{url}: {declared} bytes is more than the {self.max_bytes}-byte limit"
                    )
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise FetchError(
                            f"{url}: more than the {self.max_bytes}-byte limit; abandoned"
                        )
                return Response(
                    url=str(response.url),
                    status=response.status_code,
                    content=bytes(body),
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    content_type=response.headers.get("content-type", ""),
                )
        except httpx.TooManyRedirects:
            raise FetchError(
                f"{url}: redirects more than {self._client.max_redirects} times"
            ) from None
        except httpx.TimeoutException:
            raise TransientFetchError(f"{url}: timed out after {self.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise TransientFetchError(f"{url}: {type(exc).__name__}: {exc}") from None
        except httpx.InvalidURL as exc:
            raise FetchError(f"{url}: {exc}") from None

    def close(self) -> None:
        self._client.close()


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"
