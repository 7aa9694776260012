"""Sentence spans with character offsets, for answer composition and reranking.

A regex splitter is enough for news prose and keeps offsets exact (punkt would need a second
pass to find them); it knows the abbreviations that news copy is full of.

Evaluation does not use it: assistant.judge.claims has its own splitter, on purpose. That one reads
answers rather than articles (citation markers stay with the sentence they end, blank lines and
list bullets are boundaries) and returns text without offsets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sen",
        "rep",
        "gov",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "st",
        "jr",
        "sr",
        "inc",
        "ltd",
        "corp",
        "co",
        "no",
        "vs",
        "etc",
        "u.s",
        "u.k",
        "u.n",
        "e.g",
        "i.e",
        "jan",
        "feb",
        "mar",
        "apr",
        "aug",
        "sept",
        "sep",
        "oct",
        "nov",
        "dec",
        "mt",
        "ft",
        "approx",
        "dept",
        "est",
        "fig",
        "rev",
        "hon",
        "pres",
        "atty",
        "supt",
    ]
)
_BOUNDARY = re.compile(r"""(?<=[.!?])["'”’)\]]*\s+(?=["'“‘(\[]?[A-Z0-9])|\n+""")


@dataclass(frozen=True)
class Span:
    text: str
    start: int
    end: int


def split_sentences(text: str) -> list[Span]:
    spans: list[Span] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        candidate = text[start : match.start()].rstrip()
        if not candidate.strip():
            start = match.end()
            continue
        if match.group(0).strip() == "" and "\n" not in match.group(0) and _ends_abbrev(candidate):
            continue
        _append(spans, text, start, match.start())
        start = match.end()
    _append(spans, text, start, len(text))
    return spans


def _ends_abbrev(candidate: str) -> bool:
    last = candidate.rsplit(None, 1)[-1].lower().rstrip(".")
    last = last.lstrip("\"'“‘(")
    if last in _ABBREVIATIONS:
        return True
    # Initials ("J. Smith") and single letters.
    return len(last) == 1 and last.isalpha()


def _append(spans: list[Span], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if not stripped:
        return
    lead = len(chunk) - len(chunk.lstrip())
    s = start + lead
    spans.append(Span(text=stripped, start=s, end=s + len(stripped)))
