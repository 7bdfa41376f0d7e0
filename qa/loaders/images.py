""".png, .jpg, .jpeg, .tif, .tiff: the text OCR recognises in the image; each frame of a multi-page TIFF
is a page. Refused when OCR is off (QA_OCR=off), since an image has no text otherwise."""

from __future__ import annotations

import io
import logging

from .base import Extracted, PageProgress, Part, UnreadableFile, clean, join_parts

log = logging.getLogger(__name__)

MAX_PIXELS = 200_000_000  # a larger image is a decompression bomb, or a poster OCR cannot read anyway


def extract_image(data: bytes, ocr: bool = True, progress: PageProgress | None = None) -> Extracted:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    from .. import ocr as recognition
    from ..files import file_sha256

    if not ocr:
        raise UnreadableFile("is an image, and OCR is off; set QA_OCR=auto to index the text in it")
    try:
        image = Image.open(io.BytesIO(data))
        frames = getattr(image, "n_frames", 1)
        width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UnreadableFile(
            f"is not a readable image ({type(exc).__name__}: damaged, or another format renamed); "
            "export it again as PNG or JPEG"
        ) from exc
    if width * height * frames > MAX_PIXELS:
        raise UnreadableFile(
            f"is {width}x{height} pixels{f' x {frames} pages' if frames > 1 else ''}, too large to read "
            "safely; scale it down (300 dpi is plenty for OCR) or split it"
        )
    digest = file_sha256(data)
    parts = []
    try:
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            key = recognition.cache_key(digest, f"frame {number}")
            text = recognition.recognise([frame.copy()], key)
            parts.append(Part(number, clean(text), ocr=True))
            if progress:
                progress(number, frames)
    except (OSError, ValueError, SyntaxError) as exc:
        raise UnreadableFile(
            f"is a damaged image ({type(exc).__name__} while decoding it); export it again as PNG or JPEG"
        ) from exc
    extracted = join_parts(parts)
    if not extracted.text.strip():
        raise UnreadableFile("is an image in which OCR found no text; check that the text in it is legible")
    return extracted
