"""The default answerer: an answer made only of evidence sentences, each with its citation.

No LLM and no network. Every sentence of the answer is a sentence of a cited passage (or the
same fact stated by several passages, fused into one sentence citing all of them), so the answer
is faithful by construction. When no sentence supports the question well enough, or the
question names someone the evidence never mentions, it refuses instead of quoting the nearest
unrelated passage (RAGFlow's fixed refusal).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
from numpy.typing import NDArray

from assistant.kinds import Kind, question_kind
from assistant.planner import in_period, relative_to_today
from assistant.sentence_vectors import SentenceVectors
from assistant.terms import (
    QuestionTerms,
    analyse,
    offers_answer,
    overlap,
    says_nothing_new,
    subject_absent,
)
from core.records import Answer, Citation, ScoredPassage
from core.sentences import split_sentences

REFUSAL = "I could not find an answer to that in the indexed news."
OVERLAP_WEIGHT = 0.3
ANSWER_TYPE_BONUS = 0.12
"""Lift for a sentence that holds the kind of thing asked for (a name for 'who ...?')."""
DUPLICATE_SIMILARITY = 0.86
MIN_SENTENCE_CHARS = 25
SELECTION_MARGIN = 0.15
"""Sentences scoring this far below the best one are not part of the answer."""
BACKGROUND_PENALTY = 0.2
"""For a question about the present, the drop of a sentence that dates itself to years before
its report: the story's background, not its news (see `recounts_the_past`)."""
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")


@dataclass(frozen=True)
class Candidate:
    passage_index: int
    """Where the sentence's passage is in the passages being composed from."""
    position: int
    start: int
    end: int
    """Where the sentence stands in its passage's text (for highlighting it)."""
    text: str
    similarity: float
    score: float


class Composer:
    def __init__(
        self,
        vectors: SentenceVectors,
        min_support: float,
        max_sentences: int,
    ) -> None:
        self.vectors = vectors
        self.min_support = min_support
        self.max_sentences = max_sentences

    def compose(
        self,
        question: str,
        passages: Sequence[ScoredPassage],
        query_vector: NDArray[np.float32],
        window: tuple[date, date] | None = None,
    ) -> Answer:
        terms = analyse(question)
        candidates = self.candidates(terms, passages, query_vector)
        supported = [c for c in candidates if c.similarity >= self.min_support]
        if not supported:
            return Answer(REFUSAL, True, [], question)
        evidence = " ".join(
            f"{passages[i].title} {passages[i].text}" for i in {c.passage_index for c in supported}
        )
        if subject_absent(terms, evidence):
            return Answer(REFUSAL, True, [], question)
        chosen = self.select(self.of_the_period(supported, passages, window))
        return self.render(question, chosen, passages)

    def candidates(
        self,
        terms: QuestionTerms,
        passages: Sequence[ScoredPassage],
        query_vector: NDArray[np.float32],
    ) -> list[Candidate]:
        spans = [
            (p, pos, s)
            for p, passage in enumerate(passages)
            for pos, s in enumerate(split_sentences(passage.text))
            if len(s.text) >= MIN_SENTENCE_CHARS
        ]
        if not spans:
            return []
        vectors = self.vectors.encode([s.text for _, _, s in spans])
        similarities = vectors @ query_vector
        present = relative_to_today(terms.text)
        asked = years_named(terms.text)
        out = [
            Candidate(
                passage_index=p,
                position=pos,
                start=s.start,
                end=s.end,
                text=s.text,
                similarity=float(sim),
                score=float(sim)
                + OVERLAP_WEIGHT * overlap(terms, s.text)
                + (ANSWER_TYPE_BONUS if offers_answer(terms, s.text) else 0.0)
                - (
                    BACKGROUND_PENALTY
                    if present and recounts_the_past(s.text, passages[p].published, asked)
                    else 0.0
                ),
            )
            for (p, pos, s), sim in zip(spans, similarities, strict=True)
        ]
        # A question asking for a name, number or date is not answered by a sentence that
        # only restates it (its scene, or its own words); a heading that asks it has handed
        # its score on to the sentence after it by now (see answering).
        stating = answering(out)
        if question_kind(terms.text) in _ASKS_FOR_SOMETHING and not _CHOICE.search(terms.text):
            stating = [c for c in stating if not says_nothing_new(terms, c.text)]
        return sorted(stating, key=lambda c: c.score, reverse=True)

    def of_the_period(
        self,
        ranked: list[Candidate],
        passages: Sequence[ScoredPassage],
        window: tuple[date, date] | None,
    ) -> list[Candidate]:
        """For a question about the present's period ("this week"), only the sentences of
        reports published in it, when one of them supports the question: in an archive of
        years an older story often says it in the question's own words ("Family Pharmacy ...
        filed for bankruptcy Monday", 2018; "the Giants won the World Series", 2014) while
        the week's report holds the answer ("Rite Aid filed for bankruptcy Sunday"), and an
        older story's answer to "this week" is a wrong one, however well it is quoted. With
        no supported sentence in the period everything stays, so an archive without the
        week's report is still searched (the retriever prefers the period's reports for the
        same reason). Whether the question's subject is in the evidence at all is decided
        before, over every supported sentence: the week's report need not repeat each word of
        the question ("in US history")."""
        inside = [c for c in ranked if in_period(passages[c.passage_index].published, window)]
        if any(c.similarity >= self.min_support for c in inside):
            return inside
        return ranked

    def select(self, ranked: Sequence[Candidate]) -> list[tuple[Candidate, list[Candidate]]]:
        """Best sentences first; a sentence that restates one already chosen adds its passage
        as a second citation instead of repeating the fact. Each chosen sentence comes with
        every sentence that states it (itself first), one per passage."""
        best = ranked[0].score
        chosen: list[tuple[Candidate, list[Candidate]]] = []
        chosen_vectors: list[NDArray[np.float32]] = []
        for candidate in ranked:
            if candidate.score < best - SELECTION_MARGIN:
                break
            vector = self.vectors.encode([candidate.text])[0]
            twin = next(
                (
                    i
                    for i, v in enumerate(chosen_vectors)
                    if float(v @ vector) >= DUPLICATE_SIMILARITY
                ),
                None,
            )
            if twin is not None:
                cites = chosen[twin][1]
                if all(c.passage_index != candidate.passage_index for c in cites):
                    cites.append(candidate)
                continue
            if len(chosen) >= self.max_sentences:
                continue
            chosen.append((candidate, [candidate]))
            chosen_vectors.append(vector)
        # Read in story order: by passage rank, then by position in the passage.
        chosen.sort(key=lambda item: (item[0].passage_index, item[0].position))
        return chosen

    def render(
        self,
        question: str,
        chosen: Sequence[tuple[Candidate, list[Candidate]]],
        passages: Sequence[ScoredPassage],
    ) -> Answer:
        numbers: dict[int, int] = {}
        spans: dict[int, list[tuple[int, int]]] = {}
        sentences: list[str] = []
        for candidate, stated in chosen:
            markers = "".join(
                f"[{numbers.setdefault(c.passage_index, len(numbers) + 1)}]" for c in stated
            )
            sentences.append(attach_markers(candidate.text, markers))
            for c in stated:
                spans.setdefault(c.passage_index, []).append((c.start, c.end))
        citations = [
            Citation.from_passage(number, passages[p], highlights=spans[p])
            for p, number in sorted(numbers.items(), key=by_number)
        ]
        return Answer(" ".join(sentences), False, citations, question, kind=question_kind(question))


