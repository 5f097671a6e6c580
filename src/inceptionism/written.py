"""Numbers as a person writes them in text: the digits 0-9, a sign, a point, an exponent.

Python's ``int()`` and ``float()`` also read other scripts' digits (``int("٣") == 3``), full-width
digits, superscripts in ``str.isdigit()``, underscores (``int("1_0") == 10``) and spaces, so a
parameter written with them was taken as another number than the one shown. Every written
number of the package (channels, targets, transforms, layer terms, ranges, sizes, schedules)
goes through :func:`whole` or :func:`decimal`.
"""

from __future__ import annotations

import re

__all__ = ["whole", "decimal", "is_whole"]

_WHOLE = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf|infinity)",
                      re.IGNORECASE)


def is_whole(text: str, *, signed: bool = True) -> bool:
    """Whether ``text`` is a whole number in the digits 0-9 (with a sign when ``signed``)."""
    return bool(_WHOLE.fullmatch(text)) and (signed or text[0] not in "+-")


def whole(text: str) -> int:
    """``text`` as a whole number written with the digits 0-9 and an optional sign.

    Raises:
        ValueError: anything else (other scripts' digits, underscores, spaces, a fraction).

    Examples:
        >>> whole("-12")
        -12
    """
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"{text!r} is not a whole number written with the digits 0-9")
    return int(text)


def decimal(text: str) -> float:
    """``text`` as a number written with the digits 0-9 (``0.5``, ``-3``, ``1e-3``; ``nan``
    and ``inf`` are read, and the caller's range check refuses them).

    Raises:
        ValueError: anything else.
    """
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"{text!r} is not a number written with the digits 0-9")
    return float(text)
