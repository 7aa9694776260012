"""One writer at a time per index.

Chroma's embedded store silently corrupts under two writing processes (chroma#1595), and the
catalog's pending/ready protocol assumes one writer, so every write path takes this exclusive
lock first; readers never take it and are never blocked.

Where the catalog is a SQLite file the lock is an flock on a file in the data directory, which
serialises the processes of one host. Where it is in PostgreSQL, processes on several hosts
write to one index, so the lock is the database's own: a session-level advisory lock, which
the server drops by itself when the holder's connection ends, however it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Any

from core.settings import Settings


class LockTimeout(RuntimeError):
    pass


class WriteLock(ABC):
    """Re-entrant within a thread; threads of one process (the server's pool) queue on a
    lock of their own, processes on the shared one (polled until `timeout`)."""

    def __init__(self, timeout: float = 600.0) -> None:
        self.timeout = timeout
        self._depth = 0
        self._threads = threading.RLock()

    @abstractmethod
    def _try(self) -> bool:
        """Take the shared lock without waiting; False when another process holds it."""

    @abstractmethod
    def _unlock(self) -> None: ...

    @abstractmethod
    def _give_up(self) -> None:
        """Undo what failed attempts left (an open file, a connection)."""

    @abstractmethod
    def busy(self) -> str:
        """What to say when another process holds the lock past the timeout."""

    def acquire(self) -> None:
        if not self._threads.acquire(timeout=self.timeout):
            raise LockTimeout(f"another writer in this process holds the lock ({self.busy()})")
        if self._depth:
            self._depth += 1
            return
        deadline = time.monotonic() + self.timeout
        try:
            while not self._try():
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"{self.busy()} (waited {self.timeout:.0f} s)")
                time.sleep(0.1)
        except BaseException:
            self._give_up()
            self._threads.release()
            raise
        self._depth = 1

    def release(self) -> None:
        if self._depth > 1:
            self._depth -= 1
        else:
            self._unlock()
            self._depth = 0
        self._threads.release()

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class FileLock(WriteLock):
    """An flock on `path`, which also names the holder's pid for whoever looks."""

    def __init__(self, path: Path, timeout: float = 600.0) -> None:
        super().__init__(timeout)
        self.path = path
        self._fd: int | None = None

    def _try(self) -> bool:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())
        return True

    def _unlock(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._give_up()

    def _give_up(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def busy(self) -> str:
        return f"another process is writing to {self.path.parent} (it holds {self.path.name})"


class AdvisoryLock(WriteLock):
    """`pg_try_advisory_lock` on a connection of its own, held while the lock is: every
    process on every host that writes to this database queues on it."""

    def __init__(self, url: str, name: str, timeout: float = 600.0) -> None:
        super().__init__(timeout)
        from index.database import postgres_where

        self.url = url
        self.where = postgres_where(url)
        self.name = name
        digest = hashlib.sha256(f"newsdesk:{name}".encode()).digest()
        self.key = int.from_bytes(digest[:8], "big", signed=True)  # a bigint key
        self._connection: Any = None

    def _try(self) -> bool:
        if self._connection is None or self._connection.closed:
            import psycopg

            self._connection = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        row = self._connection.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        return bool(row[0])

    def _unlock(self) -> None:
        if self._connection is not None and not self._connection.closed:
            # A dropped connection has released the lock already.
            with contextlib.suppress(Exception):
                self._connection.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        self._give_up()

    def _give_up(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def busy(self) -> str:
        return f"another process is writing to the catalog in {self.where} (its {self.name} lock)"


def write_lock(settings: Settings, timeout: float = 600.0) -> WriteLock:
    """The one-writer lock of the index that settings name."""
    if settings.database_url:
        return AdvisoryLock(settings.database_url, "write", timeout)
    return FileLock(settings.lock_path, timeout)


def poll_lock(settings: Settings) -> WriteLock:
    """Held, never waited for, by the one process that polls the sources on their schedule."""
    if settings.database_url:
        return AdvisoryLock(settings.database_url, "poll", timeout=0)
    return FileLock(settings.poll_lock_path, timeout=0)
