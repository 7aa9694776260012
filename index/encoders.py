"""The embedding model run by ONNX Runtime (fp32 or dynamic int8) or OpenVINO instead of torch.

Exported offline from the packaged model on first use (a few seconds) into a folder of the
data directory and reused; nothing is downloaded. The export wraps the transformer so the
attention mask becomes the additive 4-D mask its layers take: tracing transformers' own mask
construction bakes the example's padding into the graph and gives wrong vectors for other
shapes. Needs the `encoders` extra (onnx to export, openvino for that runtime).

These backends exist so `bench/ingest.py` can measure them beside torch on the same machine;
torch stays the default unless one is clearly faster at the same recall.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

ONNX_BACKENDS = ("onnx", "onnx-int8", "openvino")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class EncoderUnavailable(RuntimeError):
    """A backend's runtime or exporter is not installed, or the model does not fit it."""


def export_onnx(folder: Path, target: Path) -> None:
    """The model's transformer as ONNX (last hidden state, dynamic batch and length), written
    to a temporary name and renamed, so a killed export is never loaded."""
    try:
        import onnx  # noqa: F401 - torch's exporter needs it
    except ImportError as exc:
        raise EncoderUnavailable(
            "exporting the embedding model to ONNX needs the 'encoders' extra "
            "(pip install -e '.[encoders]')"
        ) from exc
    import torch
    from sentence_transformers import SentenceTransformer

    eager = SentenceTransformer(
        str(folder), device="cpu", model_kwargs={"attn_implementation": "eager"}
    )
    bert: Any = eager[0].auto_model
    bert.eval()

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
            mask = attention_mask[:, None, None, :].to(hidden.dtype)
            additive = (1.0 - mask) * torch.finfo(hidden.dtype).min
            return self.bert.encoder(hidden, attention_mask=additive).last_hidden_state

    example = eager.tokenizer(["an example", "a longer example sentence"], padding=True)
    tensors = tuple(torch.tensor(example[name]) for name in INPUTS)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "hidden")}
    torch.onnx.export(
        Hidden(),
        tensors,
        str(partial),
        input_names=list(INPUTS),
        output_names=["hidden"],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )
    os.replace(partial, target)


def quantize_onnx(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process is for CNNs
    try:
        quantize_dynamic(str(source), str(partial), weight_type=QuantType.QInt8)
    finally:
        logging.getLogger().setLevel(quiet)
    os.replace(partial, target)


def _threads() -> int:
    """As many threads as torch uses (OMP_NUM_THREADS or the cores), so a comparison of
    backends compares runtimes, not thread counts."""
    import torch

    return int(torch.get_num_threads())


class OnnxEncoder:
    """Tokenise like sentence-transformers, run the exported graph, mean-pool over the
    attention mask and L2-normalise: the same steps as the packaged model's pipeline."""

    def __init__(self, model: SentenceTransformer, folder: Path, backend: str, cache: Path) -> None:
        pooling = getattr(model[1], "pooling_mode", None) if len(model) > 1 else None
        if pooling != "mean":
            raise EncoderUnavailable("the ONNX backends support mean-pooled models only")
        self.tokenizer = model.tokenizer
        self.max_length = int(model.max_seq_length or 512)
        fp32 = cache / f"{folder.parent.name}.onnx"
        if not fp32.exists():
            export_onnx(folder, fp32)
        path = fp32
        if backend == "onnx-int8":
            path = cache / f"{folder.parent.name}.int8.onnx"
            if not path.exists():
                quantize_onnx(fp32, path)
        self._run = self._openvino(path) if backend == "openvino" else self._onnxruntime(path)

    @staticmethod
    def _onnxruntime(path: Path) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = _threads()
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

        def run(inputs: dict[str, NDArray[np.int64]]) -> NDArray[np.float32]:
            return np.asarray(session.run(["hidden"], inputs)[0], dtype=np.float32)

        return run

    @staticmethod
    def _openvino(path: Path) -> Any:
        try:
            import openvino
        except ImportError as exc:
            raise EncoderUnavailable(
                "the openvino backend needs the 'encoders' extra (pip install -e '.[encoders]')"
            ) from exc
        core = openvino.Core()
        compiled = core.compile_model(
            core.read_model(str(path)), "CPU", {"INFERENCE_NUM_THREADS": _threads()}
        )

        def run(inputs: dict[str, NDArray[np.int64]]) -> NDArray[np.float32]:
            return np.asarray(compiled(inputs)[compiled.output(0)], dtype=np.float32)

        return run

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        batch = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="np",
        )
        inputs = {name: np.asarray(batch[name], dtype=np.int64) for name in INPUTS}
        hidden = self._run(inputs)
        mask = inputs["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
