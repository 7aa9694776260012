"""The article record every loader produces and every later stage consumes.

Ids are stable across re-ingests (url first, content otherwise) so that the same story never
lands twice and an edited story replaces its old passages (private-gpt#1306, llama_index#13162).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only track the reader; the same story with different values is one story.
_TRACKING_PARAMS = re.compile(
    r"^(utm_.*|fbclid|gclid|dclid|mc_cid|mc_eid|ref|ref_src|cmpid|smid|smtyp|ito|ocid|"
    r"taid|cid|sr_share|mbid|rss|partner|__twitter_impression)$",
    re.IGNORECASE,
)
# A little slack for time zones; anything later than this is a typo or a bad feed.
_FUTURE_SLACK = timedelta(days=2)


class ArticleError(ValueError):
    """An article that cannot be indexed; the message names the problem and the input."""


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    text: str
    published: date | None = None
    source: str = ""
    url: str = ""
    origin: str = ""
    """Where the article was read from (file path, feed URL); shown in errors."""
    sources: tuple[str, ...] = field(default=())
    """Every outlet that carried this story (wire copies collapse into one article)."""

    @property
    def content_hash(self) -> str:
        """What decides whether a re-ingest has anything to do."""
        payload = "\x1f".join(
            [
                self.title,
                self.published.isoformat() if self.published else "",
                self.source,
                self.url,
                self.text,
            ]
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    @property
    def body_fingerprint(self) -> str:
        """Same story, whatever the outlet: used to fold wire copies together."""
        return fingerprint(self.text)

    @property
    def all_sources(self) -> tuple[str, ...]:
        seen = [s for s in (self.source, *self.sources) if s]
        return tuple(dict.fromkeys(seen))

    def with_sources(self, extra: tuple[str, ...]) -> Article:
        merged = tuple(dict.fromkeys((*self.sources, *extra)))
        return replace(self, sources=tuple(s for s in merged if s != self.source))


def with_default_source(article: Article, source: str | None) -> Article:
    """The article credited to `source` when it names no outlet itself: formats such as the
    seed text carry none, and the person ingesting them knows where they came from. An outlet
    the article names stays, since it is the more specific of the two."""
    name = (source or "").strip()
    if not name or article.source:
        return article
    return replace(article, source=name)


def canonical_url(url: str) -> str:
    """Drop tracking parameters, fragments, default ports and trailing slashes."""
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    kept = sorted((k, v) for k, v in query if not _TRACKING_PARAMS.match(k))
    host = parts.netloc.lower().removeprefix("www.")
    host = host.removesuffix(":80").removesuffix(":443")
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(kept), ""))


def fingerprint(text: str) -> str:
    normalised = unicodedata.normalize("NFKC", text).casefold()
    words = re.findall(r"\w+", normalised)
    return hashlib.sha256(" ".join(words).encode()).hexdigest()


def derive_id(url: str, title: str, text: str) -> str:
    """Stable id: from the canonical url when there is one, otherwise from the content."""
    basis = canonical_url(url) or f"{title}\n{fingerprint(text)}"
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


def parse_published(value: object, origin: str = "", *, today: date | None = None) -> date | None:
    """Accept ISO dates and datetimes (the formats our inputs carry); reject the rest loudly."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value.astimezone(UTC).date() if value.tzinfo else value.date()
    elif isinstance(value, date):
        parsed = value
    elif isinstance(value, str):
        parsed = _parse_date_string(value.strip(), origin)
    else:
        raise ArticleError(f"{origin}: published date {value!r} is not a date")
    limit = datetime.combine(today or datetime.now(UTC).date(), time()) + _FUTURE_SLACK
    if datetime.combine(parsed, time()) > limit:
        raise ArticleError(f"{origin}: published date {parsed.isoformat()} is in the future")
    return parsed


def _parse_date_string(value: str, origin: str) -> date:
    text = value.replace("Z", "+00:00")
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        stamp = datetime.fromisoformat(text)
        return stamp.astimezone(UTC).date() if stamp.tzinfo else stamp.date()
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        raise ArticleError(
            f"{origin}: published date {value!r} is not a date (use YYYY-MM-DD)"
        ) from None


WEB_SCHEMES = frozenset({"http", "https"})


def make_article(
    *,
    title: str,
    text: str,
    published: object = None,
    source: str = "",
    url: str = "",
    id: str | None = None,
    origin: str = "",
) -> Article:
    """Validate and normalise one article from any loader."""
    text = _clean_text(text)
    title = " ".join((title or "").split())
    if not text:
        raise ArticleError(f"{origin or title or 'article'}: article has no text")
    if "\x00" in text:
        raise ArticleError(f"{origin}: article text contains NUL bytes (binary input?)")
    if not title:
        title = text.split("\n", 1)[0][:120]
    url = (url or "").strip()
    if url and urlsplit(url).scheme.lower() not in WEB_SCHEMES:
        # The chat page links to it: a javascript: or data: url would run in its origin.
        raise ArticleError(f"{origin or title}: url {url[:80]!r} is not an http(s) address")
    article_id = (id or "").strip() or derive_id(url, title, text)
    if len(article_id) > 200 or not re.fullmatch(r"[\w.:\-]+", article_id):
        raise ArticleError(f"{origin}: article id {article_id!r} must be 1-200 of [A-Za-z0-9_.:-]")
    if not article_id.strip("."):
        raise ArticleError(f"{origin}: article id {article_id!r} is only dots (a path, not a name)")
    return Article(
        id=article_id,
        title=title,
        text=text,
        published=parse_published(published, origin or title),
        source=(source or "").strip(),
        url=url,
        origin=origin,
    )


def _clean_text(text: str) -> str:
    lines = [" ".join(line.split()) for line in (text or "").replace("\r\n", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()
