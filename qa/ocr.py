"""Images -> text, offline: rapidocr runs the PP-OCR detection and recognition ONNX models shipped inside
its wheel on onnxruntime, so nothing is downloaded (its config points at the packaged model files).

OCR takes seconds a page, so every result is cached under `cache_root()/ocr`, keyed by the engine and
the content hash of what was recognised (a file, or one page of it): a document version is read once,
by any build, in any process.

Recognised boxes become lines (boxes side by side on one baseline joined by a space), and a vertical
gap wider than a line's height becomes a paragraph break, so the chunker sees paragraphs as it does in
extracted text.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import cache_root

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

ENGINE = "rapidocr-3.10.0"  # in the cache key: another engine or version reads differently
_MIN_SCORE = 0.5  # rapidocr's own default for keeping a recognised box
_PARAGRAPH_GAP = 0.9  # a gap above a line taller than this many line heights starts a paragraph
_MAX_SIDE = 4000  # rapidocr's detector works on at most this many pixels a side (it scales down)


@dataclass(frozen=True)
class Box:
    """One recognised piece of text and where it sits on the image (pixels)."""

    text: str
    left: float
    top: float
    right: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top


def lines_to_text(boxes: Sequence[Box]) -> str:
    """Reading order for one column: boxes sorted top to bottom, those whose vertical middles fall
    within half a line height of a line's joined onto it left to right; a blank line marks a gap."""
    if not boxes:
        return ""
    height = statistics.median(b.height for b in boxes) or 1.0
    lines: list[list[Box]] = []
    for box in sorted(boxes, key=lambda b: (b.top + b.bottom) / 2):
        middle = (box.top + box.bottom) / 2
        if lines and abs(middle - _middle(lines[-1])) < height / 2:
            lines[-1].append(box)
        else:
            lines.append([box])
    out: list[str] = []
    previous_bottom: float | None = None
    for line in lines:
        top = min(b.top for b in line)
        if previous_bottom is not None and top - previous_bottom > _PARAGRAPH_GAP * height:
            out.append("")
        out.append(" ".join(b.text.strip() for b in sorted(line, key=lambda b: b.left) if b.text.strip()))
        previous_bottom = max(b.bottom for b in line)
    return "\n".join(out).strip()


def _middle(line: list[Box]) -> float:
    return statistics.fmean((b.top + b.bottom) / 2 for b in line)


class Recogniser:
    """The OCR engine, created on first use (loading its models takes about a second) and shared."""

    _lock = threading.RLock()  # engine() is also called with it held
    _engine: Any = None

    @classmethod
    def engine(cls) -> Any:
        with cls._lock:
            if cls._engine is None:
                from rapidocr import RapidOCR

                cls._engine = RapidOCR(params={"Global.log_level": "warning"})
            return cls._engine

    @classmethod
    def boxes(cls, image: Image) -> list[Box]:
        import numpy as np

        rgb = image.convert("RGB")
        if max(rgb.size) > _MAX_SIDE:
            rgb.thumbnail((_MAX_SIDE, _MAX_SIDE))
        pixels = np.asarray(rgb)[:, :, ::-1].copy()  # rapidocr takes arrays as OpenCV does: BGR
        with cls._lock:  # one onnxruntime session per model: run one image at a time
            result = cls.engine()(pixels)
        if result.boxes is None or result.txts is None:
            return []
        found: list[Box] = []
        for corners, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
            if score < _MIN_SCORE or not text.strip():
                continue
            xs, ys = [float(p[0]) for p in corners], [float(p[1]) for p in corners]
            found.append(Box(text, min(xs), min(ys), max(xs), max(ys)))
        return found


def cache_key(content_sha256: str, part: str = "") -> str:
    """The cache name of one recognised image: the engine, the content's hash, and which part of it."""
    return hashlib.sha256(f"{ENGINE}\x00{content_sha256}\x00{part}".encode()).hexdigest()


def _cache_path(key: str) -> Path:
    return cache_root() / "ocr" / key[:2] / f"{key}.txt"


def cached(key: str) -> str | None:
    try:
        return _cache_path(key).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _store(key: str, text: str) -> None:
    path = _cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache costs speed, not correctness
        log.warning("could not cache OCR result in %s (%s); it will be recognised again next time", path, exc)


def recognise(images: Sequence[Image], key: str) -> str:
    """The text of `images` (one page: several images on it are read top to bottom, each its own
    paragraph), from the cache when this `key` was recognised before."""
    hit = cached(key)
    if hit is not None:
        return hit
    texts = [lines_to_text(Recogniser.boxes(image)) for image in images]
    text = "\n\n".join(t for t in texts if t)
    _store(key, text)
    return text
