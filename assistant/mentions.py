"""Finding what a text mentions: names, places, people and definite noun phrases.

Small word lists and no parser. Two name finders live here side by side, because their callers
need different things from a name and neither can serve the other without changing what it
finds:

`name_runs` (a regex) serves a question's terms (assistant.terms): the names a question
weighs double in retrieval, the names that must appear in the evidence, and whether a sentence
offers a new name for 'who ...?'. It joins capitalised words across 'of', 'the', 'de', 'al',
'bin', 'van', 'von' ('Bank of England' is one name), takes any word characters after the
capital (digits, non-ASCII letters), does not stop at a month or weekday, and reports every run
with its offset, a sentence's first word included: each caller decides what a capital at the
start means. A name found here is only ever split into words and stemmed, so a run that takes
in a neighbouring 'Monday' costs little.

`names` (tokens) serves the follow-up rewriter (assistant.context, assistant.followup): the
people and groups a pronoun can point back to. A name found here is pasted into the rewritten
question and tested by `person`, so it must be exactly the name: it stops at any lower-case
word (connectors included) and at month and weekday names, drops a leading 'The' and a
capitalised function word that starts a sentence, and returns each name once, in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from core.words import MONTHS, STOPWORDS, WEEKDAYS, wordset

# --- word lists ------------------------------------------------------------------------------

AUX = wordset("did does do can could will would should may might must is was are were has have had")
"""Auxiliaries that open a question ('did the ECB hold...'): a noun phrase after one ends
where its verb starts."""
PREPOSITIONS = wordset(
    """about above across after against along among around at before behind below beside
    between by during for from in inside into near of off on onto outside over since through
    throughout to toward towards under until upon with within without"""
)
QUESTION_WORDS = wordset("who whom whose what when where which why how")
PRONOUNS = wordset(
    "i me my we us our you your he him his she her hers it its they them their theirs"
)
DEMONSTRATIVES = wordset("that this these those")
OPENERS = wordset(
    """according after although among amid approximately around assuming based because
    besides concerning considering despite excluding following given if including more most
    nearly over regarding roughly since some several though while whereas many one two three
    four five six seven eight nine ten dozens hundreds thousands millions billions"""
)
"""Words that open a question's clause or quantity ("Considering the information from ...",
"According to ...", "Approximately how many ...", "Hundreds of ..."): capitalised there by
grammar, never a name of their own."""
FUNCTION_WORDS = STOPWORDS | AUX | PREPOSITIONS | QUESTION_WORDS | PRONOUNS | DEMONSTRATIVES
"""Words that end a noun phrase and never start a reference."""
VERBS = wordset(
    """say said tell told do done did happen happened hold held meet met attend attended fail
    failed win won lose lost take took taken make made go went gone come came get got give gave
    given leave left end ended start started begin began begun decide decided vote voted agree
    agreed reject rejected accept accepted approve approved announce announced claim claimed
    kill killed die died cause caused call called ask asked respond responded react reacted
    mean meant want wanted plan planned offer offered demand demanded expel expelled condemn
    condemned discuss discussed send sent receive received host hosted visit visited keep kept
    raise raised cut rise rose risen fall fell fallen reach reached change changed stop stopped
    continue continued include included involve involved show showed shown report reported
    strike struck attack attacked launch launched support supported oppose opposed block blocked
    release released open opened close closed sign signed elect elected become became lead led
    run ran play played pay paid cost last lasted occur occurred work worked help helped look
    looked seem seemed think thought know knew known see saw seen find found use used put set
    let try tried need needed remain remained follow followed allow allowed prevent prevented
    warn warned threaten threatened deny denied confirm confirmed explain explained describe
    described affect affected hit damage damaged destroy destroyed build built face faced push
    pushed move moved return returned arrive arrived travel travelled traveled fight fought
    protest protested withdraw withdrew capture captured seize seized produce produced lead"""
)
_LOCATIVE = wordset("in at to from near inside outside into across")
_TITLES = wordset(
    """mr mrs ms dr sir president prime minister deputy foreign defence defense secretary
    senator representative rep speaker chancellor king queen prince princess general colonel
    commander chief spokesman spokeswoman spokesperson ambassador envoy leader senior former
    acting vice governor mayor judge justice pope ayatollah sheikh emir premier official
    director head member lieutenant captain major sergeant"""
)
_NOT_PERSON = wordset(
    """states nations council assembly union ministry party forces force army agency court
    house republic kingdom committee office department prix grand airport university strip bank
    east west north south sea gulf street city guard corps front brigades movement organisation
    organization group state central european international national general security hurricane
    storm tropical federal reserve parliament congress senate authority authorities cross
    crescent hospital company news times post press new los san saint fort mount lake river"""
)
_CALENDAR = frozenset((*MONTHS, *WEEKDAYS))
"""Capitalised but never part of a name or a noun phrase."""

# --- tokens ----------------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’\-]*|\d[\d,.]*|\S")


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def low(self) -> str:
        return self.text.lower()

    @property
    def is_word(self) -> bool:
        return self.text[0].isalpha()

    @property
    def capitalised(self) -> bool:
        return self.text[0].isupper()


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def is_verb(word: str) -> bool:
    return word in VERBS or (word.endswith("ed") and len(word) > 4)


# --- noun phrases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Phrase:
    """A definite noun phrase: 'the Moscow meeting', 'the meeting in Moscow'."""

    words: tuple[str, ...]
    tail: str = ""

    @property
    def head(self) -> str:
        return self.words[-1]

    @property
    def text(self) -> str:
        core = " ".join(("the", *self.words))
        return f"{core} {self.tail}" if self.tail else core

    @property
    def plural(self) -> bool:
        head = self.head
        return head.islower() and len(head) > 3 and head.endswith("s") and not head.endswith("ss")

    def with_head(self, head: str) -> Phrase:
        return Phrase((*self.words[:-1], head), self.tail)


def noun_phrases(text: str) -> list[Phrase]:
    tokens = tokenize(text)
    found: list[Phrase] = []
    i = 0
    while i < len(tokens):
        if tokens[i].low != "the":
            i += 1
            continue
        after_aux = i > 0 and tokens[i - 1].low in AUX
        j = i + 1
        words: list[str] = []
        while j < len(tokens) and tokens[j].is_word and len(words) < 5:
            token = tokens[j]
            if not token.capitalised and token.low in FUNCTION_WORDS:
                break
            if token.low in _CALENDAR:
                break
            # "did the ECB hold rates": the subject of an auxiliary ends where its verb starts.
            if after_aux and words and not token.capitalised and is_verb(token.low):
                break
            words.append(token.text)
            j += 1
        if not words:
            i += 1
            continue
        tail = ""
        if (
            j + 1 < len(tokens)
            and tokens[j].low in ("of", "in", "at", "on", "between", "with", "from")
            and not words[-1][0].isupper()
        ):
            k = j + 1
            if k < len(tokens) and tokens[k].low == "the":
                k += 1
            names = _capitalised_run(tokens, k)
            if names:
                tail = " ".join([tokens[j].text, *(t.text for t in tokens[j + 1 : k]), *names])
                j = k + len(names)
        found.append(Phrase(tuple(words), tail))
        i = j
    return found


# --- names, people and places ----------------------------------------------------------------

_CAPITALISED = r"(?:[A-Z]|\d[\da-z]*[A-Z])[\w'’\-]*"
"""A word written with a capital: 'Reuters', and a name that opens with digits ('9to5Mac',
'3M')."""
_NAME = re.compile(
    rf"\b({_CAPITALISED}(?:[^\S\n]+(?:of|the|de|al|bin|van|von)?[^\S\n]*{_CAPITALISED})*)"
)
"""A run stays on its line: a paragraph's last word and the next one's first are two names
("... talks in Moscow" / "Vladimir Putin has been accused ...")."""


def name_runs(text: str) -> Iterator[tuple[int, str]]:
    """(offset, name) for every run of capitalised words, joined across 'of', 'the', 'de'...;
    a sentence's first word included (see the module docstring)."""
    for match in _NAME.finditer(text):
        yield match.start(), match.group(1)


