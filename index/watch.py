"""Watching a folder: files that appear or change are indexed once they stop changing, and
the articles of files that disappear are removed.

Polling (not inotify) so it works the same on network folders and in containers; a file is
picked up only after its size and mtime have held still for the debounce interval, so a file
still being copied in is never read half-written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
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
    produced: dict[Path, set[str]] = field(default_factory=dict)
    """The article ids each indexed file yielded, so its removal can remove them."""

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

    def done(self, path: Path, ids: Iterable[str] | None = None) -> list[str]:
        """Marks `path` handled; `ids` are the articles it yields now (None: it could not be
        read, so what it yielded before stays). Returns the ids it no longer yields that no
        other file does: a record taken out of a JSON Lines file, say."""
        mark = self.settling.pop(path, None)
        if mark is not None:
            self.seen[path] = mark[0]
        if ids is None:
            return []
        before = self.produced.get(path, set())
        self.produced[path] = set(ids)
        return self._unclaimed(before - self.produced[path])

    def vanished(self) -> list[Path]:
        """Indexed files that are gone (deleted, or moved out of the folder)."""
        return [path for path in self.seen if not path.is_file()]

    def forget(self, path: Path) -> list[str]:
        """Drops a vanished file; returns the ids it yielded that no other file yields."""
        self.seen.pop(path, None)
        return self._unclaimed(self.produced.pop(path, set()))

    def _unclaimed(self, ids: set[str]) -> list[str]:
        claimed = set().union(*self.produced.values()) if self.produced else set()
        return sorted(ids - claimed)


def stamp(path: Path) -> Stamp:
    info = path.stat()
    return (info.st_mtime_ns, info.st_size)


def watch(
    folder: Path,
    sink: Callable[[list[Article]], str],
    remove: Callable[[list[str]], str],
    report: Callable[[str], None],
    *,
    interval: float = 0.5,
    debounce: float = 1.0,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Index files under `folder` as they settle, and remove the articles of files that go,
    forever (or until `stop()`); a bad file is reported and skipped, never the end of the
    watch. Files deleted while no watch ran are not noticed: `ingest --prune` covers those."""
    watcher = FolderWatcher(folder, debounce)
    while not stop():
        for path in watcher.poll():
            try:
                articles = list(reader_for(path)(path))
            except ArticleError as exc:
                report(f"skipped {exc}")
                watcher.done(path)
                continue
            report(f"{path}: {sink(articles)}")
            dropped = watcher.done(path, [a.id for a in articles])
            if dropped:
                report(f"{path}: {len(dropped)} article(s) no longer in it: {remove(dropped)}")
        for path in watcher.vanished():
            gone = watcher.forget(path)
            if gone:
                report(f"{path}: removed; {remove(gone)}")
        time.sleep(interval)
