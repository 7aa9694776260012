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

from assistant.context import MEETINGS, Context, PriorTurn
from assistant.mentions import (
    AUX,
    DEMONSTRATIVES,
    FUNCTION_WORDS,
    PREPOSITIONS,
    PRONOUNS,
    QUESTION_WORDS,
    VERBS,
    Token,
    is_verb,
    names,
    tokenize,
)
from assistant.terms import stem
from core.words import wordset


class QuestionRewriter(Protocol):
    def rewrite(self, message: str, history: Sequence[PriorTurn]) -> str:
        """The message as a standalone question; unchanged when it already stands alone."""
        ...


# --- word lists ------------------------------------------------------------------------------

_BE = wordset("is was are were be been being")
_DUMMY_IT_ADJECTIVES = wordset(
    """true possible likely unlikely clear unclear known necessary safe legal illegal certain
    right wrong fair reasonable"""
)
"""'Is it true that...': an 'it' that points at nothing."""
_THERE_FOLLOWERS = PREPOSITIONS | wordset(
    "and now then yesterday today tonight recently last this next when while"
)
"""Words after a 'there' that means a place ('what happened there yesterday')."""
_GROUPS: tuple[frozenset[str], ...] = (
    MEETINGS,
    wordset("attack attacks assault raid strike strikes"),
    wordset("vote resolution ballot"),
    wordset("statement remarks comments speech"),
    wordset("storm hurricane"),
    wordset("war conflict fighting"),
    wordset("ceasefire truce"),
    wordset("shooting rampage"),
)
"""Words a follow-up may use for the same thing ('the talks' after 'the meeting')."""

_KINDS = {
    **dict.fromkeys(("it", "its"), "thing"),
    **dict.fromkeys(("he", "him", "his", "she", "her", "hers"), "person"),
    **dict.fromkeys(("they", "them", "their", "theirs"), "group"),
    "there": "place",
}

_ELLIPSIS = re.compile(
    r"^\s*(?:and\s+)?(?:(?:what|how)\s+about\s+)?(?P<x>.+?)\s*\?*\s*$", re.IGNORECASE
)
_ELLIPSIS_LEAD = re.compile(r"^\s*(?:and\b|(?:what|how)\s+about\b)", re.IGNORECASE)


def same_thing(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    if stem(a) == stem(b):
        return True
    return any(a in group and b in group for group in _GROUPS)


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
                low == "her" and not after_is_end and after not in FUNCTION_WORDS
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

        if low in DEMONSTRATIVES:
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
        followed_by_verb = i + 1 < len(low) and (low[i + 1] in AUX or low[i + 1] in VERBS)
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
                nxt.low in PREPOSITIONS
                and (after_next is None or not after_next.is_word)
                and token.low in ("that", "this")
            )
        )
        if nxt is None or pronoun:
            topic = context.topic()
            before = tokens[i - 1].low if i > 0 else ""
            if topic and before in PREPOSITIONS:  # "after that", "about this"
                return self._replace(token, topic), 1, True
            return None, 1, token.low in ("that", "this")
        if nxt.capitalised or nxt.low in FUNCTION_WORDS or not nxt.is_word:
            return None, 1, False  # "that Hamas...": a conjunction, not a reference
        words = [nxt]
        k = i + 2
        while k < len(tokens) and len(words) < 3:
            candidate = tokens[k]
            if not candidate.is_word or candidate.capitalised or candidate.low in FUNCTION_WORDS:
                break
            if is_verb(candidate.low):
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
        if not nxt.is_word or nxt.capitalised or nxt.low in FUNCTION_WORDS:
            return None, 1, False
        after = tokens[i + 2] if i + 2 < len(tokens) else None
        if (
            after is not None
            and after.is_word
            and not (after.low in FUNCTION_WORDS or is_verb(after.low))
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
        if first in QUESTION_WORDS or first in AUX:
            return None  # "And what did they say?" is a question of its own
        if not subject or len(subject.split()) > 6 or subject.lower() in PRONOUNS | DEMONSTRATIVES:
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
