"""The article catalog and lexical index, in SQLite beside Chroma or in PostgreSQL.

The catalog remembers each article's content hash (so a re-ingest embeds only what changed)
and its state: `pending` while its vectors are being written, `ready` once Chroma holds all of
them. An ingest killed mid-way leaves `pending` rows that the next run redoes, and readers only
cite `ready` articles, so nobody sees half an article. The FTS5 table holds the same passages
for BM25 search and is written in the same transaction that marks an article ready, so the
lexical index can never drift from the catalog.

`Catalog` is the one interface the writer, the retriever and the API use; its queries run on
either database (index.database). The engines differ only in the lexical half: FTS5 ranked by
BM25 in SQLite (`SqliteCatalog`), a tsvector column with a GIN index ranked by `ts_rank_cd` in
PostgreSQL (`PostgresCatalog`). Hybrid fusion uses ranks, not scores, so the two rankings
serve it alike.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

from core.articles import Article
from core.records import Passage
from core.settings import Settings
from core.words import STOPWORDS
from index.chunking import Chunk
from index.database import Database, PostgresDatabase, Row, SqliteDatabase, open_database

COMMON_SHARE = 0.05
"""A search word in more than this share of the passages counts as common (see selective)."""
COMMON_FLOOR = 500
"""...and in more passages than this: below it scoring every match is cheap anyway."""
MATCH_BUDGET = 20_000
"""Passages a search's words may match together, roughly (see selective)."""


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    hash: str
    state: str
    title: str
    published: date | None
    source: str
    sources: tuple[str, ...]
    url: str
    fingerprint: str
    n_chunks: int
    indexed_at: str


