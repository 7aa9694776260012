"""Watching a folder: files that appear or change are indexed once they stop changing.

Polling (not inotify) so it works the same on network folders and in containers; a file is
picked up only after its size and mtime have held still for the debounce interval, so a file
still being copied in is never read half-written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.articles import Article, ArticleError
from index.loaders import discover, reader_for

Stamp = tuple[int, int]


@dataclass
class FolderWatcher:
    folder: Path
    debounce: float = 1.0
    seen: dict[Path, Stamp] = field(default_factory=dict)
    """What each file looked like when it was last indexed."""
    settling: dict[Path, tuple[Stamp, float]] = field(default_factory=dict)
    """Changed files waiting to hold still: their stamp and since when."""

    def poll(self, now: float | None = None) -> list[Path]:
        """Files that changed and have held still for the debounce interval."""
        now = time.monotonic() if now is None else now
        ready: list[Path] = []
        current = {p: stamp(p) for p in discover([self.folder])}
        for path, mark in current.items():
            if self.seen.get(path) == mark:
                self.settling.pop(path, None)
                continue
            previous = self.settling.get(path)
            if previous is None or previous[0] != mark:
                self.settling[path] = (mark, now)
            elif now - previous[1] >= self.debounce:
                ready.append(path)
        for path in list(self.settling):
            if path not in current:
                del self.settling[path]
        return ready

    def done(self, path: Path) -> None:
        mark = self.settling.pop(path, None)
        if mark is not None:
            self.seen[path] = mark[0]


def stamp(path: Path) -> Stamp:
    info = path.stat()
    return (info.st_mtime_ns, info.st_size)


def watch(
    folder: Path,
    sink: Callable[[list[Article]], str],
    report: Callable[[str], None],
    *,
    interval: float = 0.5,
    debounce: float = 1.0,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Index files under `folder` as they settle, forever (or until `stop()`); a bad file is
    reported and skipped, never the end of the watch."""
    watcher = FolderWatcher(folder, debounce)
    while not stop():
        for path in watcher.poll():
            try:
                articles = list(reader_for(path)(path))
                report(f"{path}: {sink(articles)}")
            except ArticleError as exc:
                report(f"skipped {exc}")
            watcher.done(path)
        time.sleep(interval)
