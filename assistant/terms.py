"""What a question asks about: its content words, the names, numbers and dates it mentions.

Dense embeddings blur names and numbers; these terms let retrieval and refusal check that the
evidence talks about the same people, places and figures as the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from assistant.kinds import asking
from assistant.mentions import OPENERS, name_runs, person
from core.words import MONTH_ABBREVIATIONS, MONTHS, RELATIVE_DAYS, STOPWORDS, WEEKDAYS

_QUESTION_WORDS = frozenset(
    [
        "who",
        "what",
        "when",
        "where",
        "which",
        "why",
        "how",
        "whose",
        "whom",
        "does",
        "did",
        "do",
        "is",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "can",
        "could",
        "will",
        "would",
        "should",
        "may",
        "might",
        "tell",
        "give",
        "list",
        "name",
        "describe",
        "explain",
    ]
)
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]+|\d[\d,.]*")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A crude stem (first six letters) so 'Russian' meets 'Russia' and 'attended' 'attend';
    the assistant's one stemmer."""
    word = word.lower().strip("'’-")
    word = re.sub(r"['’]s$", "", word)
    return word[:6] if len(word) > 6 else word


def content_words(text: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(text)]
    return [w for w in words if w not in STOPWORDS and w not in _QUESTION_WORDS and len(w) > 1]


_SHORT_MONTHS = sorted(MONTH_ABBREVIATIONS, key=MONTH_ABBREVIATIONS.__getitem__)
_DAY_WORDS = "|".join(dict.fromkeys((*MONTHS, *_SHORT_MONTHS, *WEEKDAYS, *RELATIVE_DAYS)))
"""Words that date a sentence: month names, their short forms in month order, weekdays,
'yesterday', 'today' and 'tomorrow'."""
_DATE = re.compile(rf"\b(?:{_DAY_WORDS})\b|\b(?:1[89]|20)\d\d\b", re.IGNORECASE)
_CALENDAR_NAME = re.compile(rf"(?:(?:{_DAY_WORDS})\.?\s*)+", re.IGNORECASE)
"""A "name" made only of month or weekday words ("October"): a date, which passages carry in
their metadata rather than their text."""
_QUOTES = "'‘’\"“”"
_POSSESSIVE = re.compile(r"(?:['’]s?)$")


@dataclass(frozen=True)
class QuestionTerms:
    text: str
    words: tuple[str, ...]
    names: tuple[str, ...]
    numbers: tuple[str, ...]
    expects: str = ""
    """What kind of answer the question wants: 'name', 'date', 'number' or '' (any)."""

    @cached_property
    def stems(self) -> frozenset[str]:
        return frozenset(stem(w) for w in self.words)

    @cached_property
    def weights(self) -> dict[str, float]:
        """Names weigh double: a passage about the right people beats one about the topic."""
        return {s: (2.0 if s in self.name_stems else 1.0) for s in self.stems}

    @cached_property
    def name_stems(self) -> frozenset[str]:
        return frozenset(stem(part) for name in self.names for part in name.split())


_INITIALISM = re.compile(r"\b(?:[A-Z]\.){2,}")
"""'U.S.', 'U.K.', 'D.C.': an initialism written with full stops, which the same story also
writes without them ('US')."""
_ALIASES = (
    ("US", "United States"),
    ("UK", "United Kingdom"),
    ("UK", "Britain"),
    ("UN", "United Nations"),
    ("EU", "European Union"),
)
"""Initialisms news copy uses and their long forms: a text that says one mentions the other."""


def _undotted(text: str) -> str:
    return _INITIALISM.sub(lambda m: m.group().replace(".", ""), text)


def analyse(question: str) -> QuestionTerms:
    # "in the U.S." is the name US, not the names U and S.
    question = _undotted(question)
    names: list[str] = []
    for start, name in name_runs(question):
        words = name.split()
        first, rest = words[0].lower(), words[1:]
        end = start + len(name)
        quoted_phrase = (
            start > 0
            and question[start - 1] in _QUOTES
            and name[-1] not in _QUOTES
            and question[end : end + 1] not in _QUOTES
        )
        # A capital at the start of a quoted phrase that goes on in lower case ("'Universal
        # travel adapters'") is grammar, not a name, as a question word, "The" or a clause's
        # opener ("Considering ...", "According to ...") starting the question is.
        opens = start == 0 or question[:start].rstrip()[-1:] in ".?!:;"
        if first in _QUESTION_WORDS or first in STOPWORDS or (opens and first in OPENERS):
            name = " ".join(rest)
        elif quoted_phrase and not rest:
            name = ""
        name = re.sub(r"^(?:(?:the|of|de|al|bin|van|von)\s+)+", "", name)
        name = _POSSESSIVE.sub("", name)
        if (
            name
            and name.lower() not in STOPWORDS
            and name.lower() not in _QUESTION_WORDS
            and not _CALENDAR_NAME.fullmatch(name)
        ):
            names.append(name)
    return QuestionTerms(
        text=question,
        words=tuple(dict.fromkeys(content_words(question))),
        names=tuple(dict.fromkeys(names)),
        numbers=tuple(n.rstrip(".,") for n in _NUMBER.findall(question)),
        expects=expected_answer(question),
    )