class Catalog(ABC):
    PASSAGES_FIRST = "JOIN"
    """How a read of a few passages joins their articles; SQLite's planner needs telling."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def where(self) -> str:
        return self.db.where

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.db.transaction():
            yield

    def close(self) -> None:
        self.db.close()

    # --- reads -------------------------------------------------------------------------
    def get(self, article_id: str) -> CatalogEntry | None:
        row = self.db.one("SELECT * FROM articles WHERE id = ?", (article_id,))
        return _entry(row) if row else None

    def entries(self) -> dict[str, CatalogEntry]:
        return {row["id"]: _entry(row) for row in self.db.rows("SELECT * FROM articles")}

    def by_fingerprint(self, fingerprint: str) -> CatalogEntry | None:
        row = self.db.one("SELECT * FROM articles WHERE fingerprint = ? LIMIT 1", (fingerprint,))
        return _entry(row) if row else None

    def unfinished(self) -> list[CatalogEntry]:
        """Articles a killed run left half-written or half-deleted."""
        rows = self.db.rows("SELECT * FROM articles WHERE state != 'ready'")
        return [_entry(row) for row in rows]

    def article(self, article_id: str) -> Article | None:
        """The stored article itself, so unfinished work can be redone without its file."""
        row = self.db.one("SELECT * FROM articles WHERE id = ?", (article_id,))
        if row is None:
            return None
        return Article(
            id=row["id"],
            title=row["title"],
            text=row["text"],
            published=date.fromisoformat(row["published"]) if row["published"] else None,
            source=row["source"],
            url=row["url"],
            sources=tuple(json.loads(row["sources"] or "[]")),
        )

    def counts(self) -> dict[str, int]:
        row = self.db.one(
            "SELECT count(*) AS articles, coalesce(sum(n_chunks), 0) AS passages "
            "FROM articles WHERE state = 'ready'"
        )
        assert row is not None
        return {"articles": int(row["articles"]), "passages": int(row["passages"])}

    def page(
        self,
        *,
        source: str | None = None,
        after: date | None = None,
        before: date | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[int, list[CatalogEntry]]:
        where, params = _filters(source, after, before, prefix="AND")
        where = f"WHERE a.state = 'ready' {where}"
        total = self.db.one(f"SELECT count(*) AS n FROM articles a {where}", params)
        # Undated articles last on both engines (SQLite and PostgreSQL sort NULL apart).
        rows = self.db.rows(
            f"SELECT * FROM articles a {where} "
            "ORDER BY published IS NULL, published DESC, id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return int(total["n"] if total else 0), [_entry(row) for row in rows]

    def known_sources(self) -> list[str]:
        rows = self.db.rows(
            "SELECT DISTINCT source FROM articles WHERE state = 'ready' AND source != ''"
        )
        return [row["source"] for row in rows]

    def newest(self) -> date | None:
        row = self.db.one("SELECT max(published) AS newest FROM articles WHERE state = 'ready'")
        return date.fromisoformat(row["newest"]) if row and row["newest"] else None

    def passage_texts(self) -> list[str]:
        """Every ready passage's text (benchmarks look for where gold answers occur)."""
        rows = self.db.rows(
            "SELECT p.text FROM passages p JOIN articles a ON a.id = p.article_id "
            "WHERE a.state = 'ready'"
        )
        return [row["text"] for row in rows]

    def ids_matching(self, source: str | None) -> list[str]:
        """Ready articles carried by a source (primary or as a folded wire copy)."""
        where, params = _filters(source, None, None, prefix="AND")
        rows = self.db.rows(f"SELECT id FROM articles a WHERE state = 'ready' {where}", params)
        return [row["id"] for row in rows]

    def passages(self, chunk_ids: Sequence[str]) -> dict[str, Passage]:
        """Ready passages by id; ids of pending or deleted articles are left out."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self._passage_rows(f"p.id IN ({marks})", list(chunk_ids))
        return {row["id"]: _passage(row) for row in rows}

    def opening(self, article_id: str) -> Passage | None:
        """A ready article's first passage, where news copy says who did what."""
        rows = self._passage_rows("p.article_id = ? AND p.ordinal = 0", [article_id])
        return _passage(rows[0]) if rows else None

    def _passage_rows(self, where: str, params: list[str]) -> list[Row]:
        return self.db.rows(
            f"""SELECT p.id, p.article_id, p.text, p.start, p."end", a.title, a.published,
                       a.source, a.sources, a.url
                FROM passages p {self.PASSAGES_FIRST} articles a ON a.id = p.article_id
                WHERE {where} AND a.state = 'ready'""",
            params,
        )

    @abstractmethod
    def lexical_search(
        self,
        query: str,
        limit: int,
        *,
        source: str | None = None,
        after: date | None = None,
        before: date | None = None,
    ) -> list[tuple[str, float]]:
        """Passages of ready articles matching any word of `query`, best first, as (passage
        id, score); a higher score is better."""

    def meta(self, key: str) -> dict[str, object] | None:
        """A JSON record about the whole index (which model made its vectors, say)."""
        row = self.db.one("SELECT value FROM meta WHERE key = ?", (key,))
        if row is None:
            return None
        value: dict[str, object] = json.loads(row["value"])
        return value

    # --- writes ------------------------------------------------------------------------
    def set_meta(self, key: str, value: dict[str, object]) -> None:
        with self.db.transaction():
            self.db.run(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value, sort_keys=True)),
            )

    def mark_all_pending(self) -> int:
        """Every ready article back to pending (its text is kept), for a reindex."""
        with self.db.transaction():
            return self.db.run("UPDATE articles SET state = 'pending' WHERE state = 'ready'")

    def mark_pending(self, articles: Sequence[Article]) -> None:
        """Recorded before any vector is written, with the full text, so a run killed
        mid-way leaves what the next run needs to finish the work."""
        with self.db.transaction():
            self.db.many(
                """INSERT INTO articles (id, hash, state, title, published, source, sources, url,
                                         fingerprint, text)
                   VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET hash=excluded.hash, state='pending',
                     title=excluded.title, published=excluded.published, source=excluded.source,
                     sources=excluded.sources, url=excluded.url,
                     fingerprint=excluded.fingerprint, text=excluded.text""",
                [
                    (
                        a.id,
                        a.content_hash,
                        a.title,
                        a.published.isoformat() if a.published else None,
                        a.source,
                        json.dumps(list(a.sources)),
                        a.url,
                        a.body_fingerprint,
                        a.text,
                    )
                    for a in articles
                ],
            )

    def mark_deleting(self, article_ids: Sequence[str]) -> None:
        with self.db.transaction():
            self.db.many(
                "UPDATE articles SET state = 'deleting' WHERE id = ?", [(i,) for i in article_ids]
            )

    def mark_ready(self, articles: Iterable[tuple[Article, Sequence[Chunk]]]) -> None:
        with self.db.transaction():
            for article, chunks in articles:
                self.db.run("DELETE FROM passages WHERE article_id = ?", (article.id,))
                self.db.many(
                    'INSERT INTO passages (id, article_id, ordinal, start, "end", text) '
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(c.id, c.article_id, c.ordinal, c.start, c.end, c.text) for c in chunks],
                )
                self.db.run(
                    "UPDATE articles SET state = 'ready', n_chunks = ?, indexed_at = ? "
                    "WHERE id = ?",
                    (len(chunks), stamp(), article.id),
                )

    def add_sources(self, article_id: str, sources: Sequence[str]) -> None:
        entry = self.get(article_id)
        if entry is None:
            return
        merged = tuple(dict.fromkeys((*entry.sources, *sources)))
        merged = tuple(s for s in merged if s and s != entry.source)
        with self.db.transaction():
            self.db.run(
                "UPDATE articles SET sources = ? WHERE id = ?", (json.dumps(merged), article_id)
            )

    def remove(self, article_ids: Sequence[str]) -> None:
        with self.db.transaction():
            for article_id in article_ids:
                self.db.run("DELETE FROM passages WHERE article_id = ?", (article_id,))
                self.db.run("DELETE FROM articles WHERE id = ?", (article_id,))


