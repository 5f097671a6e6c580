"""The picture formats, one table (:data:`CODECS`): each one's file extensions, whether it is
written, the save options that embed the parameters and where they are read back from. The
accepted inputs, the outputs, the ``-o`` help and the metadata reader all come from it; a new
format is one row. Nothing here imports Pillow or torch until a picture is written or read,
so the command line can build its help from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
from xml.sax.saxutils import escape, unescape

__all__ = ["Codec", "CODECS", "WRITERS", "FORMATS", "INPUT_SUFFIXES", "OUTPUT_FORMATS", "METADATA_KEY", "fit_longest_side",
           "output_formats_help"]

METADATA_KEY = "inceptionism"
_XMP_OPEN, _XMP_CLOSE = "<inceptionism:params>", "</inceptionism:params>"


def _png_options(text: str | None, quick: bool) -> dict[str, Any]:
    from PIL import PngImagePlugin

    options: dict[str, Any] = {"compress_level": 1} if quick else {}
    if text is not None:
        info = PngImagePlugin.PngInfo()
        info.add_itxt(METADATA_KEY, text)
        options["pnginfo"] = info
    return options


def _png_text(info: dict[str, Any]) -> Any:
    return info.get(METADATA_KEY)


def _jpeg_options(text: str | None, quick: bool) -> dict[str, Any]:
    return {"quality": 95, "subsampling": 0, **({"comment": f"{METADATA_KEY}:{text}".encode()} if text is not None else {})}


def _jpeg_text(info: dict[str, Any]) -> Any:
    comment = info.get("comment")
    if isinstance(comment, bytes) and comment.startswith(f"{METADATA_KEY}:".encode()):
        return comment[len(METADATA_KEY) + 1 :].decode("utf-8")
    return None


def _webp_options(text: str | None, quick: bool) -> dict[str, Any]:
    return {"quality": 95, **({"xmp": f"{_XMP_OPEN}{escape(text)}{_XMP_CLOSE}".encode()} if text is not None else {})}


def _webp_text(info: dict[str, Any]) -> Any:
    xmp = info.get("xmp")
    if not xmp:
        return None
    xmp_text = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else str(xmp)
    start, end = xmp_text.find(_XMP_OPEN), xmp_text.find(_XMP_CLOSE)
    return unescape(xmp_text[start + len(_XMP_OPEN) : end]) if start >= 0 and end > start else None


@dataclass(frozen=True)
class Codec:
    """One picture format: how it is named, written and where its parameters live."""

    name: str  # Pillow's name for it
    suffixes: tuple[str, ...]  # file extensions, the first one canonical
    about: str = ""  # for help texts: what the format keeps
    options: Callable[[str | None, bool], dict[str, Any]] | None = None  # save options (metadata text, quick); None: read only
    text: Callable[[dict[str, Any]], Any] | None = None  # the embedded parameters' text from Pillow's info, or None
    alpha: bool = True  # keeps an alpha channel


CODECS = (
    Codec("PNG", (".png",), "lossless, with transparency", _png_options, _png_text),
    Codec("JPEG", (".jpg", ".jpeg"), "small", _jpeg_options, _jpeg_text, alpha=False),
    Codec("WEBP", (".webp",), "small, with transparency", _webp_options, _webp_text),
    Codec("GIF", (".gif",)),
    Codec("BMP", (".bmp",)),
    Codec("TIFF", (".tif", ".tiff")),
)
# Pillow's name -> (file extensions, the first one canonical; can be written).
FORMATS: dict[str, tuple[tuple[str, ...], bool]] = {c.name: (c.suffixes, c.options is not None) for c in CODECS}
INPUT_SUFFIXES = {suffix: c.name for c in CODECS for suffix in c.suffixes}
OUTPUT_FORMATS = {suffix: c.name for c in CODECS if c.options is not None for suffix in c.suffixes}
WRITERS = {suffix: c for c in CODECS if c.options is not None for suffix in c.suffixes}


def output_formats_help() -> str:
    """The picture formats an output may take, for a command's help (from :data:`CODECS`)."""
    kinds = [f"{c.suffixes[0]} ({c.about})" for c in CODECS if c.options is not None]
    return ", ".join(kinds[:-1]) + " or " + kinds[-1] + "; the parameters are embedded in each"


def fit_longest_side(width: int, height: int, side: int | None) -> tuple[int, int]:
    """(width, height) shrunk, keeping the shape, so the longer side is at most ``side`` (None:
    unchanged); never below 1 px. The one rule for every picture, frame and preview."""
    if side is None or max(width, height) <= side:
        return width, height
    ratio = side / max(width, height)
    return max(1, round(width * ratio)), max(1, round(height * ratio))
