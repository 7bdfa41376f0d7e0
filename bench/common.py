"""What every benchmark does first: logs to stderr (stdout carries only the JSON), libraries quiet."""

from __future__ import annotations

import logging
import os
import sys

NOISY = ("chromadb", "httpx", "sentence_transformers", "transformers", "qa")


def quiet_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
