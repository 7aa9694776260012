"""Syndication feeds (RSS 2.0 / Atom): one article per entry that carries text, via feedparser.

Parsing is delegated to a maintained library because hand-rolled feed parsing breaks on the
first unusual export. The reader works only on content already on disk: feedparser gets a byte
stream, never a string it could mistake for a URL or a file name, so ingest never touches the
network.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from time import struct_time
from typing import Any

import feedparser
import lxml.html
from lxml.etree import ParserError

from core.articles import Article, ArticleError, make_article
from index.formats.text import host_name, read_text_file

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class FeedEntry:
    """One entry as the feed states it, text or not: the poller fetches the page of an entry
    whose text is missing or a teaser."""

    key: str
    """What identifies the entry across polls: its guid / Atom id, else its link."""
    link: str
    title: str
    text: str
    """Full content, else the summary, as plain text; empty for a link-only entry."""
    published: object
    """For make_article: a UTC datetime, the unreadable raw text, or None."""
    signature: str
    """Changes when the feed says the entry changed (title, dates, text)."""


@dataclass(frozen=True)
class FeedDocument:
    title: str
    source: str
    """The feed's title, else its site's host name: the outlet of its entries."""
    entries: list[FeedEntry]


def read_feed_document(
    content: str | bytes, origin: str, *, allow_empty: bool = False
) -> FeedDocument:
    """Every entry of a feed; ArticleError when it is not a readable RSS or Atom feed, or
    has no entries unless `allow_empty` (a followed feed may be empty between stories, a feed
    file never should)."""
    feed = _parse_feed_document(content, origin, allow_empty)
    title = str(feed.feed.get("title") or "").strip()
    entries: list[FeedEntry] = []
    for number, entry in enumerate(feed.entries, start=1):
        link = str(entry.get("link") or "").strip()
        text = _entry_text(entry)
        heading = _detail_text(entry.get("title_detail"), str(entry.get("title") or ""))
        # dict.get: feedparser's own get maps a missing `updated` to `published`, warning.
        stamps = [str(dict.get(entry, key) or "") for key in ("published", "updated")]
        signature = hashlib.sha256("\x1f".join([heading, *stamps, text]).encode()).hexdigest()
        entries.append(
            FeedEntry(
                key=str(entry.get("id") or "").strip() or link or f"{origin}[{number}]",
                link=link,
                title=heading,
                text=text,
                published=_entry_published(entry),
                signature=signature,
            )
        )
    return FeedDocument(
        title=title,
        source=title or host_name(str(feed.feed.get("link") or "")),
        entries=entries,
    )


def parse_feed_entries(content: str | bytes, origin: str) -> FeedResult:
    """Every entry with text becomes an article; a feed with none raises, because a feed that
    yields nothing is almost always the wrong file or a broken export."""
    document = read_feed_document(content, origin)
    articles: list[Article] = []
    skipped: list[str] = []
    for number, entry in enumerate(document.entries, start=1):
        if not entry.text:
            skipped.append(entry.link or entry.title or f"{origin}[{number}]")
            continue
        articles.append(
            make_article(
                title=entry.title,
                text=entry.text,
                published=entry.published,
                source=document.source,
                url=entry.link,
                origin=f"{origin}[{number}]",
            )
        )
    if not articles:
        raise ArticleError(
            f"{origin}: none of the feed's {len(document.entries)} entries has any text to index"
        )
    return FeedResult(articles=articles, skipped=skipped)


def _parse_feed_document(content: str | bytes, origin: str, allow_empty: bool = False) -> Any:
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
        if not feed.get("version"):
            # Well-formed markup that is no RSS or Atom at all (an HTML page, other XML).
            raise ArticleError(f"{origin}: no entries; not an RSS or Atom feed")
        if not allow_empty:
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
