"""The one object that wires Newsdesk from its settings, for the API, the CLI, the eval
harness and the benches alike.

Each part is built on first use and then kept, so a command that only writes never loads the
answering stack, and a process loads each model once. It owns the store, the writer (and the
ingester that hands writes to a running server), the reader's model and the faithfulness
judge, the assistant, the conversation store and the chat.
"""

from __future__ import annotations

from functools import cached_property

from assistant.answering import Assistant
from assistant.chat import Chat
from assistant.conversations import ConversationStore
from assistant.followup import RuleRewriter
from assistant.judge.support import CombinedScorer, default_scorer
from assistant.llm.base import ChatModel
from assistant.llm.factory import open_model
from core.settings import Settings
from core.telemetry import NullRecorder, Recorder
from index.embedder import Embedder
from index.ingester import Ingester, RemoteNotice
from index.lock import WriteLock
from index.store import Store
from index.writer import IndexWriter


class Runtime:
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        """`embedder` lets one process share an already loaded model between runtimes (the
        eval harness opens one runtime per corpus, the tests one per folder)."""
        self.settings = settings
        self._given_embedder = embedder
        self.recorder: Recorder = NullRecorder()

    def observe(self, recorder: Recorder) -> Runtime:
        """Report stage timings and writes to `recorder` (a server's metrics) from now on;
        the assistant, if already built, is rebuilt on next use so that it reports too."""
        self.recorder = recorder
        for part in ("assistant", "chat"):
            self.__dict__.pop(part, None)
        return self

    @cached_property
    def embedder(self) -> Embedder:
        return self._given_embedder or Embedder.from_settings(self.settings)

    @cached_property
    def store(self) -> Store:
        return Store.open(self.settings, self.embedder)

    @cached_property
    def lock(self) -> WriteLock:
        return WriteLock(self.settings.lock_path)

    @cached_property
    def writer(self) -> IndexWriter:
        """Writes into this process's store: for the process that owns the data directory."""
        return IndexWriter(self.store, self.settings, self.lock)

    def ingester(self, on_remote: RemoteNotice | None = None) -> Ingester:
        """Writes from a process that may not own the store (the CLI): handed to the running
        server when there is one, otherwise written here."""
        return Ingester(self.settings, lambda: self.embedder, on_remote)

    @cached_property
    def model(self) -> ChatModel | None:
        """The reader's language model as settings name it (None: extractive answers).
        Raises ModelUnavailable, with what to do, when it cannot be used."""
        return open_model(self.settings)

    @cached_property
    def judge(self) -> CombinedScorer:
        """The one faithfulness judge: the reader checks its sentences with it, the eval
        harness scores answers with it."""
        return default_scorer(self.embedder)

    @cached_property
    def assistant(self) -> Assistant:
        if self.model is None:
            return Assistant(self.store, self.settings, recorder=self.recorder)
        return Assistant(
            self.store,
            self.settings,
            model=self.model,
            judge=self.judge,
            threshold=self.judge.threshold,
            recorder=self.recorder,
        )

    @cached_property
    def conversations(self) -> ConversationStore:
        return ConversationStore(self.settings.conversations_path)

    @cached_property
    def chat(self) -> Chat:
        return Chat(self.assistant, self.conversations, RuleRewriter())

    def start_serving(self) -> Runtime:
        """What a server does before its first request: finish any write a killed run left,
        and load the model now rather than on the first question."""
        self.writer.recover()
        self.embedder.encode(["warm-up"])
        self.model  # noqa: B018 - a misconfigured model stops the start, with what to do
        # Built now, before requests arrive on several threads at once.
        self.chat  # noqa: B018
        return self

    def close(self) -> None:
        if "conversations" in self.__dict__:
            self.conversations.close()
        if "store" in self.__dict__:
            self.store.close()
