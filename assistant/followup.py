"""Turning a follow-up ("What did Israel say about it?") into a question that stands alone.

Retrieval and the extractive answerer see one question at a time, so "it" must become "the
Moscow meeting" before either sees it (llama-index's condense step does this with an LLM). No
LLM runs here by default: `RuleRewriter` resolves pronouns and short definite references to the
people, places and topics of the previous questions and of the last answer, with small word
lists and no parser. It only rewrites what it recognises as pointing back; anything else is
returned unchanged, so a question that already stands alone is never altered. An LLM rewriter
fits the same `QuestionRewriter` protocol when one is configured.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from assistant.query import stem
from assistant.types import Citation
from index.catalog import STOPWORDS


class PriorTurn(Protocol):
    """What a rewriter reads of an earlier turn (a stored turn or an OpenAI message)."""

    @property
    def role(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def question(self) -> str | None: ...

    @property
    def refused(self) -> bool: ...

    @property
    def citations(self) -> Sequence[Citation]: ...


class QuestionRewriter(Protocol):
    def rewrite(self, message: str, history: Sequence[PriorTurn]) -> str:
        """The message as a standalone question; unchanged when it already stands alone."""
        ...


# --- word lists ------------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_AUX = _words("did does do can could will would should may might must is was are were has have had")
_BE = _words("is was are were be been being")
_PREPOSITIONS = _words(
    """about above across after against along among around at before behind below beside
    between by during for from in inside into near of off on onto outside over since through
    throughout to toward towards under until upon with within without"""
)
_LOCATIVE = _words("in at to from near inside outside into across")
_QUESTION_WORDS = _words("who whom whose what when where which why how")
_PRONOUNS = _words(
    "i me my we us our you your he him his she her hers it its they them their theirs"
)
_DEMONSTRATIVES = _words("that this these those")
_DUMMY_IT_ADJECTIVES = _words(
    """true possible likely unlikely clear unclear known necessary safe legal illegal certain
    right wrong fair reasonable"""
)
_THERE_FOLLOWERS = _PREPOSITIONS | _words(
    "and now then yesterday today tonight recently last this next when while"
)
_NP_STOP = STOPWORDS | _AUX | _PREPOSITIONS | _QUESTION_WORDS | _PRONOUNS | _DEMONSTRATIVES
_VERBS = _words(
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
_GROUPS: tuple[frozenset[str], ...] = (
    _words("meeting meetings talks session gathering summit visit consultations conference"),
    _words("attack attacks assault raid strike strikes"),
    _words("vote resolution ballot"),
    _words("statement remarks comments speech"),
    _words("storm hurricane"),
    _words("war conflict fighting"),
    _words("ceasefire truce"),
    _words("shooting rampage"),
)
_GATHERINGS = _GROUPS[0] | _words("assembly rally race election")
_TITLES = _words(
    """mr mrs ms dr sir president prime minister deputy foreign defence defense secretary
    senator representative rep speaker chancellor king queen prince princess general colonel
    commander chief spokesman spokeswoman spokesperson ambassador envoy leader senior former
    acting vice governor mayor judge justice pope ayatollah sheikh emir premier official
    director head member lieutenant captain major sergeant"""
)
_NOT_PERSON = _words(
    """states nations council assembly union ministry party forces force army agency court
    house republic kingdom committee office department prix grand airport university strip bank
    east west north south sea gulf street city guard corps front brigades movement organisation
    organization group state central european international national general security hurricane
    storm tropical federal reserve parliament congress senate authority authorities cross
    crescent hospital company news times post press new los san saint fort mount lake river"""
)
_CALENDAR = _words(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday"""
)

_KINDS = {
    **dict.fromkeys(("it", "its"), "thing"),
    **dict.fromkeys(("he", "him", "his", "she", "her", "hers"), "person"),
    **dict.fromkeys(("they", "them", "their", "theirs"), "group"),
    "there": "place",
}

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’\-]*|\d[\d,.]*|\S")
_WHO = re.compile(r"^\s*(?:who|whom)\b", re.IGNORECASE)
_ELLIPSIS = re.compile(
    r"^\s*(?:and\s+)?(?:(?:what|how)\s+about\s+)?(?P<x>.+?)\s*\?*\s*$", re.IGNORECASE
)
_ELLIPSIS_LEAD = re.compile(r"^\s*(?:and\b|(?:what|how)\s+about\b)", re.IGNORECASE)


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


