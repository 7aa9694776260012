"""Plain text files and the seed format: first line `date YYYY-MM-DD Title`, then the body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from core.articles import Article, derive_id, make_article
from index.formats.text import read_text_file


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


def read_seed(path: Path) -> Iterator[Article]:
    # The file is the article: editing its title or body updates it instead of adding another.
    file_id = derive_id(path.resolve().as_uri(), "", "")
    yield parse_seed_text(read_text_file(path), str(path), article_id=file_id)