class SqliteCatalog(Catalog):
    """The catalog in one SQLite file in the data directory, its lexical half in FTS5."""

    PASSAGES_FIRST = "CROSS JOIN"
    """SQLite then starts from the few passages, never from the articles (a scan of them
    once the outlet index exists)."""

    def lexical_search(
        self,
        query: str,
        limit: int,
        *,
        source: str | None = None,
        after: date | None = None,
        before: date | None = None,
    ) -> list[tuple[str, float]]:
        """BM25 over passages of ready articles; higher score is better. Words found in a large
        share of the passages are left out when the query has rarer ones (`selective`).

        Without filters the FTS index ranks alone and only its best few are joined to their
        articles (joining every match before the sort cost 3/4 of the time at 180,000
        passages); only when too few of those are ready is the search done joined."""
        words = self.selective(query_words(query))
        if not words:
            return []
        match = " OR ".join(phrase(w) for w in words)
        where, params = _filters(source, after, before, prefix="AND")
        if not params:
            fetch = 2 * limit
            ranked = self.db.rows(
                "SELECT rowid, bm25(passages_fts) AS rank FROM passages_fts "
                "WHERE passages_fts MATCH ? ORDER BY rank LIMIT ?",
                (match, fetch),
            )
            ready = self._ready_ids([row["rowid"] for row in ranked])
            hits = [(ready[r["rowid"]], -float(r["rank"])) for r in ranked if r["rowid"] in ready]
            if len(hits) >= limit or len(ranked) < fetch:
                return hits[:limit]
        rows = self.db.rows(
            f"""SELECT p.id, bm25(passages_fts) AS rank
                FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid
                JOIN articles a ON a.id = p.article_id
                WHERE passages_fts MATCH ? AND a.state = 'ready' {where}
                ORDER BY rank LIMIT ?""",
            [match, *params, limit],
        )
        return [(row["id"], -float(row["rank"])) for row in rows]

    def _ready_ids(self, rowids: Sequence[int]) -> dict[int, str]:
        """Passage ids by rowid, for those of ready articles."""
        if not rowids:
            return {}
        marks = ",".join("?" * len(rowids))
        rows = self.db.rows(
            f"""SELECT p.rowid, p.id FROM passages p {self.PASSAGES_FIRST} articles a
                ON a.id = p.article_id
                WHERE p.rowid IN ({marks}) AND a.state = 'ready'""",
            list(rowids),
        )
        return {row["rowid"]: row["id"] for row in rows}

    def selective(self, words: Sequence[str]) -> list[str]:
        """The words worth matching. SQLite's BM25 scores every passage the OR-ed words match,
        so one word in half the corpus ("new", "week") makes a search cost the whole corpus
        while adding little to the ranking (its IDF is near zero). Words in more than
        COMMON_SHARE of the passages are dropped when the query has a rarer one, and of the
        rest the rarest are kept while their passages add up to MATCH_BUDGET (the rarest one
        always): names and numbers, what BM25 is here for beside dense search. Small indexes
        keep every word, a query of common words only too. Counting a word's passages reads
        only the FTS index, which is cheap."""
        if len(words) < 2:
            return list(words)
        row = self.db.one("SELECT max(rowid) AS n FROM passages")
        total = int(row["n"] or 0) if row else 0
        if total <= COMMON_FLOOR:
            return list(words)
        count = "SELECT count(*) AS n FROM passages_fts WHERE passages_fts MATCH ?"
        counts = {w: int(self.db.rows(count, (phrase(w),))[0]["n"]) for w in words}
        common = max(COMMON_SHARE * total, COMMON_FLOOR)
        ordered = sorted(words, key=counts.__getitem__)
        if counts[ordered[0]] > common:  # common words only: all of them
            return list(words)
        kept = {ordered[0]}
        spent = counts[ordered[0]]
        for word in ordered[1:]:
            if counts[word] > common or spent + counts[word] > MATCH_BUDGET:
                break
            kept.add(word)
            spent += counts[word]
        return [w for w in words if w in kept]


