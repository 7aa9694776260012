"""Exact lexical checks of a claim against its evidence: the names, numbers and dates an
embedding is blind to (a swapped name or a changed number barely moves a cosine), plus
content-word recall and copied-fragment statistics.

The judge keeps its own stemmer (``_stem``) and its own name finder (``_CAPITALISED``) instead
of reusing the assistant's: it grades the assistant's answers, so it must not inherit the
assistant's blind spots (a name the assistant's finder misses would then be missed on both
sides and never checked), and a change made to help retrieval must not move the judge's
scores.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.judge.alignment import evidence_windows
from core.words import (
    JUDGE_COMMON_OPENERS,
    JUDGE_FUNCTION_WORDS,
    JUDGE_TITLES,
    MONTHS,
    NUMBER_WORDS,
)

__all__ = ["LexicalScorer", "extract_entities", "normalise_tokens"]

_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?")


# Words that news reports interchange for one fact, folded to one form on both sides so a
# paraphrase is not counted as a missing word ("1,400 were killed" / "1,400 died"). Short on
# purpose: each entry must hold in both directions for a reader of the evidence.
def _fold(words: str, to: str) -> dict[str, str]:
    return dict.fromkeys(words.split(), to)


_PARAPHRASES = {
    **_fold("die died dies dying dead death deaths kill killed kills killing", "die"),
    **_fold("percent pc", "percent"),
    **_fold("children", "child"),
    **_fold("women", "woman"),
    **_fold("men", "man"),
    **_fold("people", "person"),
}
# Number scales: "1.4 thousand" and "1,400" are one number, and so are "$5bn" and "5 billion".
_SCALED = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?)\s*(thousand|million|billion|trillion|m|bn|k)\b", re.IGNORECASE
)
_SCALE = {"thousand": 3, "k": 3, "million": 6, "m": 6, "billion": 9, "bn": 9, "trillion": 12}


def _unscale(match: re.Match[str]) -> str:
    value = float(match.group(1)) * 10 ** _SCALE[match.group(2).lower()]
    return f"{value:.0f}"


def _stem(token: str) -> str:
    """Crude suffix folding so "attacks"/"attack" and "Israel's"/"Israel" match; both sides
    go through it, so over-folding costs little. (Folding "-ed"/"-ing" too was measured: it
    lowered the AUC of every word-recall feature on both QAGS sets, so it is not done.)"""
    if token.endswith("'s"):
        token = token[:-2]
    if token.isdigit() or len(token) <= 3:
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def normalise_tokens(text: str) -> list[str]:
    """Lower-cased, number-normalised, lightly stemmed tokens ("1,400" and "1.4 thousand" ->
    "1400", "%" -> "percent", "five" -> "5", "killed" and "died" -> "die")."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = _SCALED.sub(_unscale, text)
    text = text.replace("%", " percent ").replace("per cent", "percent")
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        token = NUMBER_WORDS.get(token, token)
        if "." in token:
            token = token.rstrip("0").rstrip(".")  # "2.50" == "2.5"
        token = _PARAPHRASES.get(token, token)
        tokens.append(_stem(token))
    return tokens


_CAPITALISED = re.compile(  # not the capital inside a word ("eBay", "iPhones")
    r"(?<![\w'\u2019])(?:[A-Z][\w'\u2019.-]*|\d[\d,.]*)"
    r"(?:\s+(?:(?:of|de|da|del|al|bin|van|von|la|le)\s+)?[A-Z][\w'\u2019.-]*)*"
)
_NUMBER = re.compile(
    r"\d[\d,]*(?:\.\d+)?(?:\s*(?:thousand|million|billion|trillion|bn|m|k)\b)?%?"
    r"|\b(?:" + "|".join(NUMBER_WORDS) + r")\b",
    re.I,
)
_MONTHS = frozenset(MONTHS)
# A number the claim only bounds ("more than 100", "nearly 2,000") is found when the evidence
# states a figure that rounds to it ("116 bodies" supports "more than 100 bodies"): a summary
# rounds the figure its article gives to a round number. Its entity token carries the bound
# as a prefix.
_BOUNDS = {
    **dict.fromkeys(["more than", "over", "at least", "upwards of", "in excess of"], ">"),
    **dict.fromkeys(["fewer than", "less than", "under", "up to"], "<"),
    **dict.fromkeys(
        ["nearly", "almost", "about", "around", "approximately", "roughly", "some"], "~"
    ),
}
_BOUND_PREFIXES = frozenset(_BOUNDS.values())
_BOUND_WORDS = frozenset(word for bound in _BOUNDS for word in bound.split())
_BOUND = re.compile(r"\b(" + "|".join(_BOUNDS) + r")\s+[£$€]?\s*$", re.IGNORECASE)


