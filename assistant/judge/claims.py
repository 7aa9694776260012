"""Turn a cited answer into atomic claims, each carrying the citation markers that back it.

Faithfulness is judged claim by claim: a sentence that fuses two facts can be half right, and
one score per answer would hide which half. The splitter is rule-based on purpose: it runs in
CI without a parser model, and it splits conservatively, because cutting a list of names or a
relative clause into pieces makes claims that no passage can support on their own.

The judge keeps this sentence splitter rather than using core.sentences, which the assistant
composes answers with: the answer splitter reads answers, not articles, so it keeps citation
markers with the sentence they end and treats blank lines and list bullets as boundaries, and
a judge that shared the assistant's splitter would inherit its blind spots instead of
catching them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.words import (
    JUDGE_CLAUSE_SUBJECTS,
    JUDGE_CLAUSE_VERBS,
    JUDGE_SENTENCE_STARTERS,
    wordset,
)

__all__ = [
    "Claim",
    "clean_with_offsets",
    "split_claims",
    "split_sentences",
    "strip_citations",
]


@dataclass
class Claim:
    """One checkable statement and the passage numbers the answer cited for it."""

    text: str
    citations: list[int] = field(default_factory=list)


# Markers like [1], [1, 2], [1-3]. Ranges are expanded because models do write them
# (onyx#1543 cites "[5,7]"), and an unexpanded range would silently drop a citation.
_MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;\u2013-]\s*\d+)*)\]")

# Abbreviations whose trailing dot is not a sentence end. Lower-case, without the dot. Kept
# here rather than in core.words: it is this splitter's own list (dotted acronyms included),
# read by its boundary rules below.
_ABBREVIATIONS = wordset(
    """
    mr mrs ms dr prof sr jr st mt ft gen col lt sgt capt cmdr adm gov sen rep rev hon pres
    insp supt det cpl pvt maj brig
    inc ltd co corp bros llc plc dept univ assn est
    jan feb mar apr jun jul aug sep sept oct nov dec
    mon tue tues wed thu thur thurs fri sat sun
    vs etc al approx appx no nos vol pp fig eg ie cf ca
    a.m p.m e.g i.e u.s u.k u.n e.u
    """
)

# A candidate boundary: terminal punctuation, optional closing quotes/brackets, optional
# citation markers (which belong to the sentence they follow), then whitespace.
_BOUNDARY = re.compile(
    r"""(?P<end>[.!?]+|\u2026)(?P<close>["'\u201d\u2019)\]]*)"""
    r"""(?P<markers>(?:\s*\[\d+(?:\s*[,;\u2013-]\s*\d+)*\])*)(?P<space>\s+)"""
)


def _expand_marker(body: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", body):
        if not part:
            continue
        bounds = re.split(r"\s*[\u2013-]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            low, high = int(bounds[0]), int(bounds[1])
            # A reversed or absurd range is more likely a typo than 500 citations.
            if low <= high and high - low <= 20:
                numbers.extend(range(low, high + 1))
                continue
        numbers.extend(int(b) for b in bounds if b.isdigit())
    return numbers


def strip_citations(text: str) -> tuple[str, list[int]]:
    """Remove [n] markers, returning the clean text and the cited numbers in first-seen order.

    Kept separate so evidence and answers are normalised the same way.
    """
    found: list[int] = []
    for match in _MARKER.finditer(text):
        for number in _expand_marker(match.group(1)):
            if number not in found:
                found.append(number)
    clean, _ = clean_with_offsets(text)
    return clean, found


_SPACE_BEFORE_PUNCT = re.compile(r"\s+(?=[.,;:!?])")  # "attended [1]." -> "attended."
_SPACE = re.compile(r"\s+")


def _cut(
    text: str, index: list[int], pattern: re.Pattern[str], keep_space: bool
) -> tuple[str, list[int]]:
    """``text`` with every match of ``pattern`` removed (or, ``keep_space``, made one space),
    and ``index`` (the original position of each character) cut the same way."""
    parts: list[str] = []
    kept: list[int] = []
    last = 0
    for match in pattern.finditer(text):
        parts.append(text[last : match.start()])
        kept.extend(index[last : match.start()])
        if keep_space:
            parts.append(" ")
            kept.append(index[match.start()])
        last = match.end()
    parts.append(text[last:])
    kept.extend(index[last:])
    return "".join(parts), kept


def clean_with_offsets(text: str) -> tuple[str, list[int]]:
    """``strip_citations``'s clean text, and for each of its characters its index in ``text``.

    The judge reads the clean text; the offsets let it say where in the passage as written
    (markers, line breaks and all) the evidence it used sits, so a report can highlight it.
    """
    clean, index = _cut(text, list(range(len(text))), _MARKER, keep_space=False)
    clean, index = _cut(clean, index, _SPACE_BEFORE_PUNCT, keep_space=False)
    clean, index = _cut(clean, index, _SPACE, keep_space=True)
    start = len(clean) - len(clean.lstrip())
    end = len(clean.rstrip())
    return clean[start:end], index[start:end]


def _token_before(text: str, end: int) -> str:
    """The word that the punctuation at ``end`` closes, lower-cased, dots inside kept."""
    start = end
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in "([\"'\u201c":
        start -= 1
    return text[start:end].lower()


def _is_boundary(text: str, match: re.Match[str]) -> bool:
    end = match.group("end")
    if end != ".":  # "?", "!", "..." and the ellipsis character always end a sentence
        return True
    word = _token_before(text, match.start("end"))
    following = text[match.end() :]
    if not following:
        return True
    next_word = re.match(r"[\"'\u201c\u2018(]*([A-Za-z]+)", following)
    next_lower = next_word.group(1).lower() if next_word else ""
    bare = word.rstrip(".")
    if bare in _ABBREVIATIONS or word in _ABBREVIATIONS:
        if "." in bare:  # dotted acronym like "u.s": a boundary only before a clear starter
            return (
                next_word is not None
                and next_word.group(1)[0].isupper()
                and (next_lower in JUDGE_SENTENCE_STARTERS)
            )
        return False
    if len(bare) == 1 and bare.isalpha():  # an initial: "George W. Bush"
        return False
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", bare):  # other dotted acronyms: "d.c."
        return (
            next_word is not None
            and next_word.group(1)[0].isupper()
            and (next_lower in JUDGE_SENTENCE_STARTERS)
        )
    return True


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences, keeping any citation markers with the sentence they end.

    Blank lines and list bullets are hard boundaries: answers often come as bullet points
    without final punctuation.
    """
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[-*\u2022]|\d+[.)])\s)", text):
        block = re.sub(r"^\s*(?:[-*\u2022]|\d+[.)])\s+", "", block)
        block = block.replace("\n", " ").strip()
        if not block:
            continue
        start = 0
        for match in _BOUNDARY.finditer(block):
            if _is_boundary(block, match):
                piece = block[start : match.start("space")].strip()
                if piece:
                    sentences.append(piece)
                start = match.end()
        tail = block[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


# Clause cues (verbs, subject-like first words) are core.words.JUDGE_CLAUSE_VERBS and
# JUDGE_CLAUSE_SUBJECTS. Without a POS tagger this is a heuristic; a miss only means the
# sentence stays one claim.
_CLAUSE_JOIN = re.compile(
    r"\s*;\s+|,\s+(?:and|but|while|whereas|yet|although|though)\s+", flags=re.IGNORECASE
)


_LIST_COMMA = re.compile(r",(?!\d)\s*")  # not the comma inside "1,400"
_RELATIVE = re.compile(r"\s*(?:which|who|whom|whose|where|when)\b", flags=re.IGNORECASE)


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z'\u2019-]*", text)


def _has_verb(words: list[str]) -> bool:
    for word in words:
        lower = word.lower()
        if lower in JUDGE_CLAUSE_VERBS:
            return True
        # Past tenses ("attended") and third-person forms after a subject ("attends").
        if len(lower) > 4 and lower.endswith("ed") and not word[0].isupper():
            return True
    return False


def _is_clause(text: str) -> bool:
    words = _words(text)
    return len(words) >= 3 and _has_verb(words)


def _starts_like_subject(text: str) -> bool:
    words = _words(text)
    if not words:
        return False
    return words[0].lower() in JUDGE_CLAUSE_SUBJECTS or words[0][0].isupper()


def _split_clauses(sentence: str) -> list[str]:
    """Split at "; " and ", and/but/while ..." only when both sides read as full clauses.

    The list check matters: in "A, B, and C attended" the part before ", and" is itself a
    comma list, so the sentence is one claim about three people.
    """
    parts: list[str] = []
    start = 0
    for match in _CLAUSE_JOIN.finditer(sentence):
        left = sentence[start : match.start()]
        right = sentence[match.end() :]
        is_semicolon = ";" in match.group(0)
        segments = _LIST_COMMA.split(left)
        # "A, B, and C": the last comma segment is a short list item.
        looks_like_list = len(segments) > 1 and len(_words(segments[-1])) <= 3
        # "The firm, which was founded in 1998, and its rival": a parenthetical, not a clause.
        parenthetical = len(segments) > 1 and bool(_RELATIVE.match(segments[-1]))
        if (looks_like_list or parenthetical) and not is_semicolon:
            continue
        if not (_is_clause(left) and _is_clause(right)):
            continue
        if not is_semicolon and not _starts_like_subject(right):
            continue
        parts.append(left)
        start = match.end()
    parts.append(sentence[start:])
    cleaned: list[str] = []
    for part in parts:
        part = part.strip().strip(",;").strip()
        if part:
            cleaned.append(part[0].upper() + part[1:])
    return cleaned


# Sentences about the answer or the sources rather than about the world. A refusal makes no
# claim, so it must not be counted as an unsupported one.
_META = re.compile(
    r"^(?:i|we)\s+(?:could\s*n[o']t|can\s*n[o']t|cannot|couldn't|did\s*n[o']t|do\s*n[o']t|"
    r"am\s+(?:not|unable)|was\s+(?:not|unable)|have\s+no)\b"
    r"|^(?:the\s+)?(?:provided\s+|available\s+|retrieved\s+)?"
    r"(?:sources?|passages?|articles?|context|documents?)\s+(?:do(?:es)?\s*n[o']t|did\s*n[o']t|"
    r"(?:does|do)\s+not|contain\s+no|say\s+nothing|provide\s+no|are\s+silent)"
    r"|^(?:there\s+is\s+)?no\s+(?:relevant\s+)?information\b"
    r"|^sorry\b",
    flags=re.IGNORECASE,
)


def _is_claim(text: str) -> bool:
    """Questions, one-word interjections and statements about the sources check nothing."""
    if text.endswith("?") or _META.search(text):
        return False
    return len(_words(text)) >= 2 or bool(re.search(r"\d", text))


def split_claims(answer: str) -> list[Claim]:
    """Sentences, then independent clauses, each inheriting its sentence's citations.

    Clauses inherit every marker of their sentence because answers put markers at the end of
    the sentence, so the marker position cannot say which clause it backs.
    """
    claims: list[Claim] = []
    for sentence in split_sentences(answer):
        clean, citations = strip_citations(sentence)
        if not _is_claim(clean):
            continue
        for clause in _split_clauses(clean):
            if _is_claim(clause):
                claims.append(Claim(text=clause, citations=list(citations)))
    return claims
