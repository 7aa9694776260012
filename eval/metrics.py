"""Answer and retrieval metrics: pure functions over text, no model, no I/O.

Matching is deliberately forgiving about form and strict about content: case, punctuation,
articles, accents and "per cent"/"%" are normalised away (SQuAD's normalisation plus a few
news-specific spellings), but the gold answer's words must appear as a contiguous run, so
"18 killed" never matches gold "180". The one exception is word_overlap_correct, MultiHop-RAG's
own looser rule, kept only so our numbers can stand beside the paper's.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from core.words import ANSWER_STOPWORDS, NUMBER_WORDS

__all__ = [
    "COVERAGE",
    "POLAR",
    "contains_answer",
    "content_tokens",
    "exact_match",
    "mean_or_none",
    "normalise",
    "overlap_words",
    "passage_matches",
    "percentile",
    "retrieval_scores",
    "token_f1",
    "tokens",
    "word_overlap_correct",
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


_EDGE_PUNCT = string.punctuation + "\u2018\u2019\u201c\u201d\u2013\u2014"
_ANSWER_TEMPLATE = re.compile(r'The answer to the question is "(.*?)"')


def overlap_words(text: str) -> set[str]:
    """MultiHop-RAG's words of a text: lower-cased, split on whitespace (``set(a.split())``
    in its qa_evaluate.py), with our one change that punctuation at a word's edges and
    citation markers are dropped.

    The paper's model was told to answer with a bare word or entity, so its split rarely
    met punctuation; our answers are sentences ("Yes, the Verge says ... [1].") and a raw
    split would never find "yes" in "yes,". Inner punctuation stays, as in the source:
    "bankman-fried" is one word and "google's" is not "google".
    """
    text = _MARKER.sub(" ", text).lower()
    return {w for w in (raw.strip(_EDGE_PUNCT) for raw in text.split()) if w}


def word_overlap_correct(
    answer: str, golds: Iterable[str], *, refused: bool = False, unanswerable: bool = False
) -> bool:
    """MultiHop-RAG's answer accuracy for one case: right when the answer shares a word with
    a gold answer.

    Source: yixuantt/MultiHop-RAG, qa_evaluate.py (HEAD 3dd4d4e), where a prediction counts
    when ``has_intersection(pred.lower(), gold.lower())``, i.e.
    ``len(set(a.split()).intersection(set(b.split()))) > 0``, after ``extract_answer`` keeps
    the quoted part of 'The answer to the question is "..."' when the model used that
    template. The paper's accuracy (GPT-4: 0.56 with retrieved chunks) is the share of
    questions matched, which is what the script prints as precision (tp / (tp + fp), one
    answer per question); the "accuracy" that commit cc33cd8 added later, with
    tn = fp = fn = n - tp, is n / (3n - 2tp), not a share, and not the paper's figure.
    The rule is loose (the model was asked for "a word or entity", so one shared word was
    taken as a match): "Sam Altman" matches gold "Sam Bankman-Fried", and any sentence with
    "no" in it matches gold "no". Use it to stand beside the paper's figures, not as a
    measure of being right: that is ``correctness``.

    Refusals: the paper's null queries have the gold "Insufficient information." and the
    model is told to say "Insufficient Information", so saying it is right there and
    (sharing no word with a real gold) wrong elsewhere. Our suites mark null queries
    ``unanswerable`` with no gold and our answerers refuse with a flag, so: an unanswerable
    case is right exactly when refused, and a refused answerable case is wrong whatever
    the refusal's wording. Multiple golds (RealTimeQA's aliases): any one may match.
    """
    if unanswerable:
        return refused
    if refused:
        return False
    match = _ANSWER_TEMPLATE.search(answer)
    said = overlap_words(match.group(1) if match else answer)
    return any(said & overlap_words(gold) for gold in golds)


def _contains_run(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    if not needle or len(needle) > len(haystack):
        return False
    first = needle[0]
    n = len(needle)
    return any(
        haystack[i] == first and list(haystack[i : i + n]) == list(needle)
        for i in range(len(haystack) - n + 1)
    )


def _form(word: str) -> str:
    """A word as an answer is matched on: a number word as its figure ("four" is "4", "dozen"
    is "12"; core.words.NUMBER_WORDS, which the judge reads too) and a plural as its singular
    ("UFOs" is "UFO"), the forms news copy and gold answers switch between without changing
    what is said."""
    word = NUMBER_WORDS.get(word, word)
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def contains_answer(answer: str, golds: Iterable[str]) -> bool:
    """Any accepted gold answer appears, normalised, as a run of the answer's words (each
    word in its matching form, see _form)."""
    said = tokens(answer)
    words = [_form(w) for w in said]
    for gold in golds:
        gold_words = [_form(w) for w in tokens(gold)]
        if not gold_words:
            continue
        if len(gold_words) == 1 and gold_words[0] in POLAR:
            if said[:1] == gold_words:
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
