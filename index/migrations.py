"""The catalog file: its schema, in numbered steps, so a data directory made by an older
Newsdesk opens in a newer one (each step runs once, in order, and SQLite's `user_version`
remembers how far a file has come), and the per-thread connections every user of the file
opens it with.

Kept apart from catalog.py (and free of heavy imports) because the source list lives in the
same file and the `newsdesk sources` commands must open it without loading the model stack.
Steps are only ever appended; a released step never changes.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

ARTICLES = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'deleting')),
    title TEXT NOT NULL,
    published TEXT,
    source TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]',
    url TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    text TEXT NOT NULL,
    n_chunks INTEGER NOT NULL DEFAULT 0,
    indexed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS articles_fingerprint ON articles (fingerprint);
CREATE INDEX IF NOT EXISTS articles_published ON articles (published);
CREATE TABLE IF NOT EXISTS passages (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages (article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    text, content='passages', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS passages_ai AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts(rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER IF NOT EXISTS passages_ad AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
"""

SOURCES = """
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    every INTEGER NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    etag TEXT,
    last_modified TEXT,
    feed_title TEXT NOT NULL DEFAULT '',
    last_poll TEXT,
    last_success TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    next_poll REAL NOT NULL DEFAULT 0,
    added INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS source_entries (
    source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    link TEXT NOT NULL,
    signature TEXT NOT NULL,
    article_id TEXT,
    byline TEXT NOT NULL DEFAULT '',
    from_page INTEGER NOT NULL DEFAULT 0,
    seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (source_id, key)
);
"""

META = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
"""What made the index's vectors (embedding model, backend, dimension): checked on open."""

SOURCE_INDEX = """
CREATE INDEX IF NOT EXISTS articles_source_state ON articles (source, state);
"""
"""The outlets of ready articles, read by every question's planning, from an index rather
than a scan of the articles and their texts (10 ms at 14,000 articles)."""

STEPS: tuple[str, ...] = (ARTICLES, SOURCES, META, SOURCE_INDEX)
"""Step n (from 1) brings a file to user_version n. Files made before versioning had the
articles tables and user_version 0; step 1 is written with IF NOT EXISTS, so it leaves them
as they are."""


def migrate(db: sqlite3.Connection) -> int:
    """Brings the file up to date and returns its version. Two processes opening an old file
    at once both run the missing steps; every step is idempotent, so that is harmless."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    for number, script in enumerate(STEPS, start=1):
        if number > version:
            db.executescript(script)
            db.execute(f"PRAGMA user_version = {number}")
            version = number
    db.commit()
    return version


class CatalogFile:
    """The catalog file opened, brought up to date, with one connection per thread: the server
    answers from a thread pool, and WAL lets those readers go on while a writer's transaction
    is open on its own connection."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        migrate(self._db)

    @property
    def _db(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
            with self._guard:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        with self._guard:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()