# --- what earlier turns talked about ---------------------------------------------------------


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


def same_thing(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    if stem(a) == stem(b):
        return True
    return any(a in group and b in group for group in _GROUPS)


def noun_phrases(text: str) -> list[Phrase]:
    tokens = tokenize(text)
    found: list[Phrase] = []
    i = 0
    while i < len(tokens):
        if tokens[i].low != "the":
            i += 1
            continue
        after_aux = i > 0 and tokens[i - 1].low in _AUX
        j = i + 1
        words: list[str] = []
        while j < len(tokens) and tokens[j].is_word and len(words) < 5:
            token = tokens[j]
            if not token.capitalised and token.low in _NP_STOP:
                break
            if token.low in _CALENDAR:
                break
            # "did the ECB hold rates": the subject of an auxiliary ends where its verb starts.
            if after_aux and words and not token.capitalised and _is_verb(token.low):
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


def _is_verb(word: str) -> bool:
    return word in _VERBS or (word.endswith("ed") and len(word) > 4)


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
    """Runs of capitalised words, less the capital that starts a sentence or question."""
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
        if sentence_start and words[0].lower() in (_NP_STOP | _QUESTION_WORDS | {"the"}):
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


@dataclass(frozen=True)
class Context:
    """What a follow-up can point back to, most recent first."""

    questions: tuple[str, ...]
    answer: str
    titles: tuple[str, ...]

    @classmethod
    def from_history(cls, history: Sequence[PriorTurn], depth: int = 3) -> Context:
        questions: list[str] = []
        answer = ""
        titles: tuple[str, ...] = ()
        seen_assistant = False
        for turn in reversed(history):
            if turn.role == "assistant" and not seen_assistant and not questions:
                seen_assistant = True
                if not turn.refused:
                    answer = turn.text
                    titles = tuple(dict.fromkeys(c.title for c in turn.citations if c.title))
            elif turn.role == "user" and len(questions) < depth:
                questions.append((turn.question or turn.text).strip())
        return cls(tuple(q for q in questions if q), answer, titles)

    @property
    def empty(self) -> bool:
        return not (self.questions or self.answer)

    @property
    def last_question(self) -> str:
        return self.questions[0] if self.questions else ""

    def phrases(self) -> list[Phrase]:
        """Noun phrases of earlier questions, latest question first, last phrase first."""
        return [p for q in self.questions for p in reversed(noun_phrases(q))]

    def topic(self) -> str | None:
        """What 'it' means: the last question's object, else what the answer was cited from."""
        found = list(reversed(noun_phrases(self.last_question)))
        if found:
            return found[0].text
        return self.titles[0] if self.titles else None

    def topic_phrase(self) -> Phrase | None:
        found = list(reversed(noun_phrases(self.last_question)))
        return found[0] if found else None

    def person(self) -> str | None:
        for name in names(self.last_question):
            if found := person(name):
                return found
        for name in names(self.answer):
            if found := person(name):
                return found
        for question in self.questions[1:]:
            for name in names(question):
                if found := person(name):
                    return found
        return None

    def people(self) -> str | None:
        """Who 'they' are: the people a 'who' question was answered with, a plural phrase of
        the last question, or the group it named."""
        if _WHO.match(self.last_question):
            answered = list(dict.fromkeys(p for n in names(self.answer) if (p := person(n))))
            if answered:
                return join_names(answered[:4])
        for phrase in reversed(noun_phrases(self.last_question)):
            if phrase.plural and phrase.head.lower() not in _GROUPS[0]:
                return phrase.text
        topic = self.topic_phrase()
        in_topic = set(topic.words) if topic else set()
        groups = [
            n
            for n in names(self.last_question)
            if person(n) is None and not set(n.split()) & in_topic
        ]
        return join_names(groups[:3]) if groups else None

    def place(self) -> str | None:
        """Where 'there' is: at the gathering last asked about, else the place last named."""
        topic = self.topic_phrase()
        if topic and topic.head.lower() in _GATHERINGS:
            return f"at {topic.text}"
        for text in (*self.questions, self.answer):
            found = places(text)
            if found:
                return f"in {found[0]}"
        if topic:
            capitals = [w for w in topic.words if w[0].isupper()]
            if capitals:
                return f"in {' '.join(capitals)}"
        return None


def join_names(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def possessive(phrase: str) -> str:
    return f"{phrase}'" if phrase.endswith("s") and not phrase.endswith("ss") else f"{phrase}'s"


# --- the rewriter ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: str


class RuleRewriter:
    """Pronouns and short references resolved from the history with word lists, no model."""

    def rewrite(self, message: str, history: Sequence[PriorTurn]) -> str:
        context = Context.from_history(history)
        if context.empty:
            return message
        elided = self._ellipsis(message, context)
        if elided is not None:
            return elided
        tokens = tokenize(message)
        edits: list[Edit] = []
        unresolved = False
        resolved: set[str] = set()
        i = 0
        while i < len(tokens):
            edit, consumed, pointing_back = self._resolve(tokens, i, context, resolved)
            if edit is not None:
                edits.append(edit)
            elif pointing_back:
                unresolved = True
            i += consumed
        if not edits and not unresolved:
            return message
        text = apply(message, edits)
        topic = context.topic()
        if unresolved and topic and topic.lower() not in text.lower():
            text = f"{text.rstrip().rstrip('?.!').rstrip()}, regarding {topic}?"
        return text

    def _resolve(
        self, tokens: Sequence[Token], i: int, context: Context, resolved: set[str]
    ) -> tuple[Edit | None, int, bool]:
        """(edit, tokens consumed, whether the token pointed back at all).

        Only the first pronoun of a kind is replaced: 'What did they say about their
        position?' names the group once and the second pronoun then reads within the sentence.
        """
        token = tokens[i]
        low = token.low
        kind = _KINDS.get(low)
        if kind is not None and kind in resolved:
            return None, 1, False
        after = tokens[i + 1].low if i + 1 < len(tokens) else ""
        after_is_end = not after or not tokens[i + 1].is_word

        if low in ("it", "its"):
            if low == "it" and self._dummy_it(tokens, i):
                return None, 1, False
            topic = context.topic()
            if topic is None:
                return None, 1, True
            resolved.add("thing")
            return self._replace(token, possessive(topic) if low == "its" else topic), 1, True

        if low in ("he", "him", "his", "she", "her", "hers"):
            who = context.person()
            if who is None:
                return None, 1, True
            resolved.add("person")
            owner = low in ("his", "hers") or (
                low == "her" and not after_is_end and after not in _NP_STOP
            )
            return self._replace(token, possessive(who) if owner else who), 1, True

        if low in ("they", "them", "their", "theirs"):
            group = context.people()
            if group is None:
                return None, 1, True
            resolved.add("group")
            owner = low in ("their", "theirs")
            return self._replace(token, possessive(group) if owner else group), 1, True

        if low == "there":
            if not (after_is_end or after in _THERE_FOLLOWERS):
                return None, 1, False  # "Is there a ceasefire?": nothing to resolve
            where = context.place()
            if where is None:
                return None, 1, True
            resolved.add("place")
            return self._replace(token, where), 1, True

        if low in _DEMONSTRATIVES:
            return self._demonstrative(tokens, i, context)

        if low == "the" and i + 1 < len(tokens):
            return self._bare_definite(tokens, i, context)
        return None, 1, False

    def _dummy_it(self, tokens: Sequence[Token], i: int) -> bool:
        """'Is it true that...', 'it is likely that...', and 'it' after the message's own
        subject ('Did the ECB say it would...')."""
        low = [t.low for t in tokens]
        if i > 0 and low[i - 1] in _BE and i + 1 < len(low) and low[i + 1] in _DUMMY_IT_ADJECTIVES:
            return True
        if i + 2 < len(low) and low[i + 1] in _BE | {"'s"} and low[i + 2] in _DUMMY_IT_ADJECTIVES:
            return True
        followed_by_verb = i + 1 < len(low) and (low[i + 1] in _AUX or low[i + 1] in _VERBS)
        own_subject = any(
            t.low == "the" or (t.capitalised and k > 0) for k, t in enumerate(tokens[:i])
        )
        return followed_by_verb and own_subject

    def _demonstrative(
        self, tokens: Sequence[Token], i: int, context: Context
    ) -> tuple[Edit | None, int, bool]:
        token = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        after_next = tokens[i + 2] if i + 2 < len(tokens) else None
        pronoun = (
            nxt is None
            or not nxt.is_word
            or (
                nxt.low in _PREPOSITIONS
                and (after_next is None or not after_next.is_word)
                and token.low in ("that", "this")
            )
        )
        if nxt is None or pronoun:
            topic = context.topic()
            before = tokens[i - 1].low if i > 0 else ""
            if topic and before in _PREPOSITIONS:  # "after that", "about this"
                return self._replace(token, topic), 1, True
            return None, 1, token.low in ("that", "this")
        if nxt.capitalised or nxt.low in _NP_STOP or not nxt.is_word:
            return None, 1, False  # "that Hamas...": a conjunction, not a reference
        words = [nxt]
        k = i + 2
        while k < len(tokens) and len(words) < 3:
            candidate = tokens[k]
            if not candidate.is_word or candidate.capitalised or candidate.low in _NP_STOP:
                break
            if _is_verb(candidate.low):
                break
            words.append(candidate)
            k += 1
        head = words[-1].text
        for phrase in context.phrases():
            if same_thing(phrase.head, head):
                resolved = phrase if phrase.head.lower() == head.lower() else phrase.with_head(head)
                edit = Edit(token.start, words[-1].end, _cased(resolved.text, token))
                return edit, k - i, True
        return None, k - i, token.low in ("that", "those")

    def _bare_definite(
        self, tokens: Sequence[Token], i: int, context: Context
    ) -> tuple[Edit | None, int, bool]:
        """'the meeting' after 'the Moscow meeting' was asked about: the same meeting."""
        nxt = tokens[i + 1]
        if not nxt.is_word or nxt.capitalised or nxt.low in _NP_STOP:
            return None, 1, False
        after = tokens[i + 2] if i + 2 < len(tokens) else None
        if (
            after is not None
            and after.is_word
            and not (after.low in _NP_STOP or _is_verb(after.low))
        ):
            return None, 1, False  # "the rate decision": already qualified
        if after is not None and after.low in ("of", "in", "at", "on", "between"):
            return None, 1, False  # "the meeting in Cairo": a different one
        for phrase in context.phrases():
            if (len(phrase.words) > 1 or phrase.tail) and same_thing(phrase.head, nxt.text):
                resolved = phrase if phrase.head.lower() == nxt.low else phrase.with_head(nxt.text)
                edit = Edit(tokens[i].start, nxt.end, _cased(resolved.text, tokens[i]))
                return edit, 2, True
        return None, 2, False

    def _ellipsis(self, message: str, context: Context) -> str | None:
        """'What about Iran?' / 'And the vote?' after a full question: the same question about
        something else."""
        if not _ELLIPSIS_LEAD.match(message) or not context.last_question:
            return None
        match = _ELLIPSIS.match(message)
        if match is None:
            return None
        subject = re.sub(
            r"^(?:and\s+)?(?:(?:what|how)\s+about\s+)", "", match.group("x"), flags=re.I
        )
        subject = subject.strip().rstrip("?").strip()
        first = subject.split()[0].lower() if subject else ""
        if first in _QUESTION_WORDS or first in _AUX:
            return None  # "And what did they say?" is a question of its own
        if (
            not subject
            or len(subject.split()) > 6
            or subject.lower() in _PRONOUNS | _DEMONSTRATIVES
        ):
            return None
        previous = context.last_question
        topic = context.topic_phrase()
        if subject[0].isupper() and not subject.lower().startswith("the "):
            in_topic = set(topic.words) if topic else set()
            for name in names(previous):
                if not set(name.split()) & in_topic:
                    return re.sub(rf"\b{re.escape(name)}\b", subject, previous, count=1)
        if topic is not None and topic.text in previous:
            replacement = subject if subject.lower().startswith("the ") else f"the {subject}"
            return previous.replace(topic.text, replacement, 1)
        return None

    @staticmethod
    def _replace(token: Token, text: str) -> Edit:
        return Edit(token.start, token.end, _cased(text, token))


def _cased(text: str, token: Token) -> str:
    """Keeps a sentence-initial capital: 'It was...' -> 'The Moscow meeting was...'."""
    if token.start == 0 and token.capitalised:
        return text[:1].upper() + text[1:]
    if text.startswith("The ") and not token.capitalised:
        return "the " + text[4:]
    return text


def apply(text: str, edits: Sequence[Edit]) -> str:
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text