def _capitalised_run(tokens: Sequence[Token], start: int) -> list[str]:
    run: list[str] = []
    k = start
    while k < len(tokens) and tokens[k].is_word and tokens[k].capitalised:
        if tokens[k].low in _CALENDAR:
            break
        run.append(tokens[k].text)
        k += 1
    return run


def names(text: str) -> list[str]:
    """Runs of capitalised words, less the capital that starts a sentence or question; a run
    stays on its line (see _NAME)."""
    if "\n" in text:
        return list(dict.fromkeys(n for line in text.splitlines() for n in names(line)))
    tokens = tokenize(text)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        run = _capitalised_run(tokens, i)
        if not run:
            i += 1
            continue
        sentence_start = i == 0 or tokens[i - 1].text in ".!?"
        words = run
        if sentence_start and words[0].lower() in (FUNCTION_WORDS | QUESTION_WORDS | {"the"}):
            words = words[1:]
        if words and words[0].lower() == "the":
            words = words[1:]
        if words:
            out.append(" ".join(words))
        i += len(run)
    return list(dict.fromkeys(out))


def person(name: str) -> str | None:
    """'Iranian Deputy Foreign Minister Ali Bagheri Kani' -> 'Ali Bagheri Kani'; None for
    what is not a person's name (a country, an institution, one bare word)."""
    words = name.split()
    while words and (
        words[0].lower() in _TITLES
        or (len(words) > 1 and words[1].lower() in _TITLES and _demonym(words[0]))
    ):
        words = words[1:]
    if len(words) < 2 or any(w.lower() in _NOT_PERSON for w in words):
        return None
    if any(w.isupper() and len(w) > 1 for w in words):
        return None
    return " ".join(words)


