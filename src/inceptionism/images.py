"""Reading and writing images: every common mode in, atomic writes with parameters out.

Loading applies the EXIF orientation, turns greyscale, palette, CMYK and 16-bit images
into RGB floats in [0, 1] without losing precision, and keeps any alpha channel apart
so it can be put back on the result. Saving writes to a temporary file beside the
target and renames it into place, so a reader never sees a half-written file, and
embeds the dream's parameters (PNG text chunk, JPEG comment, WebP XMP).
"""

from __future__ import annotations

import io
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError, cause
from .formats import WRITERS, CODECS, FORMATS, INPUT_SUFFIXES, OUTPUT_FORMATS, fit_longest_side
from .outputs import check_output_path, write_atomic

__all__ = [
    "Picture",
    "MAX_PIXELS",
    "load_image",
    "picture_from_pil",
    "picture_from_bytes",
    "to_tensor",
    "to_pil",
    "save_image",
    "encode_image",
    "read_metadata",
    "side_by_side",
    "FORMATS",
    "INPUT_SUFFIXES",
    "OUTPUT_FORMATS",
    "fit_longest_side",
]

MAX_PIXELS = int(os.environ.get("INCEPTIONISM_MAX_PIXELS", 100_000_000))


@dataclass
class Picture:
    """An image as the engine sees it: RGB floats (H, W, 3) in [0, 1] and optional alpha (H, W)."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.rgb.shape[1], self.rgb.shape[0]


def load_image(
    path: str | Path, *, max_pixels: int = MAX_PIXELS, role: str = "input", max_side: int | None = None
) -> Picture:
    """Read an image file into a :class:`Picture`.

    ``role`` names the file in error messages ("input", "guide", "mask"). With
    ``max_side``, a picture at least twice that size is decoded smaller (JPEG's own
    reduced decoding, else an integer box reduction), still at least ``max_side`` on its
    longer side, so a huge upload never exists in memory as floats at full size; the
    caller resizes it the rest of the way.

    Raises:
        ImageError: missing, not an image, truncated, or over ``max_pixels``.
    """
    try:
        return _load_image(Path(path), max_pixels, max_side)
    except ImageError as exc:
        message = str(exc)
        raise ImageError(message.replace("input ", f"{role} ", 1) if message.startswith("input ") else message) from None


def _load_image(path: Path, max_pixels: int, max_side: int | None = None) -> Picture:
    if not path.is_file():
        raise ImageError(f"input {str(path)!r} does not exist or is not a file")
    return _decode(path, f"input {str(path)!r}", str(path), max_pixels, max_side)


def picture_from_bytes(
    data: bytes, *, max_side: int | None = None, role: str = "input", name: str | None = None
) -> Picture:
    """Decode an image held in memory (an upload, or a file sent to a cluster worker),
    reduced as :func:`load_image` does; errors name it ``name`` when given, else ``role``."""
    what = f"the {role}" + (f" {name!r}" if name is not None else "")
    return _decode(io.BytesIO(data), what, name or role, MAX_PIXELS, max_side, field=role)


def _decode(source: Path | BinaryIO, what: str, name: str, max_pixels: int, max_side: int | None,
            field: str | None = None) -> Picture:
    """The one decoder of files and bytes; errors begin with ``what`` ("input 'a.png'")."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as im:
                _check_pixels(im.size, name, max_pixels)
                return picture_from_pil(_decoded(im, max_side), max_pixels=max_pixels, name=name)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{what} is too large to open safely (over {max_pixels:,} pixels)", field=field) from None
    except UnidentifiedImageError:
        raise ImageError(f"{what} is not an image format this tool can read (PNG, JPEG, WebP, TIFF, ...)",
                         field=field) from None
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{what} is truncated or corrupt: {cause(exc)}", field=field) from None


