"""What shape of answer a question wants: a yes or no, a list, one name, a date, a number.

The reader's prompt and the check of its answer depend on it ("who attended" must name every
attendee; "did X report before Y" must start with Yes or No). Plain patterns over the question's
opening words are enough: news questions ask in a handful of ways.
"""

from __future__ import annotations

import re
from enum import StrEnum


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
_LIST = re.compile(
    r"^\s*(?:who\s+(?:attended|were|are|took part|participated|met|joined|spoke|signed)\b"
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


def question_kind(question: str) -> Kind:
    if _POLAR.match(question) or _POLAR_LATE.search(question):
        return Kind.POLAR
    if _LIST.match(question):
        return Kind.LIST
    if _DATE.match(question):
        return Kind.DATE
    if _NUMBER.match(question):
        return Kind.NUMBER
    if _ENTITY.match(question):
        return Kind.ENTITY
    return Kind.OPEN