class PostgresCatalog(Catalog):
    """The catalog in PostgreSQL, its lexical half PostgreSQL's own full-text search."""

    def lexical_search(
        self,
        query: str,
        limit: int,
        *,
        source: str | None = None,
        after: date | None = None,
        before: date | None = None,
    ) -> list[tuple[str, float]]:
        """`ts_rank_cd` (cover density, normalised by passage length as BM25 is) over the GIN
        indexed tsvector; the words are OR-ed as in SQLite, and `websearch_to_tsquery` never
        fails on what a user typed."""
        words = query_words(query)
        if not words:
            return []
        where, params = _filters(source, after, before, prefix="AND")
        rows = self.db.rows(
            f"""SELECT p.id, ts_rank_cd(p.tsv, q, 1) AS rank
                FROM passages p JOIN articles a ON a.id = p.article_id,
                     websearch_to_tsquery('english', ?) AS q
                WHERE p.tsv @@ q AND a.state = 'ready' {where}
                ORDER BY rank DESC, p.id LIMIT ?""",
            [" or ".join(words), *params, limit],
        )
        return [(row["id"], float(row["rank"])) for row in rows]


def open_catalog(settings: Settings) -> Catalog:
    """The catalog where settings keep it: PostgreSQL when a database URL is set, else the
    SQLite file in the data directory."""
    db = open_database(settings)
    if isinstance(db, PostgresDatabase):
        return PostgresCatalog(db)
    assert isinstance(db, SqliteDatabase)
    return SqliteCatalog(db)


def stamp() -> str:
    """Now, as the catalog writes times (UTC, milliseconds), on either engine."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def query_words(text: str) -> list[str]:
    """The words of free text a lexical search looks for: lower-cased, stopwords and single
    letters left out, each once."""
    words = [w for w in re.findall(r"\w+", text.lower()) if len(w) > 1 and w not in STOPWORDS]
    return list(dict.fromkeys(words))


def phrase(word: str) -> str:
    """A word quoted for FTS5 MATCH, so user punctuation can never be parsed as FTS syntax;
    a search ORs them, leaving ranking to BM25."""
    return f'"{word}"'


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern in which %, _ and the escape character match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(
    source: str | None, after: date | None, before: date | None, prefix: str = "WHERE"
) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if source:
        # `sources` is a JSON list: match the name as JSON spells it, % and _ taken literally.
        clauses.append("(lower(a.source) = lower(?) OR a.sources LIKE ? ESCAPE '\\')")
        params += [source, f"%{like_literal(json.dumps(source))}%"]
    if after:
        clauses.append("a.published >= ?")
        params.append(after.isoformat())
    if before:
        clauses.append("a.published <= ?")
        params.append(before.isoformat())
    if not clauses:
        return "", []
    return f"{prefix} " + " AND ".join(clauses), params


def _entry(row: Row) -> CatalogEntry:
    return CatalogEntry(
        id=row["id"],
        hash=row["hash"],
        state=row["state"],
        title=row["title"],
        published=date.fromisoformat(row["published"]) if row["published"] else None,
        source=row["source"],
        sources=tuple(json.loads(row["sources"] or "[]")),
        url=row["url"],
        fingerprint=row["fingerprint"],
        n_chunks=int(row["n_chunks"]),
        indexed_at=row["indexed_at"],
    )


def _passage(row: Row) -> Passage:
    return Passage(
        id=row["id"],
        article_id=row["article_id"],
        title=row["title"],
        published=date.fromisoformat(row["published"]) if row["published"] else None,
        source=row["source"],
        sources=tuple(json.loads(row["sources"] or "[]")),
        url=row["url"],
        text=row["text"],
        start=int(row["start"]),
        end=int(row["end"]),
    )
