"""Embeddings from an OpenAI-compatible `/v1/embeddings` server (`QA_EMBEDDINGS_URL`): ingest and
questions embedded on another machine, such as a GPU box running text-embeddings-inference, vLLM,
Ollama, infinity or llama.cpp's server, instead of on this CPU.

Plain httpx (it comes with chromadb and gradio) rather than the `openai` client or langchain-openai's
`OpenAIEmbeddings`: those count tokens with tiktoken, whose encodings are downloaded on first use,
unless told not to; the `openai` client asks for base64 vectors by default, which not every server
gives; and both retry on their own terms and raise their own exceptions. What is needed is small:
POST a batch, retry the transient failures (connection errors, timeouts, 429 and 5xx) a bounded number
of times with exponential backoff, and turn everything else into one-line errors that name the server
and say what to do.

Servers differ on whether they normalise (llama.cpp's does not), so rows are normalised here: the
index uses cosine distance and the answering code takes dot products as cosines.

The model name (`QA_EMBEDDINGS_MODEL`, or the one model the server lists) and the vector dimension
(`QA_EMBEDDINGS_DIM`, or one probe request) are asked for only when first needed and then kept, and
are recorded in the index with backend "remote", so an index built by another model is refused.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from .embeddings import EmbeddingModel
from .errors import QAError

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger(__name__)

BACKEND = "remote"
BATCH_SIZE = 32  # text-embeddings-inference's default limit of inputs per request
IN_FLIGHT = 4  # batches sent at once: hides the round trip and lets a GPU server batch across requests
RETRIES = 3  # after the first try: 4 tries over about 3.5 s of backoff
BACKOFF = 0.5  # seconds before the first retry, doubled each time
MAX_WAIT = 30.0  # longest Retry-After honoured
TIMEOUT = httpx.Timeout(120.0, connect=5.0)  # a large batch on a busy server takes a while
PROBE_TEXT = "dimension probe"


def remote_embeddings(settings: Settings) -> RemoteEmbeddings | None:
    """The server client when `QA_EMBEDDINGS_URL` is set, else None (embed in-process)."""
    if not settings.embeddings_url:
        return None
    return RemoteEmbeddings(
        settings.embeddings_url,
        model=settings.embeddings_model,
        api_key=settings.embeddings_api_key,
        dimension=settings.embeddings_dim,
    )


def _transient(status: int) -> bool:
    return status in (408, 429) or status >= 500


def _detail(response: httpx.Response) -> str:
    """The server's own error message, shortened to fit one line."""
    try:
        body: Any = response.json()
        error = body.get("error", body) if isinstance(body, dict) else body
        message = error.get("message", error) if isinstance(error, dict) else error
        text = str(message)
    except ValueError:
        text = response.text
    text = " ".join(text.split())
    return text[:200] + ("…" if len(text) > 200 else "")


