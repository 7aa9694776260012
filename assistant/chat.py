"""A conversation turn: rewrite the follow-up, answer it, remember both.

Split in two steps (`prepare`, `complete`) so a streaming caller can tell the client which
question is being searched before the answer is ready; `reply` does both for everyone else.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.answering import Assistant
from assistant.composer import REFUSAL
from assistant.conversations import ConversationStore, Turn, new_id, new_token
from assistant.followup import QuestionRewriter
from core.records import Answer, Citation, Filters

HISTORY_TURNS = 6
"""Turns a follow-up may refer back to: the last three exchanges."""


@dataclass(frozen=True)
class PendingTurn:
    conversation_id: str | None
    message: str
    question: str
    new: bool
    token: str | None = None
    """A new conversation's token, handed to its creator once and never stored in clear."""


@dataclass(frozen=True)
class ChatTurn:
    conversation_id: str | None
    """None for a stateless exchange (the OpenAI-compatible endpoint stores nothing)."""
    message: str
    question: str
    reply: Answer
    token: str | None = None

    @property
    def answer(self) -> str:
        return self.reply.answer

    @property
    def refused(self) -> bool:
        return self.reply.refused

    @property
    def citations(self) -> list[Citation]:
        return self.reply.citations

    @classmethod
    def from_answer(cls, pending: PendingTurn, answer: Answer) -> ChatTurn:
        return cls(
            pending.conversation_id, pending.message, pending.question, answer, pending.token
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            **({"conversation_token": self.token} if self.token else {}),
            "question": self.question,
            **self.reply.as_dict(),
        }


class Chat:
    def __init__(
        self,
        assistant: Assistant,
        store: ConversationStore,
        rewriter: QuestionRewriter,
        history_turns: int = HISTORY_TURNS,
    ) -> None:
        self.assistant = assistant
        self.store = store
        self.rewriter = rewriter
        self.history_turns = history_turns

    def reply(
        self, conversation_id: str | None, message: str, filters: Filters | None = None
    ) -> ChatTurn:
        return self.complete(self.prepare(conversation_id, message), filters)

    def prepare(self, conversation_id: str | None, message: str) -> PendingTurn:
        """Raises UnknownConversation for an id that is not stored (before any work)."""
        if conversation_id is None:
            question = self.rewriter.rewrite(message, [])
            return PendingTurn(new_id(), message, question, new=True, token=new_token())
        history = self.store.recent_turns(conversation_id, self.history_turns)
        question = self.rewriter.rewrite(message, history)
        return PendingTurn(conversation_id, message, question, new=False)

    def complete(self, pending: PendingTurn, filters: Filters | None = None) -> ChatTurn:
        return self.remember(pending, self.assistant.ask(pending.question, None, filters))

    def stream(
        self, pending: PendingTurn, filters: Filters | None = None
    ) -> Iterator[str | ChatTurn]:
        """Each sentence of the answer as soon as it is checked, then the stored turn."""
        for step in self.assistant.stream(pending.question, None, filters):
            if isinstance(step, Answer):
                yield self.remember(pending, step)
                return
            yield step
        raise RuntimeError("the assistant's stream ended without an answer")

    def remember(self, pending: PendingTurn, answer: Answer) -> ChatTurn:
        turn = ChatTurn.from_answer(pending, answer)
        if pending.conversation_id is not None:
            # A conversation deleted while its answer was being composed stays deleted.
            self.store.append(
                pending.conversation_id,
                [
                    Turn("user", pending.message, question=pending.question),
                    Turn("assistant", turn.answer, citations=turn.citations, refused=turn.refused),
                ],
                create=pending.new,
                token=pending.token,
            )
        return turn

    def prepare_stateless(self, history: Sequence[tuple[str, str]], message: str) -> PendingTurn:
        """For clients that send the whole history each time (OpenAI's chat API): earlier user
        messages are rewritten in order too, so a chain of follow-ups resolves as it would in
        a stored conversation."""
        turns: list[Turn] = []
        for role, text in history[-self.history_turns :]:
            if role == "user":
                turns.append(Turn("user", text, question=self.rewriter.rewrite(text, turns)))
            elif role == "assistant":
                turns.append(Turn("assistant", text, refused=text.strip() == REFUSAL))
        return PendingTurn(None, message, self.rewriter.rewrite(message, turns), new=False)
