"""What the routes share: the opened index, the assistant, the writer and the chat service."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.chat import ChatService
from assistant.conversations import ConversationStore
from assistant.followup import RuleRewriter
from assistant.service import Assistant
from index.handle import IndexHandle
from index.writer import IndexWriter
from newsdesk.settings import Settings


@dataclass
class Services:
    settings: Settings
    handle: IndexHandle
    assistant: Assistant
    writer: IndexWriter
    conversations: ConversationStore
    chat: ChatService

    @classmethod
    def start(cls, settings: Settings) -> Services:
        handle = IndexHandle.open(settings)
        writer = IndexWriter(handle)
        writer.recover()
        handle.embedder.encode(["warm-up"])  # load weights now, not on the first question
        assistant = Assistant(handle)
        conversations = ConversationStore(settings.conversations_path)
        chat = ChatService(assistant, conversations, RuleRewriter())
        return cls(settings, handle, assistant, writer, conversations, chat)

    def close(self) -> None:
        self.conversations.close()
        self.handle.close()
