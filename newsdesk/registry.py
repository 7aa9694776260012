"""Which server, if any, owns a data directory.

Chroma's embedded store must have a single writing process, and a server never sees vectors
another process writes (MODELS.md, chroma#1595). So a running server registers itself here
while holding the write lock, and the CLI, finding it, sends its writes to the server instead
of opening the store itself.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

from newsdesk.settings import Settings


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
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            return url if response.status == 200 else None
    except OSError:
        return None
