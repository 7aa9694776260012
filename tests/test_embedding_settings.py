"""Vectors are stored with the model and backend that made them, and the device is chosen.

An index built with one embedding setting and opened with another must stop with what to run,
in-process, from the CLI and at server start, never mix vectors silently; `newsdesk reindex`
re-embeds it. All with the real model.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from assistant.runtime import Runtime
from core.settings import Settings
from index.embedder import Embedder, EmbedderError, resolve_device
from index.loaders import load_articles
from index.store import IndexMismatch, Store

from conftest import run_newsdesk, start_server, stop_server
from tests_support import article, write_jsonl

INT8 = {"NEWSDESK_EMBEDDING_BACKEND": "torch-int8"}


@pytest.fixture
def indexed(tmp_path: Path, embedder: Embedder) -> Path:
    """A data directory indexed with the default settings (torch fp32)."""
    path = write_jsonl(tmp_path / "articles.jsonl", [article(i) for i in range(4)])
    data = tmp_path / "data"
    runtime = Runtime(Settings(data_dir=data), embedder)
    runtime.writer.ingest(load_articles([path]))
    runtime.close()
    return data


cli = run_newsdesk


def test_the_index_records_model_backend_dimension_and_normalisation(
    indexed: Path, embedder: Embedder
) -> None:
    store = Store.open(Settings(data_dir=indexed), embedder)
    try:
        recorded = store.catalog.meta("embedding")
    finally:
        store.close()
    assert recorded == {
        "model": embedder.name,
        "backend": "torch",
        "normalize": True,
        "dimension": 384,
    }


def test_opening_with_another_backend_says_reindex(indexed: Path, embedder: Embedder) -> None:
    settings = Settings(data_dir=indexed, embedding_backend="torch-int8")
    with pytest.raises(IndexMismatch) as caught:
        Store.open(settings, Embedder.from_settings(settings))
    message = str(caught.value)
    assert "'torch' -> 'torch-int8'" in message
    assert f"newsdesk reindex --data-dir {indexed}" in message


def test_an_index_from_before_the_record_counts_as_torch(indexed: Path) -> None:
    with sqlite3.connect(indexed / "catalog.sqlite3") as db:
        db.execute("DELETE FROM meta")
    settings = Settings(data_dir=indexed, embedding_backend="torch-int8")
    with pytest.raises(IndexMismatch, match="reindex"):
        Store.open(settings, Embedder.from_settings(settings))


def test_a_vector_of_another_width_is_refused(indexed: Path, embedder: Embedder) -> None:
    store = Store.open(Settings(data_dir=indexed), embedder)
    try:
        with pytest.raises(IndexMismatch, match="384-dimensional"):
            store.note_dimension(768)
    finally:
        store.close()


def test_cli_refuses_then_reindex_re_embeds_with_the_new_backend(
    indexed: Path, embedder: Embedder
) -> None:
    for args in (
        ("search", "council budget", "--data-dir", str(indexed)),
        ("ingest", str(indexed.parent / "articles.jsonl"), "--data-dir", str(indexed)),
    ):
        refused = cli(*args, env=INT8)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "newsdesk reindex" in refused.stderr, refused.stderr

    done = cli("reindex", "--json", "--data-dir", str(indexed), env=INT8)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["articles"] == 4 and summary["chunks_embedded"] == 4
    assert summary["embedding"]["backend"] == "torch-int8"

    found = cli("search", "council of town 2", "--json", "--data-dir", str(indexed), env=INT8)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["article_id"] == "a2"
    # Now the default settings are the mismatch.
    with pytest.raises(IndexMismatch, match="'torch-int8' -> 'torch'"):
        Store.open(Settings(data_dir=indexed), embedder)


def test_the_server_refuses_to_start_on_a_mismatched_index(indexed: Path) -> None:
    with pytest.raises(RuntimeError, match="newsdesk reindex"):
        server = start_server(indexed, indexed.parent / "server.log", env=INT8)
        stop_server(server)


def test_int8_vectors_are_close_to_fp32(embedder: Embedder) -> None:
    int8 = Embedder(embedder.package, backend="torch-int8", device="cpu")
    texts = ["The council approved the harbour budget.", "Storm damage closed the airport."]
    a, b = embedder.encode(texts), int8.encode(texts)
    assert b.shape == a.shape == (2, 384)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.8
    assert not np.allclose(a, b)  # it really is another backend


def test_cpu_and_auto_devices(embedder: Embedder) -> None:
    assert resolve_device("cpu") == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected
    assert Settings().embedding_device == "auto"
    assert embedder.device == expected
    assert embedder.model.device.type == expected
    cpu = Embedder(embedder.package, device="cpu")
    assert cpu.model.device.type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(indexed: Path) -> None:
    with pytest.raises(EmbedderError, match="no GPU"):
        resolve_device("cuda")
    env = {"NEWSDESK_EMBEDDING_DEVICE": "cuda"}
    result = cli("search", "council budget", "--data-dir", str(indexed), env=env)
    assert result.returncode == 2
    assert "NEWSDESK_EMBEDDING_DEVICE=cuda, but torch sees no GPU" in result.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none here)")
def test_cuda_encodes_the_same_vectors_as_cpu(embedder: Embedder) -> None:
    gpu = Embedder(embedder.package, device="cuda")
    assert gpu.model.device.type == "cuda"
    texts = ["The council approved the harbour budget.", "Storm damage closed the airport."]
    cpu = Embedder(embedder.package, device="cpu").encode(texts)
    assert float(np.min(np.sum(cpu * gpu.encode(texts), axis=1))) > 0.999


def exported_backends() -> list[str]:
    import importlib.util

    found = [] if importlib.util.find_spec("onnx") is None else ["onnx", "onnx-int8"]
    if found and importlib.util.find_spec("openvino") is not None:
        found.append("openvino")
    return found


@pytest.mark.skipif(not exported_backends(), reason="needs the 'encoders' extra (onnx)")
def test_exported_backends_match_torch_and_export_once(tmp_path: Path, embedder: Embedder) -> None:
    texts = [
        "The council approved the harbour budget after a long debate on Tuesday.",
        "Storm damage closed the airport.",
        "short",
    ]
    reference = embedder.encode(texts)
    for backend in exported_backends():
        other = Embedder(embedder.package, backend=backend, device="cpu", cache=tmp_path)
        vectors = other.encode(texts)
        assert vectors.shape == reference.shape, backend
        cosine = float(np.min(np.sum(reference * vectors, axis=1)))
        assert cosine > (0.85 if backend.endswith("int8") else 0.999), (backend, cosine)
    exported = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.onnx")}
    assert len(exported) == 2  # fp32 and int8, shared by onnx and openvino
    Embedder(embedder.package, backend="onnx-int8", device="cpu", cache=tmp_path).encode(texts)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.onnx")} == exported
