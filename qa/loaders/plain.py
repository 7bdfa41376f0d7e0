""".txt and .md: the decoded file, unchanged (UTF-8, UTF-16/32 with a BOM, or a detected legacy encoding),
so offsets index into what the user wrote. Also decodes .csv and HTML that declares no charset."""

from __future__ import annotations

import codecs
import logging
import re

from .base import Extracted, UnreadableFile

log = logging.getLogger(__name__)

_BOMS = (  # UTF-32 before UTF-16: the UTF-16-LE BOM is a prefix of the UTF-32-LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BINARY_HINT = "check that it really is a text file"
_MAX_CONTROL_SHARE = 0.05  # more control characters than this and it is not text
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")  # Cc other than \t \n \r \f
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode_text(data: bytes) -> str:
    """Decode a text file: UTF-8 (BOM or not), UTF-16/32 with a BOM, else a detected legacy encoding.

    Raises ValueError for binary data: NUL bytes, or too many control characters once decoded.
    """
    text = _decode(data)
    _refuse_control_characters(text)
    return text


def _decode(data: bytes) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise UnreadableFile(
                    f"starts with a {codec.upper().removesuffix('-SIG')} byte order mark but is not valid "
                    f"{codec.upper().removesuffix('-SIG')} (byte {exc.start}); re-save it as UTF-8"
                ) from exc
    if b"\x00" in data:
        raise UnreadableFile(f"looks like a binary file (it contains NUL bytes), not text; {_BINARY_HINT}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_legacy(data)


def _refuse_control_characters(text: str) -> None:
    controls = len(_CONTROL_CHARS.findall(text))
    if text and controls > _MAX_CONTROL_SHARE * len(text):
        share = 100 * controls / len(text)
        raise UnreadableFile(
            f"looks like a binary file ({share:.0f}% control characters), not text; {_BINARY_HINT}"
        )


def _decode_legacy(data: bytes) -> str:
    """Text that is not valid UTF-8. In order: binary junk is refused before any detector can dress it
    up as text; UTF-8 with a few stray bytes stays UTF-8; Windows-1252 wins when it reads as Western
    European text (charset-normalizer often mistakes short French or German for cp1250, cp1257 or
    mac_turkish); anything else goes to charset-normalizer (Cyrillic, Greek, CJK, Central European)."""
    controls = len(_CONTROL_BYTES.findall(data))
    if controls > _MAX_CONTROL_SHARE * len(data):
        share = 100 * controls / len(data)
        raise UnreadableFile(
            f"looks like a binary file ({share:.0f}% control bytes), not text; {_BINARY_HINT}"
        )
    text = _mostly_utf8(data)
    if text is not None:
        return text
    from charset_normalizer import from_bytes

    western = _western(data)
    best = from_bytes(data).best()
    if western is not None:
        if best is not None and _central_european(best.encoding, best.language):
            log.info("decoded as %s (%s), not Windows-1252", best.encoding, best.language)
            return data.decode(best.encoding)
        if _TURKISH_IN_CP1252.search(western) and not _ICELANDIC_IN_CP1252.search(western):
            log.info("decoded as Windows-1254 (Turkish), not Windows-1252")
            return data.decode("cp1254")
        log.info("decoded as Windows-1252 (not valid UTF-8)")
        return western
    if best is None:
        raise UnreadableFile(
            f"is not UTF-8 and its encoding could not be recognised; save it as UTF-8 ({_BINARY_HINT})"
        )
    log.info("decoded as %s (not valid UTF-8; detected by charset-normalizer)", best.encoding)
    try:
        return data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise UnreadableFile(
            f"is not UTF-8 and could not be decoded as {best.encoding}; save it as UTF-8"
        ) from exc


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few invalid bytes (a pasted fragment, a truncated character) decoded with U+FFFD for
    those bytes: better than reading every other character as mojibake in a legacy encoding."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    good = len(text) - len(text.encode("ascii", errors="ignore")) - text.count("\ufffd")  # non-ASCII
    if good >= 2 * bad:
        log.info("decoded as UTF-8 with %d invalid byte(s) replaced by U+FFFD", bad)
        return text
    return None


_WESTERN_LETTERS = set("ªºµƒÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿŒœŠšŽžŸ")
_WORD = re.compile(r"[^\W\d_]+")
_SYMBOL_IN_WORD = re.compile(r"(?<=[^\W\d_])[^\x00-\x7f\w\s’‘“”·–—…•€™]+(?=[^\W\d_])")


def _western(data: bytes) -> str | None:
    """The Windows-1252 reading of `data` if it looks like Western European text: accented letters sit
    inside words that also have plain ASCII letters ("café", "Größe"), as they do in French, German,
    Spanish or Nordic text, and unlike Cyrillic or Greek read through the wrong table."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    if _SYMBOL_IN_WORD.search(text):  # "Za¿ó³æ": Polish cp1250 read as cp1252
        return None
    accented = [w for w in _WORD.findall(text) if not w.isascii()]
    if not accented:
        return None
    for word in accented:
        if any(ch > "\x7f" and ch not in _WESTERN_LETTERS for ch in word):
            return None
    plausible = sum(1 for w in accented if len(w) <= 2 or any(ch.isascii() for ch in w))
    return text if plausible >= 0.9 * len(accented) else None


# Turkish ı ğ ş read as cp1252 become ý ð þ, which only Icelandic uses, and Icelandic also has á é í ó ú æ.
_TURKISH_IN_CP1252 = re.compile("[ýÝðÐþÞ]")
_ICELANDIC_IN_CP1252 = re.compile("[áéíóúæÁÉÍÓÚÆ]")


def _central_european(encoding: str, language: str) -> bool:
    """charset-normalizer's verdict for cp1250 text that also decodes as plausible cp1252 (Czech ř reads
    as ø): trusted only when it names a Central European language as well as encoding."""
    return encoding in {"cp1250", "iso8859_2"} and language in {
        "Czech", "Slovak", "Polish", "Hungarian", "Slovene", "Croatian", "Romanian",
    }  # fmt: skip


def extract_plain(data: bytes) -> Extracted:
    """.txt and .md: the decoded file exactly, so offsets index into what the user wrote."""
    return Extracted(decode_text(data))
