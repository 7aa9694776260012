"""Two small threads around the encoder so it never waits for the work on either side of it.

An ingest is: chunk articles (tokenizer), encode the chunks (the model), write vectors and
passages (Chroma, SQLite). Done one after the other, the encoder idles while a group is chunked
and while the previous group is written. `prefetch` runs the producing side in a thread and
`Background` the consuming side, each behind a small bounded queue, so memory stays bounded
(at most a few groups in flight) and the encoder, which releases the GIL inside torch, stays
busy. Both re-raise a failure of their thread in the caller, so an error is never swallowed
and nothing after a failed step is written.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """The items of `items`, produced in a thread up to `depth` ahead of the consumer."""
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(_DONE)
        except BaseException as exc:  # handed to the consumer, re-raised there
            slots.put(_Failure(exc))

    thread = threading.Thread(target=produce, name="newsdesk-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        # Unblock a producer waiting on a full queue, then let it finish.
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.1)
        thread.join()


class Background(Generic[T]):
    """Runs `handle` on submitted items in one thread, in submission order. `submit` blocks
    while `depth` items wait; leaving the `with` block waits for all of them. The first error
    stops the worker (later items are dropped, never handled out of order) and is raised from
    the next `submit` or from the exit."""

    def __init__(self, handle: Callable[[T], None], depth: int = 2) -> None:
        self._handle = handle
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="newsdesk-writer", daemon=True)

    def __enter__(self) -> Background[T]:
        self._thread.start()
        return self

    def submit(self, item: T) -> None:
        self._raise_if_failed()
        while True:
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                self._raise_if_failed()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        while True:  # the sentinel, even when the worker died with a full queue
            try:
                self._queue.put(_DONE, timeout=0.1)
                break
            except queue.Full:
                if not self._thread.is_alive():
                    break
        self._thread.join()
        if error is None:
            self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if self._error is not None:
                continue  # drain without handling: nothing after a failure is written
            try:
                self._handle(item)  # type: ignore[arg-type]
            except BaseException as exc:
                self._error = exc
