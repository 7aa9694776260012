"""Which of two reports came first, decided from the catalog's publication dates.

"Did TechCrunch report on Flipboard's ActivityPub plans after The Verge explained the
protocol?" is a question about two dates the catalog holds; a 1.5B model reading them off the
evidence lines guesses. Code decides it instead: each side of the question (before and after
its "before"/"after") is matched to the retrieved passage that shares most of its words, among
the passages of the outlet that side names when it names one, and the verdict is the order of
the two articles' published dates. When a side matches no passage well, both sides match the
same article, or the two dates are the same day, there is nothing for code to decide and the
reader asks the model as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from assistant.terms import content_words, stem
from core.records import ScoredPassage

_POLAR_ORDER = re.compile(
    r"^\s*(?:did|was|were|has|had)\b(?P<a>.+?)"
    r"\b(?P<rel>before|after|earlier than|later than|prior to)\b(?P<b>.+)$",
    re.IGNORECASE | re.DOTALL,
)
""""Did A ... before B ...?": the question opens with its verb, so a leading "After X
reported ..., did Y stay consistent?" (a premise, not an order) never matches, nor does the
present tense ("Does the article mention his return after an injury ...?": content)."""
_REPORTING = re.compile(
    r"\b(?:report|mention|discuss|publish|cover|write|wrote|written|announc|state|note|"
    r"highlight|reveal|say|said|describ|detail|explain|featur)\w*",
    re.IGNORECASE,
)
_OPENING = re.compile(r"^\W*(?:the\s+)?\W*(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)

_WHICH_ORDER = re.compile(
    r"^(?P<a>.+?)\b(?P<rel>before or after|after or before)\b(?P<b>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_LATER = ("after", "later than")

MIN_OVERLAP = 0.4
"""Share of a side's content words a passage must contain to stand for it: below it the side
names something the retrieved passages do not report, and the model decides."""


@dataclass(frozen=True)
class Order:
    """A verdict on the order of two reports and the passages (by index) it rests on."""

    verdict: str
    """ "Yes"/"No" for "did A ... before B", "Before"/"After" for "A before or after B"."""
    first: int
    second: int

    def dates_sentence(self, passages: Sequence[ScoredPassage]) -> str:
        a, b = passages[self.first], passages[self.second]
        return (
            f"{_outlet(a)} published its report on {_day(a.published)}, "
            f"{_outlet(b)} on {_day(b.published)}"
        )


def decide_order(question: str, passages: Sequence[ScoredPassage]) -> Order | None:
    match = _WHICH_ORDER.match(question) or _POLAR_ORDER.match(question)
    if match is None or not _about_reports(match.group("a"), match.group("b"), passages):
        return None
    vocabularies = [{stem(w) for w in content_words(p.named_text)} for p in passages]
    a = _stands_for(match.group("a"), passages, vocabularies)
    b = _stands_for(match.group("b"), passages, vocabularies)
    if a is None or b is None:
        return None
    first, second = passages[a], passages[b]
    if first.article_id == second.article_id or first.published is None:
        return None
    if second.published is None or first.published == second.published:
        return None
    earlier = first.published < second.published
    relation = match.group("rel").lower()
    if "or" in relation.split():
        return Order("Before" if earlier else "After", a, b)
    wanted_earlier = relation not in _LATER
    return Order("Yes" if earlier == wanted_earlier else "No", a, b)


def _about_reports(a: str, b: str, passages: Sequence[ScoredPassage]) -> bool:
    """Whether the two sides are two reports: the first says what was reported, the second
    opens with the outlet that reported it ("... before The Verge discussed ..."), not with
    an event ("... after an injury ...", "... before making decisions")."""
    if not _REPORTING.search(a) or not _REPORTING.search(b):
        return False
    rest = _bare(b)
    outlets = {_bare(s) for p in passages for s in _outlets(p)}
    return any(o and rest.startswith(o) for o in outlets) or rest.startswith(("it ", "they "))


def _bare(text: str) -> str:
    """Lower case, without the quotes and the "the" an outlet's name may be written with."""
    opening = _OPENING.match(text)
    return (opening.group("rest") if opening else text).lower()


def _outlets(passage: ScoredPassage) -> list[str]:
    return [s for s in (passage.source, *passage.sources) if s]


def _stands_for(
    side: str, passages: Sequence[ScoredPassage], vocabularies: Sequence[set[str]]
) -> int | None:
    """The passage that reports what one side of the question describes (`vocabularies`:
    each passage's word stems, outlets and title included)."""
    lowered = side.lower()
    named = [i for i, p in enumerate(passages) if any(s.lower() in lowered for s in _outlets(p))]
    wanted = {stem(w) for w in content_words(side)}
    if not wanted:
        return None
    best, best_share = None, 0.0
    for i in named or range(len(passages)):
        share = len(wanted & vocabularies[i]) / len(wanted)
        if share > best_share:
            best, best_share = i, share
    return best if best_share >= MIN_OVERLAP else None


def _outlet(passage: ScoredPassage) -> str:
    return passage.source or passage.title or "one report"


def _day(when: date | None) -> str:
    return f"{when:%-d %B %Y}" if when else "an unknown date"
