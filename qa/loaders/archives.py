"""Zip-based formats (.docx, .pptx, .xlsx, .epub) are checked here before any parser opens them.

A zip bomb is a small file that unpacks to gigabytes. Its members' declared sizes are summed first
(cheap: the central directory), then every member's compressed bytes are inflated in blocks with zlib
itself (not through `zipfile`, which believes the declared sizes), counting what comes out, throwing it
away, and stopping as soon as the count passes the limit; so a lying header is caught too, and no
parser ever holds more than the limit.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from .base import UnreadableFile

MAX_UNPACKED_BYTES = 500_000_000  # what a document may unpack to, all members together
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old Office files, and encrypted new ones
_BLOCK = 1 << 20
_TOO_BIG = "too large to read safely; save a copy with smaller images or split it"


def check_zip(data: bytes, kind: str, redo: str, ole2: str | None = None) -> None:
    """Refuse `data` unless it is a zip whose members, declared and inflated, stay under the limit.
    `kind` names the format ("Word .docx"), `redo` says how to get a good file, `ole2` is the reason
    for an OLE2 container (an old binary Office file or an encrypted one)."""
    if ole2 and data.startswith(OLE2_MAGIC):
        raise UnreadableFile(ole2)
    limit = MAX_UNPACKED_BYTES
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            declared = sum(info.file_size for info in members)
            if declared > limit:
                raise UnreadableFile(f"unpacks to {declared / 1e6:.0f} MB, {_TOO_BIG}")
            inflated = 0
            for info in members:
                inflated += _inflated_size(data, info, limit - inflated)
                if inflated > limit:
                    raise UnreadableFile(
                        f"unpacks to more than {limit / 1e6:.0f} MB although it declares "
                        f"{declared / 1e6:.0f} MB (a zip bomb?), {_TOO_BIG}"
                    )
    except UnreadableFile:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        OSError,
        EOFError,
        struct.error,
        zlib.error,
    ) as exc:
        raise UnreadableFile(f"is not a {kind} file (not a valid zip archive); {redo}") from exc


def _inflated_size(data: bytes, info: zipfile.ZipInfo, budget: int) -> int:
    """How many bytes a member really inflates to, counted up to just past `budget`."""
    if info.compress_type == zipfile.ZIP_STORED:
        return info.compress_size
    if info.compress_type != zipfile.ZIP_DEFLATED:  # Office and EPUB files use only these two
        raise zipfile.BadZipFile(f"unsupported compression {info.compress_type}")
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    begin = info.header_offset + 30 + name_length + extra_length
    pending = memoryview(data)[begin : begin + info.compress_size]
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    while pending and not inflater.eof:
        total += len(inflater.decompress(pending, _BLOCK))
        if total > budget:
            break
        pending = memoryview(inflater.unconsumed_tail)
    return total
