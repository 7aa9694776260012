"""Which server, if any, owns a data directory.

Chroma's embedded store must have a single writing process (two writers corrupt it silently,
chroma#1595), and a long-running reader never sees vectors another process writes. So a
running server registers itself here while holding the write lock, and the CLI, finding it,
sends its writes to the server instead of opening the store itself (ingester.py).

A data directory has at most one server: each holds `server.lock` (ServerLock) from before it
opens anything until it has left, so a second server refuses to start instead of serving a
store it does not own and, on its way out, deleting the first one's registration.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from core.client import NewsdeskClient
from core.settings import Settings


def registration_path(settings: Settings) -> Path:
    return settings.data_dir / "server.json"


def register(settings: Settings, url: str) -> str:
    """Names this process the owner; returns the token that `unregister` needs. The pid alone
    does not identify a registration: pids repeat across restarts and containers (a server in
    each of two containers sharing a volume may well both be pid 1)."""
    token = uuid.uuid4().hex
    path = registration_path(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid(), "token": token}))
    tmp.replace(path)
    return token


def registration(settings: Settings) -> dict[str, Any] | None:
    """What server.json says, whether or not that server still runs."""
    try:
        info = json.loads(registration_path(settings).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def unregister(settings: Settings, token: str) -> None:
    """Removes server.json only while it still holds this registration (pid and token), so
    a process can never delete another server's."""
    info = registration(settings)
    if info is None or info.get("pid") != os.getpid() or info.get("token") != token:
        return
    with contextlib.suppress(OSError):
        registration_path(settings).unlink()


def live_server(settings: Settings) -> str | None:
    """The URL of the server that owns this data directory, if one is running."""
    info = registration(settings) or {}
    try:
        pid, url = int(info["pid"]), str(info["url"])
    except (ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return url if NewsdeskClient(url, timeout=5).healthy() else None


class ServerBusy(RuntimeError):
    """Another server holds the data directory; the message says which and where."""


class ServerLock:
    """An exclusive flock on `server.lock`, held by a server for its whole life.

    Non-blocking: a second server must fail at once, not queue behind the first. The kernel
    drops the lock when the holder exits, however it exits, so a killed server never leaves
    the directory locked (unlike server.json, which it leaves behind)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.server_lock_path
        self._fd: int | None = None

    def acquire(self) -> ServerLock:
        """ServerBusy, naming the directory and the running server, when another holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip()
            os.close(fd)
            raise ServerBusy(self._busy_message(holder)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def _busy_message(self, holder: str) -> str:
        info = registration(self.settings) or {}
        url = info.get("url")
        if url and (not holder.isdigit() or str(info.get("pid")) == holder):
            who = f"the server at {url}"
        elif holder.isdigit():
            who = f"another server (pid {holder}, still starting)"
        else:
            who = "another server"
        return (
            f"{who} already serves {self.settings.data_dir}; stop it first, or serve another "
            "data directory"
        )

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ServerLock:
        return self if self._fd is not None else self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
