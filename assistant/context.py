"""What a follow-up can point back to: the earlier questions of a conversation, the last
answer and what it was cited from, and who, what and where each of them names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from assistant.mentions import Phrase, names, noun_phrases, person, places
from core.records import Citation
from core.words import wordset


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


MEETINGS = wordset("meeting meetings talks session gathering summit visit consultations conference")
"""Words for one meeting: 'the talks' are not a group of people, and 'there' is at them."""
_GATHERINGS = MEETINGS | wordset("assembly rally race election")
_WHO = re.compile(r"^\s*(?:who|whom)\b", re.IGNORECASE)


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
            if phrase.plural and phrase.head.lower() not in MEETINGS:
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
