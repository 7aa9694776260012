"""Polling followed feeds: new and changed entries become articles, through the one writer.

A poll asks for the feed with its stored validators (ETag / Last-Modified), so an unchanged
feed costs one 304 and embeds nothing. Each entry that is new, or that the feed says changed
(its title, dates or text differ), has its page fetched once and its text, title, date and
byline extracted by trafilatura; when the page cannot be fetched or read, the feed's own text
for the entry stands in. The articles go to the `sink` (the IndexWriter in a server, the
Ingester from the CLI, which hands them to a running server), so dedup, edits and crash
safety are the writer's, as for every other arrival path. Entries are remembered only after
the sink has indexed them, so a poll that dies half-way is simply done again.

A source that fails (HTTP error, timeout, redirect loop, a body that is no feed) is recorded
with its error and retried later with backoff; it never stops the other sources.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from core.articles import Article, ArticleError, make_article
from index.database import is_storage_fault
from index.fetch import Fetcher, FetchError, RobotsDisallowed
from index.formats.feed import FeedEntry, read_feed_document
from index.formats.html import parse_page
from index.lock import LockTimeout
from index.sources import Source, SourceStore
from index.writer import IngestSummary

logger = logging.getLogger(__name__)

Sink = Callable[[Sequence[Article]], IngestSummary]
EntryRecord = tuple[str, str, str, str | None, str, bool]
"""(key, link, signature, article_id, byline, from_page), as SourceStore.succeeded takes it."""


@dataclass
class PollReport:
    """What one poll of one source did: the ingest summary and what led to it."""

    source: int
    url: str
    outlet: str
    status: str = "ok"
    """ok | not-modified | error"""
    entries: int = 0
    new: int = 0
    changed: int = 0
    pages: int = 0
    """Entry pages fetched and extracted."""
    fallbacks: int = 0
    """Entries indexed from the feed's own text because their page could not be used."""
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    chunks_embedded: int = 0
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    """Entry-level trouble (a page that would not load, an entry with no text)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        head = f"[{self.source}] {self.outlet or self.url}"
        if self.status == "error":
            return f"{head}: error: {self.error}"
        if self.status == "not-modified":
            return f"{head}: not modified"
        return (
            f"{head}: {self.entries} entries, {self.new} new, {self.changed} changed; "
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.skipped} skipped; {self.chunks_embedded} chunks embedded"
            + (f" ({self.fallbacks} from the feed's text)" if self.fallbacks else "")
        )


class Poller:
    def __init__(self, sources: SourceStore, fetcher: Fetcher, sink: Sink) -> None:
        self.sources = sources
        self.fetcher = fetcher
        self.sink = sink

    def poll_all(self) -> list[PollReport]:
        """Every source once, due or not (`watch --sources --once`)."""
        return [self.poll(source) for source in self.sources.all()]

    def poll_due(self) -> list[PollReport]:
        return [self.poll(source) for source in self.sources.due()]

    def run(
        self,
        stop: threading.Event,
        tick: float,
        report: Callable[[PollReport], None] = lambda r: None,
    ) -> None:
        """Poll each source when it is due, until `stop` is set; between sources the stop is
        checked, so a stop waits for at most the source in hand."""
        while not stop.is_set():
            try:
                due = self.sources.due()
            except Exception as exc:  # a catalog locked for long, or down: the next tick
                if not is_storage_fault(exc):
                    raise
                logger.warning("could not read the sources: %s", exc)
                due = []
            for source in due:
                if stop.is_set():
                    break
                report(self.poll(source))
            stop.wait(tick)

    def poll(self, source: Source) -> PollReport:
        """Never raises for a broken source: the failure is recorded and reported."""
        report = PollReport(source.id, source.url, source.outlet)
        try:
            self._poll(source, report)
        except (FetchError, ArticleError, RuntimeError, LockTimeout, OSError) as exc:
            self._fail(source, report, str(exc))
        except Exception as exc:  # a bug must not stop the other sources either
            if is_storage_fault(exc):
                self._fail(source, report, str(exc))
                return report
            logger.exception("polling %s failed", source.url)
            self._fail(source, report, f"internal error: {type(exc).__name__}: {exc}")
        return report

    def _fail(self, source: Source, report: PollReport, error: str) -> None:
        report.status, report.error = "error", error
        try:
            self.sources.failed(source, error)
        except Exception as exc:  # reported all the same; recorded at the next failure
            if not is_storage_fault(exc):
                raise
            logger.warning("could not record the failure of %s: %s", source.url, exc)

    def _poll(self, source: Source, report: PollReport) -> None:
        response = self.fetcher.get(
            source.url, etag=source.etag, last_modified=source.last_modified
        )
        if response.not_modified:
            report.status = "not-modified"
            self.sources.succeeded(
                source,
                etag=response.etag or source.etag,
                last_modified=response.last_modified or source.last_modified,
                feed_title=None,
                entries=[],
                added=0,
                updated=0,
                skipped=0,
            )
            return
        document = read_feed_document(response.content, source.url, allow_empty=True)
        outlet = source.name or document.source
        report.outlet, report.entries = outlet, len(document.entries)
        seen = self.sources.seen(source.id)
        articles: dict[str, Article] = {}
        records: list[EntryRecord] = []
        for entry in document.entries:
            before = seen.get(entry.key)
            if before is not None and before.signature == entry.signature:
                continue
            if before is None:
                report.new += 1
            else:
                report.changed += 1
            article, byline, from_page, final = self._article(entry, outlet, report)
            if article is None:
                report.skipped += 1
                if final:
                    records.append((entry.key, entry.link, entry.signature, None, "", False))
                continue
            articles.setdefault(article.id, article)
            # A page that failed for a passing reason is tried again when the feed next
            # changes: its entry is remembered without a signature.
            signature = entry.signature if final else ""
            records.append((entry.key, entry.link, signature, article.id, byline, from_page))
        summary = self.sink(list(articles.values())) if articles else IngestSummary()
        report.added, report.updated = summary.added, summary.updated
        report.unchanged, report.chunks_embedded = summary.unchanged, summary.chunks_embedded
        self.sources.succeeded(
            source,
            etag=response.etag,
            last_modified=response.last_modified,
            feed_title=document.title,
            entries=records,
            added=summary.added,
            updated=summary.updated,
            skipped=report.skipped + summary.unchanged,
        )

    def _article(
        self, entry: FeedEntry, outlet: str, report: PollReport
    ) -> tuple[Article | None, str, bool, bool]:
        """(article or None, byline, whether it came from the page, whether the outcome is
        final). The page when it can be used, else the feed's text for the entry."""
        final = True
        if entry.link:
            try:
                page = self.fetcher.get(entry.link)
                found, meta = parse_page(page.text(), entry.link, entry.link)
                article = make_article(
                    title=entry.title or found.title,
                    text=found.text,
                    published=found.published or entry.published,
                    source=outlet,
                    url=entry.link,
                    origin=entry.link,
                )
                report.pages += 1
                return article, meta.author, True, True
            except RobotsDisallowed as exc:
                report.problems.append(str(exc))
            except (FetchError, ArticleError) as exc:
                report.problems.append(str(exc))
                final = False
        if not entry.text:
            report.problems.append(f"{entry.link or entry.key}: no text in the feed entry")
            return None, "", False, final
        try:
            article = make_article(
                title=entry.title,
                text=entry.text,
                published=entry.published,
                source=outlet,
                url=entry.link,
                origin=entry.link or entry.key,
            )
        except ArticleError as exc:
            report.problems.append(str(exc))
            return None, "", False, True
        if entry.link:
            report.fallbacks += 1
        return article, "", False, final
