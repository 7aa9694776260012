"""What the routes share: the opened index, the assistant and the writer, built once."""

from __future__ import annotations

from dataclasses import dataclass

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

    @classmethod
    def start(cls, settings: Settings) -> Services:
        handle = IndexHandle.open(settings)
        writer = IndexWriter(handle)
        writer.recover()
        handle.embedder.encode(["warm-up"])  # load weights now, not on the first question
        return cls(settings, handle, Assistant(handle), writer)

    def close(self) -> None:
        self.handle.close()