def expected_answer(question: str) -> str:
    lowered = asking(question).lower().strip()
    if re.match(r"^(?:when|what (?:day|date|year|month|time))\b", lowered):
        return "date"
    if re.match(r"^how (?:many|much|long|old|far)\b|^what (?:percentage|number|share)\b", lowered):
        return "number"
    if (
        re.match(r"^(?:who|whom|whose|where)\b", lowered)
        or re.match(rf"^what {_NAMED_CLASS}", lowered)
        or re.search(rf"\bwhich (?:[a-z-]+ ){{0,2}}{_NAMED_CLASS}", lowered)
    ):
        return "name"
    return ""


_NAMED_CLASS = (
    r"(?:person|people|man|woman|official|leader|figure|celebrity|musician"
    r"|singer|rapper|actor|actress|athlete|player|star|artist|author|politician|lawmaker"
    r"|senator|candidate|nominee|president|minister|governor|mayor|judge|ceo|republican"
    r"|democrat|country|nation|city|state|town|county|province|region|island|capital|place"
    r"|airport|company|firm|business|chain|retailer|automaker|carmaker|airline|bank|brand"
    r"|network|platform|team|club|organi[sz]ation|agency|institution|university|union|party"
    r"|group|film|movie|series|show|album|song|novel|festival|holiday)s?\b"
)
"""A "which X" whose X is a kind of thing news calls by its proper name ("which state", "in
which state", "which pharmacy chain", "which celebrity"): the answer is a name. "Which food"
or "which type of products" are left open: their answers are common nouns."""


def offers_answer(terms: QuestionTerms, sentence: str) -> bool:
    """Whether a sentence holds something of the kind the question asks for that the question
    does not already say (a new name for 'who', a date for 'when', a figure for 'how many')."""
    if terms.expects == "name":
        known = terms.name_stems
        for start, name in name_runs(sentence):
            if start == 0:
                continue
            if any(stem(part) not in known for part in name.split()):
                return True
        return False
    if terms.expects == "date":
        return bool(_DATE.search(sentence))
    if terms.expects == "number":
        numbers = {n.rstrip(".,") for n in _NUMBER.findall(sentence)} - set(terms.numbers)
        return bool(numbers) or bool(
            re.search(
                r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|"
                r"thousand|million|billion)s?\b",
                sentence,
                re.IGNORECASE,
            )
        )
    return False


def says_nothing_new(terms: QuestionTerms, sentence: str) -> bool:
    """Whether every content word of the sentence is one of the question's: the sentence
    restates what the asker said ("Turkey is typically the centerpiece of Thanksgiving
    dinner.") and holds no name, number or date a question asking for one could be answered
    with."""
    words = {stem(w) for w in content_words(_undotted(sentence))}
    return bool(words) and words <= text_stems(terms.text)


def overlap(terms: QuestionTerms, text: str) -> float:
    """Share of the question's content stems present in a text (names count double)."""
    if not terms.words:
        return 0.0
    present = text_stems(text)
    total = sum(terms.weights.values())
    return sum(w for s, w in terms.weights.items() if s in present) / total if total else 0.0


@lru_cache(maxsize=4096)
def text_stems(text: str) -> frozenset[str]:
    """The stems of a text's words, with each initialism in every form the text implies: a
    question about "the US" is about a report that writes "U.S." or "United States"."""
    undotted = _undotted(text)
    stems = {stem(w) for w in _WORD.findall(undotted)}
    lowered = undotted.lower()
    for short, long in _ALIASES:
        if re.search(rf"\b{short}\b", undotted):
            stems.update(stem(w) for w in long.split())
        if long.lower() in lowered:
            stems.add(stem(short))
    return frozenset(stems)


def missing_names(terms: QuestionTerms, text: str) -> list[str]:
    """Names in the question that the text never mentions (by any of their words)."""
    present = text_stems(text)
    return [n for n in terms.names if not any(stem(p) in present for p in n.split())]


def subject_absent(terms: QuestionTerms, text: str, yes_or_no: bool = False) -> bool:
    """Whether the text leaves out whom or what the question is about: a person it names, or
    most of its names. One outlet of five missing from the retrieved passages of a multi-hop
    question is a retrieval miss to reason around, not a reason to refuse; "Who is Kasra
    Aarabi?" over passages that never name him is. A yes/no question about people most of
    whom the text names is answerable even when one is missing ("Did Putin meet Zelensky?"
    over passages that only name Putin): the answer is then likely "No", which the reader
    decides, not a refusal."""
    missing = missing_names(terms, text)
    if not missing:
        return False
    named_person_missing = not yes_or_no and any(person(name) for name in missing)
    return named_person_missing or 2 * len(missing) > len(terms.names)