class RemoteEmbeddings(EmbeddingModel):
    """An OpenAI-compatible embeddings server behind the interface the index and retrieval use."""

    backend = BACKEND

    def __init__(
        self,
        url: str,
        model: str | None = None,
        api_key: str | None = None,
        dimension: int | None = None,
        batch_size: int = BATCH_SIZE,
        in_flight: int = IN_FLIGHT,
        retries: int = RETRIES,
        backoff: float = BACKOFF,
    ) -> None:
        base = url.strip().rstrip("/")
        base = base.removesuffix("/embeddings")
        if not base.startswith(("http://", "https://")):
            raise QAError(
                f"QA_EMBEDDINGS_URL={url!r} is not an http(s) URL; set it to the server's base URL, "
                "e.g. http://127.0.0.1:8001/v1"
            )
        self.url = base
        self.batch_size = batch_size
        self.in_flight = max(1, in_flight)
        self.retries = retries
        self.backoff = backoff
        self._model = model
        self._dimension = dimension
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base, headers=headers, timeout=TIMEOUT)  # connects on use
        self._lock = threading.Lock()

    # ---- what the index records ----------------------------------------------------------------

    @property
    def name(self) -> str:
        """The server's model name: configured, or the only model it lists."""
        with self._lock:
            if self._model is None:
                self._model = self._listed_model()
            return self._model

    @property
    def dimension(self) -> int:
        """The vectors' length: configured, or asked once from the server."""
        if self._dimension is None:
            self._dimension = int(self._embed_batch([PROBE_TEXT]).shape[1])
        return self._dimension

    def _listed_model(self) -> str:
        response = self._request("GET", "/models")
        try:
            ids = [str(m["id"]) for m in response.json()["data"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise QAError(
                f"the embeddings server at {self.url} did not list its models; set QA_EMBEDDINGS_MODEL"
            ) from exc
        if len(ids) != 1:
            listed = ", ".join(ids) or "none"
            raise QAError(
                f"the embeddings server at {self.url} serves {len(ids)} models ({listed}); "
                "set QA_EMBEDDINGS_MODEL to the one to use"
            )
        return ids[0]

    # ---- embedding ---------------------------------------------------------------------------

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed texts as a float32 matrix with unit-length rows: `batch_size` texts per request, up to
        `in_flight` requests at a time."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        batches = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        if len(batches) == 1 or self.in_flight == 1:
            return np.concatenate([self._embed_batch(batch) for batch in batches])
        _ = self.name  # asked once, before the requests that need it
        pool = ThreadPoolExecutor(min(self.in_flight, len(batches)), "qa-embed")
        try:
            return np.concatenate(list(pool.map(self._embed_batch, batches)))
        finally:  # after a failure, batches not yet sent are dropped instead of failing one by one
            pool.shutdown(wait=True, cancel_futures=True)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        # Some servers refuse an empty input; the model sees only its special tokens either way.
        payload = {"model": self.name, "input": [t or " " for t in texts], "encoding_format": "float"}
        response = self._request("POST", "/embeddings", json=payload)
        try:
            rows = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise QAError(
                f"the embeddings server at {self.url} sent an answer that is not OpenAI's embeddings "
                f"format ({type(exc).__name__}); check that QA_EMBEDDINGS_URL is its /v1 base URL"
            ) from exc
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise QAError(
                f"the embeddings server at {self.url} returned {len(vectors)} vectors for {len(texts)} "
                "texts; check that it serves an embedding model"
            )
        if self._dimension is None:
            self._dimension = int(vectors.shape[1])  # no probe needed after the first answer
        elif vectors.shape[1] != self._dimension:
            raise QAError(
                f"the embeddings server at {self.url} returned {vectors.shape[1]}-dimensional vectors, "
                f"not {self._dimension}; fix QA_EMBEDDINGS_DIM or QA_EMBEDDINGS_MODEL"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    # ---- the HTTP exchange --------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One exchange with the server, retried on transient failures; anything else is a QAError."""
        tries = self.retries + 1
        for attempt in range(1, tries + 1):
            wait = self.backoff * 2 ** (attempt - 1)
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt == tries:
                    raise QAError(
                        f"cannot reach the embeddings server at {self.url} ({type(exc).__name__} after "
                        f"{tries} tries); start it, or fix or unset QA_EMBEDDINGS_URL"
                    ) from exc
                problem = type(exc).__name__
            else:
                if response.is_success:
                    return response
                if not _transient(response.status_code) or attempt == tries:
                    raise self._refused(response, attempt)
                problem = f"HTTP {response.status_code}"
                after = _retry_after(response)
                wait = wait if after is None else after
            # INFO: a retry that succeeds needs no attention, and the CLI's errors stay one line.
            log.info(
                "embeddings server at %s: %s; retrying in %.1fs (try %d of %d)",
                self.url, problem, wait, attempt + 1, tries,
            )  # fmt: skip
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _refused(self, response: httpx.Response, attempt: int) -> QAError:
        status = response.status_code
        what = f"{status} {response.reason_phrase}: {_detail(response)}"
        if status in (401, 403):
            hint = "set QA_EMBEDDINGS_API_KEY to a key it accepts"
        elif status == 404:
            hint = "check that QA_EMBEDDINGS_URL is its base URL ending in /v1, and QA_EMBEDDINGS_MODEL"
        elif _transient(status):
            what += f", {attempt} tries"
            hint = "check the server, or unset QA_EMBEDDINGS_URL to embed in-process"
        else:
            hint = "check QA_EMBEDDINGS_MODEL and that the server serves an embedding model"
        return QAError(f"the embeddings server at {self.url} refused the request ({what}); {hint}")

    def close(self) -> None:
        self._client.close()


def _retry_after(response: httpx.Response) -> float | None:
    """The server's Retry-After in seconds, when it gives a usable one."""
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return min(seconds, MAX_WAIT) if seconds >= 0 else None
