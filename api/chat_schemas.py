"""Bodies of the chat and OpenAI-compatible endpoints; /ask's own models stay in schemas.py."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas import AnswerOut, CitationOut, FiltersIn, Question

Message = Question


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str | None = Field(
        default=None, description="Continue this conversation; omit to start a new one."
    )
    message: Message
    filters: FiltersIn | None = None


class ChatResponse(AnswerOut):
    conversation_id: str
    conversation_token: str | None = Field(
        default=None,
        description="Only when the turn started a conversation: send it back as "
        "X-Conversation-Token to continue, read or delete the conversation.",
    )
    question: str = Field(description="The standalone question that was searched for.")


class TurnOut(BaseModel):
    role: Literal["user", "assistant"]
    text: str
    question: str | None
    citations: list[CitationOut]
    refused: bool
    created_at: str


class ConversationOut(BaseModel):
    id: str
    title: str
    created_at: str
    updated_at: str
    turns: list[TurnOut]


class ConversationSummaryOut(BaseModel):
    id: str
    title: str
    created_at: str
    updated_at: str
    turns: int


class ConversationList(BaseModel):
    conversations: list[ConversationSummaryOut]


# --- OpenAI's chat completions ---------------------------------------------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    """Extra keys (name, tool_calls...) are accepted and ignored, as OpenAI clients send them."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    @model_validator(mode="after")
    def text_only(self) -> ChatMessageIn:
        if isinstance(self.content, list):
            for part in self.content:
                if part.type != "text" or part.text is None:
                    raise ValueError(
                        f"content part of type {part.type!r} is not supported; send text parts"
                    )
        return self

    def plain_text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text or "" for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """Sampling parameters (temperature, top_p, seed, stop...) are accepted and ignored: the
    extractive answerer has nothing to sample."""

    model_config = ConfigDict(extra="allow")

    model: Annotated[str, StringConstraints(min_length=1)]
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=1, description="Only one choice is produced.")
    max_tokens: int | None = Field(default=None, ge=1)
    filters: FiltersIn | None = Field(
        default=None, description="Newsdesk extension: the same filters as /ask (extra_body)."
    )
