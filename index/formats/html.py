"""Saved web pages (.html): the article text and metadata, extracted by trafilatura.

Extraction is delegated to a maintained library because hand-rolled scraping breaks on the
first unusual layout. The reader works only on content already on disk: every library call gets
the page's content, never a string the library could mistake for a URL or a file name, so
ingest never touches the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import trafilatura
from trafilatura.metadata import extract_url
from trafilatura.utils import load_html

from core.articles import Article, ArticleError, make_article, parse_published
from index.formats.text import host_name, read_text_file

# Structured places where a page states its own publication date. trafilatura (via htmldate)
# silently discards a future date and falls back to any other date it can find on the page
# (e.g. a visible "12 March 2024"), so these are read directly to catch such pages loudly.
_DECLARED_DATE_XPATH = (
    "//meta[@property='article:published_time' or @name='article:published_time'"
    " or @property='og:published_time' or @itemprop='datePublished'"
    " or @name='datePublished']/@content"
)
# Only <time> elements explicitly marked as the publication time: a plain <time> in the body
# may announce a future event and must not reject the page.
_DECLARED_TIME_XPATH = "//time[@itemprop='datePublished' or @pubdate]/@datetime"


@dataclass(frozen=True)
class PageMetadata:
    """Page metadata after validation; shared by html_metadata and parse_html so the two
    can never disagree about a page."""

    title: str
    author: str
    site_name: str
    url: str
    published: date | None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "title": self.title,
            "author": self.author,
            "site_name": self.site_name,
            "url": self.url,
            "published": self.published.isoformat() if self.published else None,
        }


def read_html(path: Path) -> list[Article]:
    return [parse_html(read_text_file(path), str(path))]


def parse_html(html: str, origin: str, url: str = "") -> Article:
    """One saved page -> one article; `url` is only a fallback for pages that do not state
    their own address (canonical link, og:url)."""
    return parse_page(html, origin, url)[0]


def parse_page(html: str, origin: str, url: str = "") -> tuple[Article, PageMetadata]:
    """The article and the page's metadata (which has the byline, a field Article lacks),
    from one extraction."""
    tree = _load_page(html, origin)
    document = trafilatura.bare_extraction(
        html,
        url=url or None,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        # Precision over recall: a nav-only page (app shell, paywall stub) must come out empty
        # and be rejected, not indexed as "Home Sport Weather".
        favor_precision=True,
    )
    text = (getattr(document, "text", None) or "").strip()
    if not text:
        raise ArticleError(f"{origin}: no article text could be extracted from this HTML page")
    meta = _page_metadata(document, tree, origin, url)
    article = make_article(
        title=meta.title,
        text=_drop_repeated_title(text, meta.title),
        published=meta.published,
        source=meta.site_name,
        url=meta.url,
        origin=origin,
    )
    return article, meta


def html_metadata(html: str, url: str = "", origin: str = "") -> dict[str, str | None]:
    """The page's title, author (byline), site name, url and publication date.

    Article has no author field, so this is where the byline is available to callers; raises
    ArticleError like parse_html does when the stated date is in the future or unreadable.
    """
    origin = origin or url or "html page"
    tree = _load_page(html, origin)
    document = trafilatura.extract_metadata(html, default_url=url or None)
    return _page_metadata(document, tree, origin, url).as_dict()


def _load_page(html: str, origin: str) -> Any:
    tree = load_html(html)
    if tree is None:
        raise ArticleError(f"{origin}: not an HTML page (no article text could be extracted)")
    return tree


def _page_metadata(document: object, tree: Any, origin: str, url: str) -> PageMetadata:
    # Canonical link first: og:url often carries campaign parameters or a mobile host.
    page_url = extract_url(tree) or _attr(document, "url") or url
    site_name = _attr(document, "sitename") or host_name(page_url)
    declared = _declared_published(tree)
    if declared is not None:
        # The page states a date: it must be usable, or the page is rejected.
        published = parse_published(declared, origin)
    else:
        published = parse_published(_attr(document, "date") or None, origin)
    return PageMetadata(
        title=_attr(document, "title"),
        author=_attr(document, "author"),
        site_name=site_name,
        url=page_url,
        published=published,
    )


def _attr(document: object, name: str) -> str:
    value = getattr(document, name, None)
    return value.strip() if isinstance(value, str) else ""


def _declared_published(tree: Any) -> str | None:
    for value in tree.xpath(_DECLARED_DATE_XPATH):
        if str(value).strip():
            return str(value).strip()
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text_content())
        except ValueError:
            continue  # broken JSON-LD is common and says nothing about the article
        for value in _json_values(data, "datePublished"):
            if isinstance(value, str) and value.strip():
                return value.strip()
    for value in tree.xpath(_DECLARED_TIME_XPATH):
        if str(value).strip():
            return str(value).strip()
    return None


def _json_values(data: object, key: str) -> Iterator[object]:
    """JSON-LD nests the article anywhere (top level, lists, @graph, mainEntity)."""
    if isinstance(data, dict):
        if key in data:
            yield data[key]
        for value in data.values():
            yield from _json_values(value, key)
    elif isinstance(data, list):
        for item in data:
            yield from _json_values(item, key)


def _drop_repeated_title(text: str, title: str) -> str:
    """trafilatura keeps the page's <h1>; the title is stored separately, and a duplicated
    first line would skew the first passage towards the headline."""
    first, _, rest = text.partition("\n")
    if title and rest.strip() and " ".join(first.split()) == " ".join(title.split()):
        return rest
    return text
