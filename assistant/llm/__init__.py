"""Language-model backends for the reader, chosen by ``Settings.answerer``.

`base` holds the contract (`ChatModel`, `Message`, `Completion`, `ModelUnavailable`,
`ModelTimeout`); `local` runs the bundled GGUF in-process with llama.cpp (the `local` extra);
`openai_compat` talks to any OpenAI-compatible server; `weights` assembles and verifies the
bundled GGUF; `factory.open_model` builds whichever the settings name.

Importing this package is cheap: llama_cpp, openai and llama-index's LLM classes are imported
only when a model is opened.
"""

from assistant.llm.base import (
    ChatModel,
    Completion,
    Message,
    ModelError,
    ModelTimeout,
    ModelUnavailable,
)
from assistant.llm.factory import open_model

__all__ = [
    "ChatModel",
    "Completion",
    "Message",
    "ModelError",
    "ModelTimeout",
    "ModelUnavailable",
    "open_model",
]
