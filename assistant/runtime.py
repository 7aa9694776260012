"""The one object that wires Newsdesk from its settings, for the API, the CLI, the eval
harness and the benches alike.

Each part is built on first use and then kept, so a command that only writes never loads the
answering stack, and a process loads each model once. It owns the store, the writer (and the
ingester that hands writes to a running server), the reader's model and the faithfulness
judge, the assistant, the conversation store and the chat.
"""

from __future__ import annotations

import logging
import threading
from functools import cached_property

from assistant.answering import Assistant
from assistant.chat import Chat
from assistant.conversations import ConversationStore, open_conversations
from assistant.followup import RuleRewriter
from assistant.judge.support import Judge, open_judge
from assistant.llm.base import ChatModel
from assistant.llm.factory import open_model
from core.settings import Settings
from core.telemetry import NullRecorder, Recorder
from index.database import is_storage_fault
from index.embedder import Embedder
from index.fetch import Fetcher
from index.ingester import Ingester, RemoteNotice
from index.lock import LockTimeout, WriteLock, poll_lock, write_lock
from index.poller import Poller, PollReport, Sink
from index.sources import SourceStore
from index.store import Consistency, Store, VectorsMissing
from index.writer import IndexWriter

logger = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        """`embedder` lets one process share an already loaded model between runtimes (the
        eval harness opens one runtime per corpus, the tests one per folder)."""
        self.settings = settings
        self._given_embedder = embedder
        self._polling: tuple[threading.Thread, threading.Event] | None = None
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
        return write_lock(self.settings)

    @cached_property
    def writer(self) -> IndexWriter:
        """Writes into this process's store: for the process that owns the data directory."""
        return IndexWriter(self.store, self.settings, self.lock)

    def ingester(self, on_remote: RemoteNotice | None = None) -> Ingester:
        """Writes from a process that may not own the store (the CLI): handed to the running
        server when there is one, otherwise written here."""
        return Ingester(self.settings, lambda: self.embedder, on_remote)

    @cached_property
    def sources(self) -> SourceStore:
        """The followed feeds, kept in the catalog's database."""
        return SourceStore.open(self.settings)

    def poller(self, sink: Sink) -> Poller:
        """Polls the sources into `sink`: the writer in the process that owns the store, an
        ingester (which hands writes to a running server) elsewhere."""
        return Poller(self.sources, Fetcher(self.settings), sink)

    def poll_lock(self) -> WriteLock:
        """Taken without waiting (LockTimeout when another process polls on schedule)."""
        return poll_lock(self.settings)

    def start_polling(self) -> None:
        """The server's background poller (NEWSDESK_POLL=1): one thread that polls each source
        when it is due and writes through this process's writer."""
        if self._polling is not None:
            return
        poller = self.poller(self.writer.ingest)
        stop = threading.Event()

        def report(result: PollReport) -> None:
            logger.info("poll %s", result.line())

        def run() -> None:
            lock = self.poll_lock()
            try:
                while not stop.is_set():
                    try:
                        lock.acquire()
                    except Exception as exc:
                        # A `watch --sources` polls (wait for it to end), or the database
                        # holding the lock is down (try again at the next tick).
                        if not isinstance(exc, LockTimeout) and not is_storage_fault(exc):
                            raise
                        stop.wait(self.settings.poll_tick)
                        continue
                    try:
                        poller.run(stop, self.settings.poll_tick, report)
                    finally:
                        lock.release()
            finally:
                poller.fetcher.close()

        thread = threading.Thread(target=run, name="newsdesk-poller", daemon=True)
        thread.start()
        self._polling = (thread, stop)

    def stop_polling(self) -> None:
        """Waits for the source in hand: a write is never cut off half-way."""
        if self._polling is not None:
            thread, stop = self._polling
            stop.set()
            thread.join()
            self._polling = None

    @cached_property
    def model(self) -> ChatModel | None:
        """The reader's language model as settings name it (None: extractive answers).
        Raises ModelUnavailable, with what to do, when it cannot be used."""
        return open_model(self.settings)

    @cached_property
    def judge(self) -> Judge:
        """The faithfulness judge settings name, which the reader checks its sentences with
        (the llm judge on a model of its own, see open_judge). Raises ModelUnavailable when
        that model cannot be used."""
        return open_judge(self.settings.judge, self.settings, self.embedder)

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
        return open_conversations(self.settings)

    @cached_property
    def chat(self) -> Chat:
        return Chat(self.assistant, self.conversations, RuleRewriter())

    def check_vectors(self) -> Consistency:
        """Raises VectorsMissing (saying which command rebuilds them) rather than let a
        server answer from keyword search alone because chroma/ was lost."""
        consistency = self.store.consistency()
        if consistency.vectors_missing:
            raise VectorsMissing(consistency.problem)
        return consistency

    def readiness(self) -> dict[str, object]:
        """For GET /ready: models loaded, both stores readable and in agreement."""
        loaded = "embedder" in self.__dict__ and "chat" in self.__dict__
        consistency = self.store.consistency()
        problems = [p for p in (consistency.problem,) if p]
        if not loaded:
            problems.insert(0, "the models are still loading")
        return {
            "status": "ready" if not problems else "not ready",
            "models_loaded": loaded,
            "passages": consistency.passages,
            "vectors": consistency.vectors,
            "problems": problems,
        }

    def start_serving(self) -> Runtime:
        """What a server does before its first request: refuse an empty vector store beside
        a full catalog, finish any write a killed run left, and load the model now rather
        than on the first question."""
        self.check_vectors()
        self.writer.recover()
        self.embedder.encode(["warm-up"])
        self.model  # noqa: B018 - a misconfigured model stops the start, with what to do
        # Built now, before requests arrive on several threads at once.
        self.chat  # noqa: B018
        return self

    def close(self) -> None:
        self.stop_polling()
        if "sources" in self.__dict__:
            self.sources.close()
        if "conversations" in self.__dict__:
            self.conversations.close()
        if "store" in self.__dict__:
            self.store.close()
