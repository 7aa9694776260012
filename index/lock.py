"""One writer at a time per data directory.

Chroma's embedded store silently corrupts under two writing processes (chroma#1595), so every
write path takes this exclusive lock first; readers never take it and are never blocked.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from types import TracebackType


class LockTimeout(RuntimeError):
    pass


class WriteLock:
    def __init__(self, path: Path, timeout: float = 600.0) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None
        self._depth = 0
        # Threads of one process (the server's pool) queue here; processes queue on flock.
        self._threads = threading.RLock()

    def acquire(self) -> None:
        if not self._threads.acquire(timeout=self.timeout):
            raise LockTimeout(f"another writer in this process holds {self.path}")
        if self._depth:
            self._depth += 1
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    self._threads.release()
                    raise LockTimeout(
                        f"another process is writing to {self.path.parent} "
                        f"(waited {self.timeout:.0f} s for {self.path.name})"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        self._depth = 1

    def release(self) -> None:
        if self._depth > 1:
            self._depth -= 1
        else:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
            self._fd = None
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
