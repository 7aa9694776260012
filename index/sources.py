"""The feeds Newsdesk follows, and what it remembers about each: kept in the catalog's
database (the SQLite file, or PostgreSQL), so the CLI, the server's poller and the API all see
one list, and a data directory carries its sources with it.

Standard library only: `newsdesk sources list` opens this without loading the model stack.
Every row says honestly how its source is doing (last poll, last success, last error, counts),
because a feed that broke weeks ago must not look like a quiet one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from core.settings import Settings
from index.database import Database, Row, open_database

MIN_EVERY = 60
"""Seconds: more often than once a minute is not polite to anyone's server."""
MAX_EVERY = 7 * 24 * 3600
MAX_BACKOFF = 24 * 3600
"""A feed failing again and again is retried at most a day apart."""
DEFAULT_EVERY = "15m"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SourceError(ValueError):
    """Bad input about a source (not a URL, a bad interval, unknown or duplicate source); the
    message names the problem."""


class SourceExists(SourceError):
    """The URL is followed already."""


def parse_every(text: str) -> int:
    """'15m' -> 900. Units s, m, h, d; between a minute and a week."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text or "")
    if not match:
        raise SourceError(
            f"interval {text!r} is not a duration; write a number and a unit, e.g. 15m, 2h, 1d"
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not MIN_EVERY <= seconds <= MAX_EVERY:
        raise SourceError(f"interval {text!r} must be between 1m and 7d")
    return seconds


def format_every(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def check_url(text: str) -> str:
    """An absolute http(s) URL, stripped; SourceError otherwise."""
    url = (text or "").strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise SourceError(f"{url!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(f"{url!r} is not a feed URL; expected http://… or https://…")
    if any(c.isspace() for c in url):
        raise SourceError(f"{url!r} is not a URL (it contains spaces)")
    return url


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Source:
    id: int
    url: str
    name: str
    every: int
    created_at: str
    etag: str | None
    last_modified: str | None
    feed_title: str
    last_poll: str | None
    last_success: str | None
    last_error: str | None
    failures: int
    next_poll: float
    added: int
    updated: int
    skipped: int

    @property
    def outlet(self) -> str:
        """Who articles from this feed are credited to: the name given, else the feed's own."""
        return self.name or self.feed_title

    def as_dict(self) -> dict[str, Any]:
        """What `sources list --json` and GET /sources show (the HTTP validators left out)."""
        data = asdict(self)
        for key in ("etag", "last_modified", "next_poll"):
            data.pop(key)
        data["every"] = format_every(self.every)
        data["outlet"] = self.outlet
        data["next_poll"] = (
            datetime.fromtimestamp(self.next_poll, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if self.next_poll
            else None
        )
        return data


@dataclass(frozen=True)
class SeenEntry:
    key: str
    link: str
    signature: str
    article_id: str | None


class SourceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, settings: Settings) -> SourceStore:
        return cls(open_database(settings))

    def close(self) -> None:
        self.db.close()

    # --- the list -----------------------------------------------------------------------
    def add(self, url: str, name: str = "", every: str = DEFAULT_EVERY) -> Source:
        """SourceError on a bad URL or interval; SourceExists when it is followed already."""
        url = check_url(url)
        seconds = parse_every(every)
        try:
            with self.db.transaction():
                [row] = self.db.rows(
                    "INSERT INTO sources (url, name, every) VALUES (?, ?, ?) RETURNING id",
                    (url, (name or "").strip(), seconds),
                )
        except self.db.integrity_errors:
            raise SourceExists(f"{url} is followed already") from None
        source = self.get(int(row["id"]))
        assert source is not None
        return source

    def all(self) -> list[Source]:
        return [_source(row) for row in self.db.rows("SELECT * FROM sources ORDER BY id")]

    def get(self, source_id: int) -> Source | None:
        row = self.db.one("SELECT * FROM sources WHERE id = ?", (source_id,))
        return _source(row) if row else None

    def find(self, id_or_url: str) -> Source | None:
        """By id (digits) or by URL as it was added."""
        text = id_or_url.strip()
        if text.isdigit():
            return self.get(int(text))
        row = self.db.one("SELECT * FROM sources WHERE url = ?", (text,))
        return _source(row) if row else None

    def remove(self, source_id: int) -> bool:
        """The source and what it remembered of its entries; articles it brought stay indexed
        (remove them with `newsdesk delete`), since a reader may still want to cite them."""
        with self.db.transaction():
            self.db.run("DELETE FROM source_entries WHERE source_id = ?", (source_id,))
            gone = self.db.run("DELETE FROM sources WHERE id = ?", (source_id,))
        return bool(gone)

    def due(self, now: float | None = None) -> list[Source]:
        now = time.time() if now is None else now
        rows = self.db.rows("SELECT * FROM sources WHERE next_poll <= ? ORDER BY id", (now,))
        return [_source(row) for row in rows]

    # --- poll results -------------------------------------------------------------------
    def seen(self, source_id: int) -> dict[str, SeenEntry]:
        rows = self.db.rows(
            "SELECT key, link, signature, article_id FROM source_entries WHERE source_id = ?",
            (source_id,),
        )
        return {
            row["key"]: SeenEntry(row["key"], row["link"], row["signature"], row["article_id"])
            for row in rows
        }

    def succeeded(
        self,
        source: Source,
        *,
        etag: str | None,
        last_modified: str | None,
        feed_title: str | None,
        entries: Iterable[tuple[str, str, str, str | None, str, bool]],
        added: int,
        updated: int,
        skipped: int,
    ) -> None:
        """One transaction, written only after the articles are indexed: a poll killed before
        it leaves the entries unseen and the validators unchanged, so the next poll does the
        work again (and the writer finds what was already indexed unchanged).

        `entries`: (key, link, signature, article_id, byline, from_page) of each entry handled.
        """
        stamp = now_iso()
        with self.db.transaction():
            changed = self.db.run(
                """UPDATE sources SET etag = ?, last_modified = ?,
                     feed_title = coalesce(?, feed_title), last_poll = ?, last_success = ?,
                     last_error = NULL, failures = 0, next_poll = ?,
                     added = added + ?, updated = updated + ?, skipped = skipped + ?
                   WHERE id = ?""",
                (
                    etag,
                    last_modified,
                    feed_title,
                    stamp,
                    stamp,
                    time.time() + source.every,
                    added,
                    updated,
                    skipped,
                    source.id,
                ),
            )
            if not changed:
                return  # removed while it was being polled
            self.db.many(
                """INSERT INTO source_entries
                       (source_id, key, link, signature, article_id, byline, from_page)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(source_id, key) DO UPDATE SET link=excluded.link,
                     signature=excluded.signature, article_id=excluded.article_id,
                     byline=excluded.byline, from_page=excluded.from_page,
                     seen_at=excluded.seen_at""",
                [(source.id, k, ln, sig, aid, by, int(fp)) for k, ln, sig, aid, by, fp in entries],
            )

    def failed(self, source: Source, error: str) -> None:
        """Recorded, and retried later: after the usual interval, doubled for each failure in
        a row (at most a day), so a dead feed is not hammered."""
        failures = source.failures + 1
        delay = min(source.every * 2 ** (failures - 1), max(MAX_BACKOFF, source.every))
        with self.db.transaction():
            self.db.run(
                """UPDATE sources SET last_poll = ?, last_error = ?, failures = ?, next_poll = ?
                   WHERE id = ?""",
                (now_iso(), error[:1000], failures, time.time() + delay, source.id),
            )


def _source(row: Row) -> Source:
    return Source(**{key: row[key] for key in row.keys()})  # noqa: SIM118 - sqlite3.Row
