"""Settings in, the configured reader model out, checked before the first question.

Called once at the edge (server start-up, CLI command, eval run) so that a missing extra, a
wrong model path, an unreachable server or an unknown model name stops the process with one
clear sentence instead of failing inside the first answer.
"""

from __future__ import annotations

from assistant.llm.base import ChatModel
from assistant.llm.local import LocalModel
from assistant.llm.openai_compat import OpenAICompatibleModel
from core.settings import Settings

__all__ = ["open_model"]


def open_model(settings: Settings) -> ChatModel | None:
    """The model ``settings.answerer`` names, ready to use; None for the extractive answerer.

    Raises ModelUnavailable when it cannot be used. The local model is loaded here (1-3 s
    after the first start, which also assembles its 1.1 GB file once).
    """
    if settings.answerer == "extractive":
        return None
    if settings.answerer == "local":
        return LocalModel(settings)
    remote = OpenAICompatibleModel(settings)
    remote.check()
    return remote
