"""Small helpers for writing test inputs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

ANSWER_FIELDS = frozenset(
    {"answer", "refused", "citations", "reader", "kind", "support", "dropped", "threshold"}
)
"""The keys of an answer, as POST /ask and `newsdesk ask --json` both return it."""


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def article(n: int, text: str | None = None, **fields: object) -> dict[str, object]:
    return {
        "id": f"a{n}",
        "title": f"Article {n}",
        "published": "2023-10-2" + str(n % 10),
        "source": "Test Wire",
        "url": f"https://news.example/{n}",
        "text": text
        or f"Story number {n} reports that the council of town {n} approved budget {n}. "
        f"Officials in town {n} said the vote passed easily.",
        **fields,
    }


def call(url: str, method: str = "GET", body: object | None = None) -> tuple[int, object]:
    """(status, JSON reply, or the text of one that is not JSON) for one request, on a fresh
    connection (urllib keeps none: with several workers the kernel may hand it to any)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode()
