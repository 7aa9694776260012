"""Reading articles from files and folders, whatever format they come in.

This module only dispatches: each format has its reader in index.formats, chosen here by file
suffix. Readers yield Articles or raise ArticleError naming the file and the problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from core.articles import Article, ArticleError, with_default_source
from index.formats.jsonl import read_json, read_jsonl
from index.formats.seed import read_seed

TEXT_SUFFIXES = {".txt", ".text", ".md"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
JSON_SUFFIXES = {".json"}
HTML_SUFFIXES = {".html", ".htm"}
FEED_SUFFIXES = {".rss", ".atom", ".xml"}
ALL_SUFFIXES = TEXT_SUFFIXES | JSONL_SUFFIXES | JSON_SUFFIXES | HTML_SUFFIXES | FEED_SUFFIXES

Reader = Callable[[Path], Iterable[Article]]


# The web readers are imported on first use, so trafilatura and feedparser load only when a
# page or a feed is actually read.


def _read_html(path: Path) -> Iterable[Article]:
    from index.formats import html

    return html.read_html(path)


def _read_feed(path: Path) -> Iterable[Article]:
    from index.formats import feed

    return feed.read_feed(path)


def reader_for(path: Path) -> Reader:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return read_jsonl
    if suffix in JSON_SUFFIXES:
        return read_json
    if suffix in HTML_SUFFIXES:
        return _read_html
    if suffix in FEED_SUFFIXES:
        return _read_feed
    if suffix in TEXT_SUFFIXES:
        return read_seed
    raise ArticleError(
        f"{path}: unsupported file type {suffix or '(none)'}; "
        f"expected one of {', '.join(sorted(ALL_SUFFIXES))}"
    )


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, and supported files found under folders (hidden ones skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and p.suffix.lower() in ALL_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise ArticleError(f"{path}: no such file or folder")
    return found


def load_articles(paths: Iterable[Path], source: str | None = None) -> list[Article]:
    """Every article under the given paths, those naming no outlet credited to `source`; the
    first bad input stops the load before any write happens, so a typo never half-ingests a
    batch."""
    articles: list[Article] = []
    for path in discover(paths):
        articles.extend(with_default_source(a, source) for a in reader_for(path)(path))
    return articles
