"""Answer and retrieval metrics: pure functions over text, no model, no I/O.

Matching is deliberately forgiving about form and strict about content: case, punctuation,
articles, accents and "per cent"/"%" are normalised away (SQuAD's normalisation plus a few
news-specific spellings), but the gold answer's words must appear as a contiguous run, so
"18 killed" never matches gold "180".
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from core.words import ANSWER_STOPWORDS

__all__ = [
    "COVERAGE",
    "POLAR",
    "contains_answer",
    "content_tokens",
    "exact_match",
    "mean_or_none",
    "normalise",
    "passage_matches",
    "percentile",
    "retrieval_scores",
    "token_f1",
    "tokens",
]

COVERAGE = 0.8
"""A passage matches gold evidence it does not contain verbatim when it holds this share of
the evidence's content words: chunking can cut a fact at its edges, and facts are often
stored slightly reworded (MultiHop-RAG's facts are excerpts, the indexed text may differ in
quotes and spacing)."""

POLAR = frozenset({"yes", "no"})
"""Gold answers that cannot be looked for inside the answer: "no" occurs in many sentences
that do not mean no. A polar gold matches only an answer that starts with it."""

_MARKER = re.compile(r"\[\d+(?:\s*[,;\u2013-]\s*\d+)*\]")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCT = str.maketrans(
    {c: " " for c in string.punctuation + "\u2018\u2019\u201c\u201d\u2013\u2014"}
)


def normalise(text: str) -> str:
    """Lower-case, accents, punctuation and articles removed, whitespace collapsed.

    Digit-group commas are dropped before punctuation becomes spaces, so "1,400" and "1400"
    agree; "per cent" and "%" both become "percent".
    """
    text = _MARKER.sub(" ", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = re.sub(r"(?<=\d)\.(?=\d)", "point", text)  # keep "4.5" one token, distinct from "45"
    text = text.replace("%", " percent ").replace("per cent", "percent")
    text = text.translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    return normalise(text).split()


def content_tokens(text: str) -> set[str]:
    return {t for t in tokens(text) if t not in ANSWER_STOPWORDS}


def _contains_run(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    if not needle or len(needle) > len(haystack):
        return False
    first = needle[0]
    n = len(needle)
    return any(
        haystack[i] == first and list(haystack[i : i + n]) == list(needle)
        for i in range(len(haystack) - n + 1)
    )


def contains_answer(answer: str, golds: Iterable[str]) -> bool:
    """Any accepted gold answer appears, normalised, as a run of the answer's words."""
    words = tokens(answer)
    for gold in golds:
        gold_words = tokens(gold)
        if not gold_words:
            continue
        if len(gold_words) == 1 and gold_words[0] in POLAR:
            if words[:1] == gold_words:
                return True
        elif _contains_run(words, gold_words):
            return True
    return False


def exact_match(answer: str, golds: Iterable[str]) -> bool:
    norm = normalise(answer)
    return any(norm == normalise(g) and norm for g in golds)


def _f1(predicted: Sequence[str], gold: Sequence[str]) -> float:
    common = Counter(predicted) & Counter(gold)
    overlap = sum(common.values())
    if not overlap:
        return 0.0
    precision = overlap / len(predicted)
    recall = overlap / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(answer: str, golds: Iterable[str]) -> float:
    """SQuAD token F1, best over the accepted answers. Long extractive answers score low on
    precision by design: the number is comparable across answerers, not an absolute grade."""
    predicted = tokens(answer)
    return max((_f1(predicted, tokens(g)) for g in golds), default=0.0)


def passage_matches(passage: str, evidence: str) -> bool:
    """The passage holds the evidence: verbatim after normalisation, or >= COVERAGE of its
    content words."""
    passage_norm = normalise(passage)
    evidence_norm = normalise(evidence)
    if not evidence_norm:
        return False
    if f" {evidence_norm} " in f" {passage_norm} ":
        return True
    wanted = content_tokens(evidence)
    if not wanted:
        return False
    have = set(passage_norm.split())
    return len(wanted & have) / len(wanted) >= COVERAGE


def retrieval_scores(
    passages: Sequence[str], evidence: Sequence[str], answers: Sequence[str]
) -> tuple[float | None, float | None]:
    """(recall@k, reciprocal rank) of the retrieved passages, or (None, None) when the case
    has no gold to retrieve.

    With evidence, recall is the share of evidence items some passage matches (multi-hop
    questions need all of them) and the reciprocal rank is that of the first passage matching
    any item. Without evidence, a passage matches when it contains a gold answer (how
    RealTimeQA defines its gold), so recall is 0 or 1. Polar answers ("yes") are not
    retrievable text, so such cases are not measured.
    """
    if evidence:
        found = [any(passage_matches(p, e) for p in passages) for e in evidence]
        ranks = [
            rank
            for rank, p in enumerate(passages, start=1)
            if any(passage_matches(p, e) for e in evidence)
        ]
        return sum(found) / len(evidence), (1.0 / ranks[0]) if ranks else 0.0
    golds = [a for a in answers if normalise(a) not in POLAR and normalise(a)]
    if not golds:
        return None, None
    for rank, passage in enumerate(passages, start=1):
        if contains_answer(passage, golds):
            return 1.0, 1.0 / rank
    return 0.0, 0.0


def mean_or_none(values: Iterable[float | bool | None]) -> float | None:
    """The mean of the measured values; None (not 0) when nothing was measured, so a suite
    without unanswerable questions reports refusal accuracy as unknown, not as failing."""
    measured = [float(v) for v in values if v is not None]
    return sum(measured) / len(measured) if measured else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
