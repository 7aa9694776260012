"""Reading articles from files and folders, whatever format they come in.

One reader per format, chosen by file suffix (and sniffed content for ambiguous suffixes).
Readers yield Articles or raise ArticleError naming the file and the problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from index.articles import Article, ArticleError, derive_id, make_article

TEXT_SUFFIXES = {".txt", ".text", ".md"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
JSON_SUFFIXES = {".json"}
HTML_SUFFIXES = {".html", ".htm"}
FEED_SUFFIXES = {".rss", ".atom", ".xml"}
ALL_SUFFIXES = TEXT_SUFFIXES | JSONL_SUFFIXES | JSON_SUFFIXES | HTML_SUFFIXES | FEED_SUFFIXES


def read_text_file(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ArticleError(f"{path}: looks like a binary file, not an article")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArticleError(f"{path}: is not UTF-8 text") from None


def parse_seed_text(
    content: str, origin: str, source: str = "", article_id: str | None = None
) -> Article:
    """The seed format: first line `date YYYY-MM-DD Title`, then the body."""
    head, _, body = content.strip().partition("\n")
    words = head.strip().split(" ", 2)
    if len(words) >= 2 and words[0].lower() == "date":
        published = words[1]
        title = words[2] if len(words) > 2 else ""
    else:
        # A plain text file: first line is the title, no date.
        published, title = None, head
    return make_article(
        title=title, text=body, published=published, source=source, origin=origin, id=article_id
    )


def parse_record(record: object, origin: str) -> Article:
    """One JSON object with id?, title, published, source, url, text."""
    if not isinstance(record, dict):
        raise ArticleError(f"{origin}: expected a JSON object, got {type(record).__name__}")
    text = record.get("text")
    if not isinstance(text, str):
        raise ArticleError(f"{origin}: field 'text' is missing or not a string")
    fields = {}
    for key in ("title", "source", "url", "id"):
        value = record.get(key)
        if value is not None and not isinstance(value, str | int):
            raise ArticleError(f"{origin}: field {key!r} must be a string")
        fields[key] = None if value is None else str(value)
    return make_article(
        title=fields["title"] or "",
        text=text,
        published=record.get("published") or record.get("published_at") or record.get("date"),
        source=fields["source"] or "",
        url=fields["url"] or "",
        id=fields["id"],
        origin=origin,
    )


def read_jsonl(path: Path) -> Iterator[Article]:
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        if not line.strip():
            continue
        origin = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ArticleError(f"{origin}: malformed JSON ({exc.msg})") from None
        yield parse_record(record, origin)


def read_json(path: Path) -> Iterator[Article]:
    try:
        data = json.loads(read_text_file(path))
    except json.JSONDecodeError as exc:
        raise ArticleError(f"{path}: malformed JSON ({exc.msg})") from None
    records = data if isinstance(data, list) else [data]
    for number, record in enumerate(records, start=1):
        yield parse_record(record, f"{path}[{number}]")


def read_seed(path: Path) -> Iterator[Article]:
    # The file is the article: editing its title or body updates it instead of adding another.
    file_id = derive_id(path.resolve().as_uri(), "", "")
    yield parse_seed_text(read_text_file(path), str(path), article_id=file_id)


def _web_reader(kind: str) -> Callable[[Path], Iterable[Article]]:
    def read(path: Path) -> Iterable[Article]:
        from index import web_formats  # trafilatura and feedparser load only when needed

        reader: Callable[[Path], Iterable[Article]] = getattr(web_formats, f"read_{kind}")
        return reader(path)

    return read


def reader_for(path: Path) -> Callable[[Path], Iterable[Article]]:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return read_jsonl
    if suffix in JSON_SUFFIXES:
        return read_json
    if suffix in HTML_SUFFIXES:
        return _web_reader("html")
    if suffix in FEED_SUFFIXES:
        return _web_reader("feed")
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


def load_articles(paths: Iterable[Path]) -> list[Article]:
    """Every article under the given paths; the first bad input stops the load before any
    write happens, so a typo never half-ingests a batch."""
    articles: list[Article] = []
    for path in discover(paths):
        articles.extend(reader_for(path)(path))
    return articles
