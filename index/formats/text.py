"""Reading an article file as text, and the small helpers more than one reader needs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from core.articles import ArticleError


def read_text_file(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ArticleError(f"{path}: looks like a binary file, not an article")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArticleError(f"{path}: is not UTF-8 text") from None


def host_name(url: str) -> str:
    """'https://www.example.org/a' -> 'example.org': a source name for pages and feeds that
    do not state one."""
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")
