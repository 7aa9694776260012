"""Pacing an answer into streamed pieces, shared by /chat's events and OpenAI's chunks."""

from __future__ import annotations

import re

WORDS_PER_DELTA = 3
DELTA_PAUSE_SECONDS = 0.015
"""The extractive answer is composed whole; pacing its pieces lets a page show it growing (and
keeps one answer from leaving as a single TCP packet that hides the streaming path)."""

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_PIECE = re.compile(r"\S+\s*")


def pieces(text: str, words: int = WORDS_PER_DELTA) -> list[str]:
    """Word groups that concatenate back to the text; a citation marker like '[2].' is one
    word, so a marker is never split across two pieces."""
    tokens = _PIECE.findall(text)
    lead = text[: len(text) - len(text.lstrip())]
    groups = ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]
    if groups and lead:
        groups[0] = lead + groups[0]
    return groups
