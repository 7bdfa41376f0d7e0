"""Where derived files are kept and how a file's content is identified, said once for every module.

The cache holds what qa derives from packaged models (the joined local model, the ONNX export); a
SHA-256 verifies those and tells an edited document from an unchanged one.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

CACHE_ENV = "QA_CACHE_DIR"


def cache_root() -> Path:
    """`$QA_CACHE_DIR`, else `$XDG_CACHE_HOME/qa`, else `~/.cache/qa` (the XDG base directory rules)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "qa"


def file_sha256(content: bytes | Path) -> str:
    """The hex SHA-256 of a file's bytes, or of the file at a path, read in blocks so that a 500 MB
    model never sits in memory whole."""
    if isinstance(content, bytes):
        return hashlib.sha256(content).hexdigest()
    with open(content, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write a file so that readers see either the old or the new content, never a mix."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
