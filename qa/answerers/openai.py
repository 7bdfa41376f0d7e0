"""Any OpenAI-compatible model server (Ollama, vLLM, llama.cpp's server): every sentence checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import AnswererUnavailableError
from .base import ModelAnswerer

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

    from ..settings import Settings


class OpenAIServer(ModelAnswerer):
    name = "openai"
    describes = "Written by the configured model server; every sentence was checked against its passages."

    @classmethod
    def unavailable(cls, settings: Settings) -> str | None:
        from ..llm import openai_chat_model

        try:  # builds the client only: no request is sent until the first answer
            openai_chat_model(settings.llm_base_url, settings.llm_model, settings.llm_api_key)
        except AnswererUnavailableError as exc:
            return str(exc)
        return None

    def _create_model(self) -> BaseChatModel:
        from ..llm import openai_chat_model

        s = self.settings
        return openai_chat_model(s.llm_base_url, s.llm_model, s.llm_api_key)
