"""What every benchmark shares: logging to stderr (stdout carries only the JSON) and the small helpers
the scripts would otherwise repeat."""

from __future__ import annotations

import logging
import os
import socket
import statistics
import sys
from collections.abc import Iterable

MAX_BYTES = 50_000_000  # the default QA_MAX_FILE_MB (50 MB), what a user's index build accepts
NOISY = ("chromadb", "httpx", "sentence_transformers", "transformers", "qa")


def quiet_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def median(values: Iterable[float], digits: int = 3) -> float:
    return round(statistics.median(values), digits)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
