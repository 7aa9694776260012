"""Which server, if any, owns a data directory.

Chroma's embedded store must have a single writing process (two writers corrupt it silently,
chroma#1595), and a long-running reader never sees vectors another process writes. So a
running server registers itself here while holding the write lock, and the CLI, finding it,
sends its writes to the server instead of opening the store itself (ingester.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.client import NewsdeskClient
from core.settings import Settings


def registration_path(settings: Settings) -> Path:
    return settings.data_dir / "server.json"


def register(settings: Settings, url: str) -> None:
    path = registration_path(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    tmp.replace(path)


def unregister(settings: Settings) -> None:
    path = registration_path(settings)
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def live_server(settings: Settings) -> str | None:
    """The URL of the server that owns this data directory, if one is running."""
    path = registration_path(settings)
    try:
        info = json.loads(path.read_text())
        pid, url = int(info["pid"]), str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
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
