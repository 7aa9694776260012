"""Small helpers for writing test inputs."""

from __future__ import annotations

import json
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
