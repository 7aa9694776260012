"""What shape of answer a question wants: a yes or no, a list, one name, a date, a number.

The reader's prompt and the check of its answer depend on it ("who attended" must name every
attendee; "did X report before Y" must start with Yes or No). Plain patterns over the question's
opening words are enough: news questions ask in a handful of ways.
"""

from __future__ import annotations

import re
from enum import StrEnum

from core.sentences import split_sentences


class Kind(StrEnum):
    POLAR = "yes/no"
    LIST = "list"
    ENTITY = "entity"
    DATE = "date"
    NUMBER = "number"
    OPEN = "open"


_AUX = r"(?:is|was|are|were|do|does|did|has|have|had|can|could|will|would|should)"
_POLAR = re.compile(rf"^\s*{_AUX}\b", re.IGNORECASE)
# "Between the X report and the Y report, was there consistency ...?" puts the verb late.
_POLAR_LATE = re.compile(
    rf",\s*(?:and\s+)?{_AUX}\s+(?:there|the|it|this|that|these|those|both|[A-Z'\"‘“])",
)
_WH = re.compile(r"^\s*(?:who|whom|whose|what|which|where|when|why|how)\b", re.IGNORECASE)
_LIST = re.compile(
    r"^\s*(?:which\s+(?:two|three|four|five|both)\b|who\s+are\s+the\s+(?:two|three|four)\b"
    r"|who\s+(?:attended|were|are|took part|participated|met|joined|spoke|signed)\b"
    r"|which\s+\w+(?:\s+\w+)?\s+(?:have|were|are|did)\b"
    r"|(?:list|name)\s+(?:the|all|every)\b|what\s+are\s+the\s+names\b)",
    re.IGNORECASE,
)
_DATE = re.compile(r"^\s*(?:when\b|(?:on\s+)?what\s+(?:day|date|year|month|time)\b)", re.I)
_NUMBER = re.compile(
    r"^\s*(?:how\s+(?:many|much|long|old|far)\b|what\s+(?:percentage|number|share|amount)\b)",
    re.IGNORECASE,
)
_ENTITY = re.compile(r"^\s*(?:who|whom|whose|which|where|what)\b", re.IGNORECASE)
_INSIDE = re.compile(
    r"\b(?:how\s+(?:many|much|long|old|far)|what|which)\b"
    r"(?!\s+(?:is|was|are|were|has|have|had|will|would|can|could|do|does|did)\b)",
    re.IGNORECASE,
)
"""The question word of a quiz-style question that states its scene and asks inside it
("Trump was found liable for fraud in which state?", "Three astronauts returned after how
many days in space?"). "Who", "where" and "when" are left out: inside a sentence they mostly
begin a clause ("the man who ...", "the town where ..."), and so does a "what" or "which"
followed by its verb ("accounts of what was eaten")."""


def asked(question: str) -> str:
    """The sentence that asks, when a question sets the scene first ("Turkey is typically the
    centerpiece of Thanksgiving dinner. Which US state raises the most turkeys?"): its shape
    is the answer's. The scene still counts for search."""
    sentences = [s.text for s in split_sentences(question.strip())]
    if len(sentences) > 1 and sentences[-1].endswith("?"):
        return sentences[-1]
    return question


_ASKS_FOR_AN_ACCOUNT = re.compile(
    r"^\s*(?:please\s+)?(?:explain|describe|summari[sz]e|discuss|outline)\b", re.IGNORECASE
)
""""Explain what the court decided" wants sentences, whatever question word follows."""


def asking(question: str) -> str:
    """The question from its question word on: the opening words of a question that starts
    with one, else the first question word inside it (see _INSIDE), else the whole question.
    Its shape is the answer's: "... in which state?" asks for a name as "Which state ...?"
    does."""
    return _asking_in(asked(question))


def _asking_in(question: str) -> str:
    """`asking` of a question already reduced to the sentence that asks."""
    if _WH.match(question) or _ASKS_FOR_AN_ACCOUNT.match(question):
        return question
    inside = _INSIDE.search(question)
    return question[inside.start() :] if inside else question


def _late_polar(question: str) -> bool:
    """A yes/no question whose verb comes after a clause ("Between the X report and the Y
    report, was there ...?"). "Who, according to TechCrunch, is the figure ...?" has its verb
    late too but asks who, and so does a question that asks inside its scene before the verb
    ("Considering ... a BBC News report ..., which network, known for its initialism, did
    Pamela Anderson partner with ...?" wants a network, not Yes or No)."""
    late = _POLAR_LATE.search(question)
    if late is None or _WH.match(question):
        return False
    return _INSIDE.search(question, 0, late.start()) is None


def question_kind(question: str) -> Kind:
    question = asked(question)
    if _POLAR.match(question) or _late_polar(question):
        return Kind.POLAR
    if _LIST.match(question):
        return Kind.LIST
    question = _asking_in(question)
    if _DATE.match(question):
        return Kind.DATE
    if _NUMBER.match(question):
        return Kind.NUMBER
    if _ENTITY.match(question):
        return Kind.ENTITY
    return Kind.OPEN


_OPPOSITES = frozenset(
    frozenset(pair)
    for pair in (
        ("before", "after"),
        ("earlier", "later"),
        ("increase", "decrease"),
        ("increased", "decreased"),
        ("higher", "lower"),
        ("more", "less"),
        ("same", "different"),
        ("positive", "negative"),
        ("rose", "fell"),
        ("support", "oppose"),
        ("supported", "opposed"),
    )
)
_NEGATING = ("in", "un", "dis", "non", "non-", "im", "ir", "il")
_EITHER = re.compile(r"\b([A-Za-z][\w-]*)\s+or\s+([A-Za-z][\w-]*)\b")


def _offered(question: str) -> re.Match[str] | None:
    """Where a yes/no-shaped question offers its own two answers: a pair counts when one word
    negates the other by its prefix or the two are plain opposites; "Did Reuters or AP report
    ..." offers outlets, not answers."""
    for match in _EITHER.finditer(question):
        a, b = match.group(1).lower(), match.group(2).lower()
        if frozenset((a, b)) in _OPPOSITES or any(
            b == prefix + a or a == prefix + b for prefix in _NEGATING
        ):
            return match
    return None


def alternatives(question: str) -> tuple[str, str] | None:
    """The two answers a yes/no-shaped question offers instead of Yes and No: "remained
    consistent or inconsistent?", "agree or disagree?", "before or after?"."""
    match = _offered(question)
    return (match.group(1).capitalize(), match.group(2).capitalize()) if match else None


def asking_first(question: str) -> str:
    """The yes/no question of the first answer offered ("... consistent or inconsistent?" ->
    "... consistent?"); a question that offers none, as it is."""
    match = _offered(question)
    if match is None:
        return question
    return question[: match.start()] + match.group(1).lower() + question[match.end() :]
