"""The written forms of parameter values and their checks: ``LO:HI`` octave ranges, ``WxH``
sizes, ``MODE:K`` channel choices, lists of paths and layers, and the JSON schema of each.

Used by the declarations in ``config.py``; imports nothing from the package but ``errors`` and ``written``.
"""

from __future__ import annotations

import numbers
from typing import Any

from .errors import ConfigError
from .written import is_whole, whole

__all__ = ["parse_octave_range", "parse_size", "parse_channel_mode", "CHANNEL_MODES"]


def _whole(value: object) -> int:
    """A whole number from a pair's item: an integer (numpy's too) or a float without a fraction;
    64.5, True and "64" are not (int() would truncate or parse them)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, float)):
        raise TypeError(value)
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
    return int(value)


def parse_octave_range(text: str | list | tuple) -> tuple[int, int]:
    """Parse ``"LO:HI"`` (inclusive, e.g. ``"-4:2"``) or a pair into ``(lo, hi)``."""
    try:
        if isinstance(text, str):
            lo_text, hi_text = text.split(":")
            lo, hi = whole(lo_text.strip()), whole(hi_text.strip())
        else:
            lo, hi = (_whole(v) for v in text)
    except (ValueError, TypeError, OverflowError):
        raise ConfigError(
            f"octave_range {text!r} is not of the form LO:HI with whole numbers, e.g. -4:2", field="octave_range"
        ) from None
    if lo > hi:
        raise ConfigError(f"octave_range {lo}:{hi} is empty: LO must not exceed HI", field="octave_range")
    if hi - lo >= 64 or max(abs(lo), abs(hi)) > 64:
        raise ConfigError(
            f"octave_range {lo}:{hi} is too wide; at most 64 octaves, each exponent from -64 to 64", field="octave_range"
        )
    return lo, hi


def parse_size(text: str | list | tuple) -> tuple[int, int]:
    """Parse ``"WxH"`` (e.g. ``"640x480"``) or a pair into ``(width, height)``."""
    try:
        if isinstance(text, str):
            w_text, h_text = text.lower().split("x")
            w, h = whole(w_text.strip()), whole(h_text.strip())
        else:
            w, h = (_whole(v) for v in text)
    except (ValueError, TypeError, OverflowError):
        raise ConfigError(f"size {text!r} is not of the form WxH, e.g. 640x480", field="size") from None
    if w < 1 or h < 1 or w * h > 100_000_000:
        raise ConfigError(f"size {w}x{h} is not allowed: both sides >= 1 and at most 100 megapixels", field="size")
    return w, h


def paths(value: str | list | tuple) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def check_paths(value: tuple) -> None:
    if not all(isinstance(path, str) and path for path in value):
        raise ConfigError(f"guide must be a list of image paths, got {value!r}", field="guide")


CHANNEL_MODES = ("strong", "weak", "avg")


def parse_channel_mode(text: str) -> tuple[str, int]:
    """``"strong:4"`` into ``("strong", 4)``; the mode is strong, weak or avg, K at least 1."""
    mode, _, count = text.partition(":")
    if mode not in CHANNEL_MODES or not is_whole(count, signed=False) or not 1 <= int(count) <= 100_000:
        raise ConfigError(f"channels {text!r} is not MODE:K with MODE one of {', '.join(CHANNEL_MODES)} and K at least 1, "
                          "e.g. strong:4", field="channels")  # fmt: skip
    return mode, int(count)


def check_channel_mode(value: str) -> None:
    parse_channel_mode(value)


def layers(value: Any) -> Any:
    return ",".join(str(t) for t in value) if isinstance(value, (list, tuple)) else value


def text_or_index(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _pair(pattern: str) -> dict[str, Any]:
    """JSON schema of a pair: its string form (CLI) or a list of two whole numbers (as written)."""
    pair = {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}
    return {"anyOf": [{"type": "string", "pattern": pattern}, pair]}


RANGE_SCHEMA = _pair(r"^-?\d+:-?\d+$")
SIZE_SCHEMA = _pair(r"^\d+[xX]\d+$")
TEXT_OR_INDEX = {"type": ["string", "integer"]}
