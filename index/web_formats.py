"""Readers for saved web pages (.html) and syndication feeds (RSS 2.0 / Atom).

Extraction is delegated to maintained libraries (trafilatura for pages, feedparser for feeds)
because hand-rolled scraping breaks on the first unusual layout. Both readers work only on
content already on disk: every library call gets parsed content or a byte stream, never a
string the library could mistake for a URL or a file name, so ingest never touches the network.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from time import struct_time
from typing import Any
from urllib.parse import urlsplit

import feedparser
import lxml.html
import trafilatura
from lxml.etree import ParserError
from trafilatura.metadata import extract_url
from trafilatura.utils import load_html

from index.articles import Article, ArticleError, make_article, parse_published
from index.loaders import read_text_file

logger = logging.getLogger(__name__)

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

# Elements that start a new paragraph when feed HTML is flattened to text.
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
# Never reader-visible text; feedparser's sanitiser usually removes them already.
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "iframe", "object"})


# --------------------------------------------------------------------------------------------
# HTML pages


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
    return make_article(
        title=meta.title,
        text=_drop_repeated_title(text, meta.title),
        published=meta.published,
        source=meta.site_name,
        url=meta.url,
        origin=origin,
    )


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
    site_name = _attr(document, "sitename") or _host(page_url)
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


def _host(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


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


# --------------------------------------------------------------------------------------------
# Feeds


@dataclass(frozen=True)
class FeedResult:
    """Articles from a feed plus the entries that had nothing to index, so callers can report
    link-only entries instead of losing them silently."""

    articles: list[Article]
    skipped: list[str]
    """Link (or title) of each entry that carried no text."""


def read_feed(path: Path) -> list[Article]:
    return parse_feed(read_text_file(path), str(path))


def parse_feed(content: str | bytes, origin: str) -> list[Article]:
    result = parse_feed_entries(content, origin)
    if result.skipped:
        logger.warning(
            "%s: skipped %d feed entr%s with no text (link-only): %s",
            origin,
            len(result.skipped),
            "y" if len(result.skipped) == 1 else "ies",
            ", ".join(result.skipped),
        )
    return result.articles


def parse_feed_entries(content: str | bytes, origin: str) -> FeedResult:
    """Every entry with text becomes an article; a feed with none raises, because a feed that
    yields nothing is almost always the wrong file or a broken export."""
    feed = _parse_feed_document(content, origin)
    source = str(feed.feed.get("title") or "").strip() or _host(str(feed.feed.get("link") or ""))
    articles: list[Article] = []
    skipped: list[str] = []
    for number, entry in enumerate(feed.entries, start=1):
        entry_origin = f"{origin}[{number}]"
        text = _entry_text(entry)
        link = str(entry.get("link") or "").strip()
        title = _detail_text(entry.get("title_detail"), str(entry.get("title") or ""))
        if not text:
            skipped.append(link or title or entry_origin)
            continue
        articles.append(
            make_article(
                title=title,
                text=text,
                published=_entry_published(entry),
                source=source,
                url=link,
                origin=entry_origin,
            )
        )
    if not articles:
        raise ArticleError(
            f"{origin}: none of the feed's {len(feed.entries)} entries has any text to index"
        )
    return FeedResult(articles=articles, skipped=skipped)


def _parse_feed_document(content: str | bytes, origin: str) -> Any:
    if isinstance(content, str):
        data = content.encode("utf-8")
        # Text is already decoded; the header overrides a stale encoding in the XML declaration.
        headers = {"content-type": "application/xml; charset=utf-8"}
    else:
        data, headers = content, {}
    # A byte stream, never a str: feedparser fetches strings that look like URLs and opens
    # strings that name files.
    feed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    if not feed.entries:
        if feed.get("bozo"):
            problem = feed.get("bozo_exception")
            raise ArticleError(f"{origin}: not a readable RSS or Atom feed ({problem})")
        raise ArticleError(f"{origin}: feed has no entries")
    if feed.get("bozo"):
        problem = feed.get("bozo_exception")
        logger.warning("%s: feed is not well-formed (%s); read leniently", origin, problem)
    return feed


def _entry_text(entry: Any) -> str:
    """Full content (content:encoded, Atom content) beats the summary, which is often a teaser."""
    for detail in entry.get("content") or []:
        text = _detail_text(detail, "")
        if text:
            return text
    return _detail_text(entry.get("summary_detail"), str(entry.get("summary") or ""))


def _detail_text(detail: Any, fallback: str) -> str:
    if not detail:
        return html_to_text(fallback) if fallback else ""
    value = str(detail.get("value") or "")
    kind = str(detail.get("type") or "text/html")
    if kind == "text/plain":
        return value.strip()
    return html_to_text(value)


def _entry_published(entry: Any) -> object:
    for key in ("published", "updated"):
        parsed = entry.get(f"{key}_parsed")
        if isinstance(parsed, struct_time):
            # feedparser normalises *_parsed to UTC.
            return datetime(*parsed[:6], tzinfo=UTC)
        raw = entry.get(key)
        if raw:
            # feedparser could not read it: parse_published gets the raw text and rejects it
            # with the entry named, rather than the entry silently losing its date.
            return str(raw)
    return None


def html_to_text(fragment: str) -> str:
    """Feed HTML to plain text with paragraph breaks kept, so passages split on paragraphs."""
    if not fragment.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ParserError, ValueError):
        return ""
    parts: list[str] = []
    _collect_text(root, parts)
    lines = [" ".join(line.split()) for line in "".join(parts).split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _collect_text(element: Any, parts: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""  # comments have callable tags
    if tag and tag.lower() not in _SKIPPED_TAGS:
        if tag.lower() == "br":
            parts.append("\n")
        # A blank line around every block, so text between blocks is its own paragraph too;
        # html_to_text folds the runs of blank lines this leaves.
        block = tag.lower() in _BLOCK_TAGS
        if block:
            parts.append("\n\n")
        if element.text:
            parts.append(_inline(element.text))
        for child in element:
            _collect_text(child, parts)
        if block:
            parts.append("\n\n")
    if element.tail:
        parts.append(_inline(element.tail))


def _inline(text: str) -> str:
    """Source line breaks inside HTML are just spaces; only markup starts a new line."""
    return " ".join(text.split("\n")).replace("\r", " ").replace("\t", " ")