def _decoded(im: Image.Image, max_side: int | None) -> Image.Image:
    """``im`` decoded, reduced by a whole factor that keeps its longer side >= ``max_side``."""
    factor = max(im.size) // max_side if max_side else 1
    if factor >= 2 and im.format == "JPEG":
        im.draft(im.mode, (im.width // factor, im.height // factor))  # the decoder skips the detail
    im.load()
    factor = max(im.size) // max_side if max_side else 1
    if factor < 2:
        return im
    try:
        return im.reduce(factor)
    except ValueError:  # modes Pillow cannot reduce (palette, 16-bit, bilevel): kept whole
        return im


def _check_pixels(size: tuple[int, int], path: Path | str, max_pixels: int) -> None:
    w, h = size
    if w * h > max_pixels:
        raise ImageError(
            f"input {str(path)!r} is {w}x{h} = {w * h:,} pixels; the limit is {max_pixels:,} "
            "(set INCEPTIONISM_MAX_PIXELS to raise it)"
        )


def picture_from_pil(im: Image.Image, *, max_pixels: int = MAX_PIXELS, name: str = "image") -> Picture:
    """Convert a PIL image of any mode into a :class:`Picture` (EXIF orientation applied).

    Raises:
        ImageError: too many pixels, or a picture that cannot be read (closed, or opened
            lazily from a file that turns out cut short).
    """
    _check_pixels(im.size, name, max_pixels)
    try:
        im.load()  # a lazily opened picture is read here: a cut-short file fails now, with its name
        return _picture_of(ImageOps.exif_transpose(im))
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{name} cannot be read: {cause(exc)}") from None


def _picture_of(im: Image.Image) -> Picture:
    alpha = None
    if im.mode in ("RGBa", "La"):  # premultiplied alpha: back to straight alpha first
        im = im.convert("RGBA" if im.mode == "RGBa" else "LA")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("RGBA", "LA", "PA"):
        alpha = np.asarray(im.getchannel("A"), dtype=np.float32) / 255.0
        im = im.convert("RGB") if im.mode != "LA" else im.convert("L")
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        rgb = _wide_grey(im)
    else:
        if im.mode != "RGB":
            im = im.convert("RGB")
        rgb = np.asarray(im, dtype=np.float32) / 255.0
    return Picture(np.ascontiguousarray(rgb), alpha)


def _wide_grey(im: Image.Image) -> np.ndarray:
    """16-bit and 32-bit greyscale to RGB floats, keeping their precision."""
    values = np.asarray(im, dtype=np.float64)
    if im.mode == "F":
        peak = 1.0 if values.max(initial=0) <= 1.0 else 255.0
    elif im.mode.startswith("I;16") or values.max(initial=0) > 255:
        peak = 65535.0
    else:
        peak = 255.0
    grey = np.clip(values / peak, 0.0, 1.0).astype(np.float32)
    return np.repeat(grey[:, :, None], 3, axis=2)


def to_tensor(picture: Picture, device: torch.device | str = "cpu") -> torch.Tensor:
    """(1, 3, H, W) float32 tensor of the picture's RGB."""
    return torch.from_numpy(picture.rgb).permute(2, 0, 1).unsqueeze(0).contiguous().to(device)


def to_pil(image: torch.Tensor, alpha: np.ndarray | None = None) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) in [0, 1] to an 8-bit PIL image (RGBA when ``alpha`` is given)."""
    if image.dim() == 4:
        image = image[0]
    array = image.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    pil = Image.fromarray(array, "RGB")
    if alpha is not None:
        a = Image.fromarray(np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8), "L")
        if a.size != pil.size:
            a = a.resize(pil.size, Image.Resampling.BILINEAR)
        pil.putalpha(a)
    return pil


def side_by_side(images: list[Image.Image], mode: str | None = None) -> Image.Image:
    """``images`` in one row, left to right, in ``mode`` (None: RGBA if any of them has
    transparency, else RGB)."""
    mode = mode or ("RGBA" if any(im.mode == "RGBA" for im in images) else "RGB")
    row = Image.new(mode, (sum(im.width for im in images), max(im.height for im in images)))
    left = 0
    for im in images:
        row.paste(im.convert(mode), (left, 0))
        left += im.width
    return row


def encode_image(image: Image.Image, suffix: str, metadata: dict[str, Any] | None = None, *, quick: bool = False) -> bytes:
    """``image`` as the bytes of a file in the format ``suffix`` names (".png", ".jpg", ".webp"),
    with ``metadata`` embedded: what :func:`save_image` writes, for a file written elsewhere.
    ``quick``: a PNG compressed at level 1, twice as fast and about 10% larger (working files)."""
    codec = WRITERS[suffix.lower()]
    text = json.dumps(metadata, sort_keys=True) if metadata is not None else None
    if not codec.alpha and image.mode == "RGBA":
        image = image.convert("RGB")  # JPEG has no alpha channel
    buffer = io.BytesIO()
    image.save(buffer, format=codec.name, **codec.options(text, quick))  # type: ignore[misc]
    return buffer.getvalue()


def save_image(image: Image.Image, path: str | Path, metadata: dict[str, Any] | None = None, *,
               quick: bool = False) -> Path:
    """Write ``image`` atomically, in the format its extension names, with ``metadata`` embedded
    (``quick``: see :func:`encode_image`)."""
    path = check_output_path(path, formats=OUTPUT_FORMATS)
    data = encode_image(image, path.suffix, metadata, quick=quick)
    return write_atomic(path, lambda fh: fh.write(data))


def read_metadata(path: str | Path) -> dict[str, Any] | None:
    """The parameters embedded by :func:`save_image`, or None when there are none. Only the
    file's header and text are read, never its pixels.

    Raises:
        ImageError: the file says it is a picture of more pixels than Pillow will open, or
            its parameters are damaged (not UTF-8, not JSON, nested too deep, numbers of
            thousands of digits).
    """
    try:
        with Image.open(path) as im:  # PNG text before the pixels, JPEG comments and WebP XMP: read on opening
            info = dict(im.info)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{str(path)!r} claims too many pixels to open: {cause(exc)}") from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return None
    try:
        return _parameters(info)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSON's errors are ValueErrors
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else cause(exc) if isinstance(exc, ValueError) \
            else "nested too deep"
        raise ImageError(f"the inceptionism parameters in {str(path)!r} are damaged: {reason}") from None


def _parameters(info: dict[str, Any]) -> dict[str, Any] | None:
    text = next((t for c in CODECS if c.text is not None and (t := c.text(info)) is not None), None)
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError(f"a {type(text).__name__} where text belongs")
    data = json.loads(text)
    return data if isinstance(data, dict) else None