def _as_number(token: str) -> float | None:
    try:
        return float(token)
    except ValueError:
        return None


def _in_bound(token: str, numbers: Sequence[float]) -> bool:
    """Whether a bounded number token (">100", "<50", "~2000") is met by one of the
    evidence's ``numbers``: one that, rounded down ("more than"), up ("less than") or to the
    nearest ("about") at the bound's own precision (hundreds for 100, units for 11), gives
    the bound. So 116 meets "more than 100" but 17 does not meet "at least 11": people read
    a bound on an unrounded figure as that figure."""
    kind, text = token[0], token[1:]
    value = float(text)
    if "." in text:
        step = 10.0 ** -len(text.split(".")[1])
    else:
        step = 10.0 ** (len(text) - len(text.rstrip("0"))) if value else 1.0
    rounding = {">": math.floor, "<": math.ceil}.get(kind, lambda x: math.floor(x + 0.5))
    return any(
        math.isclose(rounding(n / step) * step, value) and (n >= value if kind == ">" else True)
        for n in numbers
    )


def extract_entities(claim: str) -> list[list[str]]:
    """Names (capitalised word runs), numbers and dates, each as normalised tokens.

    A sentence-initial capitalised stopword ("The", "He") is not a name; a capitalised run
    after it still is.
    """
    return [tokens for tokens, _ in _entities(claim)]


def _entities(claim: str) -> list[tuple[list[str], bool]]:
    """``extract_entities`` with, for each, whether it is surely a proper name: a capitalised
    run of two or more words, or one word inside the sentence ("Scientists have ..." may be a
    common noun capitalised to start the sentence; "the Bank of Japan" is a name)."""
    entities: list[tuple[list[str], bool]] = []
    seen: set[tuple[str, ...]] = set()

    def add(tokens: list[str], proper: bool = False) -> None:
        key = tuple(tokens)
        if tokens and key not in seen:
            seen.add(key)
            entities.append((tokens, proper))

    for match in _CAPITALISED.finditer(claim):
        words = match.group(0)
        if words[0].isdigit() or words.lower() in NUMBER_WORDS:
            continue
        tokens = [t for t in normalise_tokens(words) if t not in JUDGE_TITLES]
        # Drop leading stopwords ("The Pentagon" -> "pentagon", "He" -> nothing) and, at
        # the start of the sentence, common openers and "-ly" adverbs.
        at_start = not claim[: match.start()].strip(" \"'\u201c\u2018(")
        while tokens and (
            tokens[0] in JUDGE_FUNCTION_WORDS
            or (
                at_start
                and (
                    tokens[0] in JUDGE_COMMON_OPENERS
                    or tokens[0] in _BOUND_WORDS
                    or tokens[0].endswith("ly")
                )
            )
        ):
            tokens = tokens[1:]
        if tokens and not all(t in JUDGE_FUNCTION_WORDS for t in tokens):
            add(tokens, proper=len(tokens) > 1 or not at_start)
    for match in _NUMBER.finditer(claim):
        # "one" is as often a pronoun ("one of the children") as a count.
        if match.group(0).lower() not in ("one", "zero"):
            tokens = normalise_tokens(match.group(0))
            bound = _BOUND.search(claim[: match.start()])
            if bound and len(tokens) == 1 and _as_number(tokens[0]) is not None:
                tokens = [_BOUNDS[bound.group(1).lower()] + tokens[0]]
            add(tokens)
    for token in normalise_tokens(claim):
        if token in _MONTHS:
            add([token])
    return entities


