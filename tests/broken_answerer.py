"""A deliberately unfaithful answerer, for proving the eval gate catches what it claims to.

It wraps the real Assistant and breaks its answers the two ways a generating answerer
typically goes wrong: a person's name swapped for another name found in the corpus, and
citation markers pointing at a passage that does not say the sentence. Load it with
``newsdesk eval run ... --answerer broken_answerer:factory`` (PYTHONPATH=tests).
"""

from __future__ import annotations

import re
from dataclasses import replace

from assistant.answering import Assistant
from core.records import Answer, Citation, Filters, ScoredPassage

# Two or more capitalised words in a row on one line: "Mike Johnson", "Max Verstappen" (a
# paragraph's last capitalised word is no part of the next paragraph's first name).
_NAME = re.compile(r"\b[A-Z][a-z]+(?:[ \t]+[A-Z][a-z]+)+\b")
_MARKER = re.compile(r"\[(\d+)\]")
_NOT_PEOPLE = {"The", "A", "An", "In", "On", "At", "For", "But", "And", "It", "He", "She"}


def names(text: str) -> list[str]:
    found = []
    for match in _NAME.finditer(text):
        words = match.group(0).split()
        while words and words[0] in _NOT_PEOPLE:
            words = words[1:]
        if len(words) >= 2:
            found.append(" ".join(words))
    return list(dict.fromkeys(found))


class BrokenAnswerer:
    def __init__(self, assistant: Assistant, *, swap_names: bool, repoint: bool) -> None:
        self.assistant = assistant
        self.swap_names = swap_names
        self.repoint = repoint

    def ask(
        self, question: str, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer:
        honest = self.assistant.ask(question, top_k, filters)
        if honest.refused:
            return honest
        pool = self.assistant.search(question, 20)
        text, citations = honest.answer, list(honest.citations)
        if self.swap_names:
            text = self._swap(text, citations, pool)
        if self.repoint:
            text, citations = self._repoint(text, citations, pool)
        return replace(honest, answer=text, citations=citations)

    @staticmethod
    def _swap(text: str, citations: list[Citation], pool: list[ScoredPassage]) -> str:
        """Every name in the answer becomes another name from the corpus that the cited
        passages never mention."""
        cited = " ".join(c.passage for c in citations)
        others = [n for p in pool for n in names(p.text) if n not in cited]
        for original, replacement in zip(names(text), others, strict=False):
            text = text.replace(original, replacement)
        return text

    @staticmethod
    def _repoint(
        text: str, citations: list[Citation], pool: list[ScoredPassage]
    ) -> tuple[str, list[Citation]]:
        """Every marker now points at a passage from an article the answer did not cite."""
        cited_articles = {c.article_id for c in citations}
        wrong = next((p for p in reversed(pool) if p.article_id not in cited_articles), None)
        if wrong is None:
            return text, citations
        new_id = max((c.id for c in citations), default=0) + 1
        decoy = Citation(
            id=new_id,
            article_id=wrong.article_id,
            title=wrong.title,
            published=wrong.published.isoformat() if wrong.published else None,
            source=wrong.source,
            url=wrong.url,
            passage=wrong.text,
            start=wrong.start,
            end=wrong.end,
        )
        return _MARKER.sub(f"[{new_id}]", text), [*citations, decoy]


def factory(assistant: Assistant) -> BrokenAnswerer:
    """Both faults at once: what `--answerer broken_answerer:factory` loads."""
    return BrokenAnswerer(assistant, swap_names=True, repoint=True)


def swapped_names(assistant: Assistant) -> BrokenAnswerer:
    return BrokenAnswerer(assistant, swap_names=True, repoint=False)


def repointed_citations(assistant: Assistant) -> BrokenAnswerer:
    return BrokenAnswerer(assistant, swap_names=False, repoint=True)


class MarkupAnswerer:
    """The honest answer plus one sentence full of HTML, citing passage [1]: answers are
    untrusted text, and a report must show them, not render them."""

    SENTENCE = "Officials said the tally was \"<b>220 & 209</b>\" <script>alert('x')</script> [1]."

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def ask(
        self, question: str, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer:
        honest = self.assistant.ask(question, top_k, filters)
        if honest.refused or not honest.citations:
            return honest
        return replace(honest, answer=f"{honest.answer} {self.SENTENCE}")


def with_markup(assistant: Assistant) -> MarkupAnswerer:
    return MarkupAnswerer(assistant)