_ASKS_FOR_SOMETHING = frozenset({Kind.ENTITY, Kind.LIST, Kind.NUMBER, Kind.DATE})
_CHOICE = re.compile(r"\bor\b", re.IGNORECASE)
"""'Which came first, A or B?': the answer is one of the question's own words."""
_ASKS = re.compile(r"\?[\"'”’)\]]*$")


def answering(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Candidates in passage order without the sentences that ask: a question states nothing.
    Explainers and FAQs put the answer right after a question heading ("When does daylight
    saving time end in 2023? ... It officially ends Sunday, Nov. 5, at 2 a.m."), and the
    heading is what matches the user's question, so the next sentence of its passage takes the
    heading's score and similarity when they are higher."""
    out: list[Candidate] = []
    inherited: Candidate | None = None
    for candidate in candidates:
        if inherited is not None and inherited.passage_index == candidate.passage_index:
            candidate = replace(
                candidate,
                similarity=max(candidate.similarity, inherited.similarity),
                score=max(candidate.score, inherited.score),
            )
        inherited = None
        if _ASKS.search(candidate.text.rstrip()):
            inherited = candidate
            continue
        out.append(candidate)
    return out


def by_number(item: tuple[int, int]) -> int:
    return item[1]


def attach_markers(sentence: str, markers: str) -> str:
    """'He left.' -> 'He left [1].' so the marker sits inside the sentence it supports. A
    trailing ellipsis (search snippets end in one) goes, so no reader mistakes '... [1].' for
    a sentence break before the marker."""
    text = sentence.rstrip()
    unquoted = text.rstrip("\"'”’)]")
    closing = text[len(unquoted) :]
    body = unquoted.rstrip(" .!?…")
    if not body:
        return f"{text} {markers}"
    tail = unquoted[len(body) :]
    end = next((c for c in reversed(tail) if c in "!?"), ".")
    # 'It was "obscene."' -> 'It was "obscene" [1].': the marker stays inside the sentence.
    return f"{body}{closing} {markers}{end}"


def recounts_the_past(
    sentence: str, published: date | None, asked: frozenset[int] = frozenset()
) -> bool:
    """Whether a sentence names years, all of them before its report's year and none of them
    one the question asks about. A story about this week's landing recalls the record it broke
    ("Vande Hei returned to Earth in March 2022 after 355 days"), the week's World Series story
    the manager's 1962 one, and those sentences share the question's words as well as the news
    does: asked about the present, they are the background ("the most since 2019?" still
    wants its 2019 sentence)."""
    if published is None:
        return False
    years = years_named(sentence)
    return bool(years) and max(years) < published.year and not years & asked


def years_named(text: str) -> frozenset[int]:
    return frozenset(int(y) for y in _YEAR.findall(text))