def _ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _fragments(claim: Sequence[str], evidence: Sequence[str]) -> list[int]:
    """Lengths of the greedy longest copied fragments (Grusky et al., 2018): spliced
    summaries are built from many short fragments, faithful ones from a few long ones."""
    positions: dict[str, list[int]] = {}
    for j, token in enumerate(evidence):
        positions.setdefault(token, []).append(j)
    lengths: list[int] = []
    i = 0
    while i < len(claim):
        best = 0
        for j in positions.get(claim[i], ()):
            k = 0
            while i + k < len(claim) and j + k < len(evidence) and claim[i + k] == evidence[j + k]:
                k += 1
            best = max(best, k)
        if best:
            lengths.append(best)
            i += best
        else:
            i += 1
    return lengths


@dataclass
class _Evidence:
    """Token views of one evidence text, computed once however many claims it is checked
    against."""

    tokens: list[str]
    vocabulary: set[str]
    bigrams: set[tuple[str, ...]]
    windows: list[set[str]]
    numbers: list[float]

    def has(self, token: str) -> bool:
        if token[:1] in _BOUND_PREFIXES:
            return _in_bound(token, self.numbers)
        return token in self.vocabulary


class LexicalScorer:
    """Share of the claim's names, numbers and dates that occur in the evidence.

    Exact matching is what embeddings lack: "1,400 killed" and "1,300 killed" embed almost
    identically. Claims with no such entity score 1.0 (nothing to contradict). Content-word
    recall and copied-fragment statistics are exposed as secondary features for combining.
    """

    name = "lexical"

    def features(self, pairs: Sequence[tuple[str, str]]) -> list[dict[str, float]]:
        cache: dict[str, _Evidence] = {}
        rows: list[dict[str, float]] = []
        for claim, evidence in pairs:
            if evidence not in cache:
                tokens = normalise_tokens(evidence)
                cache[evidence] = _Evidence(
                    tokens=tokens,
                    vocabulary=set(tokens),
                    bigrams=_ngrams(tokens, 2),
                    windows=[set(normalise_tokens(w)) for w in evidence_windows(evidence)],
                    numbers=[n for t in set(tokens) if (n := _as_number(t)) is not None],
                )
            rows.append(self._features(claim, cache[evidence]))
        return rows

    def _features(self, claim: str, evidence: _Evidence) -> dict[str, float]:
        ev_tokens, ev_set, ev_windows = evidence.tokens, evidence.vocabulary, evidence.windows
        named = _entities(claim)
        entities = [tokens for tokens, _ in named]
        if entities:
            found = [sum(map(evidence.has, entity)) / len(entity) for entity in entities]
            entity_share, entity_min = sum(found) / len(found), min(found)
        else:
            entity_share = entity_min = 1.0
        claim_tokens = normalise_tokens(claim)
        content = {t for t in claim_tokens if t not in JUDGE_FUNCTION_WORDS}
        if content:
            recall = len(content & ev_set) / len(content)
            local = max((len(content & w) / len(content) for w in ev_windows), default=0.0)
        else:
            recall = local = 1.0
        bigrams = _ngrams(claim_tokens, 2)
        bigram_recall = len(bigrams & evidence.bigrams) / len(bigrams) if bigrams else 1.0
        fragments = _fragments(claim_tokens, ev_tokens)
        n = max(len(claim_tokens), 1)
        density = sum(f * f for f in fragments) / n
        return {
            "entities": entity_share,
            # The least-found name, number or date: one missing is enough to be wrong (on
            # QAGS, 33 of the 39 sentences with one missing were judged unsupported).
            "entities_min": entity_min,
            "recall": recall,
            "local_recall": local,
            "bigram_recall": bigram_recall,
            "longest_fragment": (max(fragments) / n) if fragments else 0.0,
            "density": density / n,  # in [0, 1]: 1 when copied verbatim in one piece
            # A proper name whose last word (its head: "Japan" of "the Bank of Japan",
            # "Sunak" of "Prime Minister Rishi Sunak") the evidence never uses: the claim
            # is about someone or something else. The fast judge vetoes on it.
            "name_absent": float(
                any(proper and not evidence.has(tokens[-1]) for tokens, proper in named)
            ),
        }

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        return [row["entities"] for row in self.features(pairs)]