def fuller_names(sentence: str, texts: Sequence[str]) -> str:
    """The sentence with each short name (one or two words) in the fullest form the texts
    use for it: "Bankman-Fried" -> "Sam Bankman-Fried", "Vikings" -> "Minnesota Vikings".
    A direct answer names someone as the story introduces them; the model often copies the
    surname the story goes on to use. A fuller form is a run of capitals in the texts that
    ends with the same words, less any title ("FTX CEO"); the most frequent wins, then the
    longest."""
    fuller: dict[str, str] = {}
    for short in names(sentence):
        parts = short.split()
        if len(parts) > 2:
            continue
        counts: dict[str, int] = {}
        for text in texts:
            for found in names(text):
                words = found.split()
                if len(words) <= len(parts) or words[-len(parts) :] != parts:
                    continue
                for size in range(min(len(words), 4), len(parts), -1):
                    tail = " ".join(words[-size:])
                    if person(tail) == tail:
                        counts[tail] = counts.get(tail, 0) + 1
                        break
        if counts:
            fuller[short] = max(counts, key=lambda f: (counts[f], len(f)))
    out = sentence
    for short, full in sorted(fuller.items(), key=lambda item: -len(item[0])):
        pattern = re.compile(rf"(?<![\w'’\-]){re.escape(short)}(?![\w'’\-])")
        match = pattern.search(out)
        if match is None:
            continue
        before = out[: match.start()].split()
        if before and before[-1][:1].isupper() and before[-1].lower() not in FUNCTION_WORDS:
            continue  # written as part of a longer name already
        out = out[: match.start()] + full + out[match.end() :]
    return out


def _demonym(word: str) -> bool:
    return word.endswith(("ian", "ese", "ish", "i", "an"))


def places(text: str) -> list[str]:
    """Names right after 'in', 'at', 'to', 'from'...: the places a question is about."""
    tokens = tokenize(text)
    out: list[str] = []
    for i, token in enumerate(tokens[:-1]):
        if token.low not in _LOCATIVE:
            continue
        k = i + 1
        if tokens[k].low == "the":
            k += 1
        run = _capitalised_run(tokens, k)
        if run and person(" ".join(run)) is None:
            out.append(" ".join(run))
    return list(dict.fromkeys(out))
