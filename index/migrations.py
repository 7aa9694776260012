"""The catalog's schema, in numbered steps, so a catalog made by an older Newsdesk opens in a
newer one: each step runs once, in order. A SQLite file remembers how far it has come in its
`user_version`; a PostgreSQL database in its own `newsdesk_schema` table. The two dialects
have their own steps (FTS5 there, a tsvector column with a GIN index here) over the same
tables and columns, so one set of queries (index.catalog) serves both.

Kept apart from catalog.py (and free of heavy imports) because the source list lives in the
same database and the `newsdesk sources` commands must open it without loading the model
stack. Steps are only ever appended; a released step never changes.
"""

from __future__ import annotations

import sqlite3
from typing import Any

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


PG_ARTICLES = """
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
    indexed_at TEXT NOT NULL
        DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
);
CREATE INDEX IF NOT EXISTS articles_fingerprint ON articles (fingerprint);
CREATE INDEX IF NOT EXISTS articles_published ON articles (published);
CREATE TABLE IF NOT EXISTS passages (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
CREATE INDEX IF NOT EXISTS passages_article ON passages (article_id);
CREATE INDEX IF NOT EXISTS passages_tsv ON passages USING GIN (tsv);
"""
"""The lexical index is a generated column: PostgreSQL keeps it in step with the text in the
same statement, as the FTS5 triggers do in SQLite."""

PG_SOURCES = """
CREATE TABLE IF NOT EXISTS sources (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    every INTEGER NOT NULL,
    created_at TEXT NOT NULL
        DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    etag TEXT,
    last_modified TEXT,
    feed_title TEXT NOT NULL DEFAULT '',
    last_poll TEXT,
    last_success TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    next_poll DOUBLE PRECISION NOT NULL DEFAULT 0,
    added INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS source_entries (
    source_id BIGINT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    link TEXT NOT NULL,
    signature TEXT NOT NULL,
    article_id TEXT,
    byline TEXT NOT NULL DEFAULT '',
    from_page INTEGER NOT NULL DEFAULT 0,
    seen_at TEXT NOT NULL
        DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    PRIMARY KEY (source_id, key)
);
"""

CONVERSATIONS = """
CREATE TABLE IF NOT EXISTS conversations (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    token_hash  TEXT
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text            TEXT NOT NULL,
    question        TEXT,
    citations       TEXT NOT NULL DEFAULT '[]',
    refused         INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
CREATE INDEX IF NOT EXISTS conversations_by_update ON conversations(updated_at);
"""
"""The conversations' tables, the same on both engines: in SQLite a file of their own
(assistant.conversations), in PostgreSQL beside the catalog's."""

PG_STEPS: tuple[str, ...] = (PG_ARTICLES, PG_SOURCES, META, CONVERSATIONS, SOURCE_INDEX)
"""Step n (from 1) brings a database to newsdesk_schema.version n."""

PG_MIGRATION_LOCK = 0x6E65_7773_6D69_6772
"""pg_advisory_xact_lock key: two hosts starting at once on a new database take turns."""


def migrate_postgres(db: Any) -> int:
    """`db`: an autocommit psycopg connection. The steps run in one transaction under an
    advisory lock, so a half-migrated database is never seen and two processes never race."""
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", (PG_MIGRATION_LOCK,))
        db.execute("CREATE TABLE IF NOT EXISTS newsdesk_schema (version INTEGER NOT NULL)")
        row = db.execute("SELECT version FROM newsdesk_schema").fetchone()
        if row is None:
            db.execute("INSERT INTO newsdesk_schema (version) VALUES (0)")
        version = int(row["version"]) if row else 0
        for number, script in enumerate(PG_STEPS, start=1):
            if number > version:
                for statement in script.split(";\n"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("UPDATE newsdesk_schema SET version = %s", (number,))
                version = number
    return version
