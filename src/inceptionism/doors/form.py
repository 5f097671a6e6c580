"""The form of a front door: every parameter it offers, described for a widget toolkit (the
studio's page builds its controls from it; a notebook helper could build ipywidgets)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..config import dream_params
from ..declare import declared

__all__ = ["form"]

KINDS = {int: "integer", float: "number", str: "string", bool: "boolean", tuple: "list"}


def form(door: str = "studio", of: type | None = None) -> list[dict[str, Any]]:
    """Every dream parameter ``door`` offers (or every parameter of the config class ``of``
    it offers, e.g. ``ZoomConfig``), as a form needs it: name, kind, default, bounds, choices,
    help, ``picture`` ("image" or "mask" where the value names a picture file, else None),
    ``schedule`` (a number or a START:END pair over the octaves) and
    where and how to show it (``widget``: the declaration's ``studio`` placement, or None).
    Generated from the declarations.

    Examples:
        >>> next(row for row in form() if row["name"] == "steps")["kind"]
        'integer'
    """
    rows = []
    for p in dream_params(door) if of is None else [p for p in declared(of) if p.offered(door)]:
        widget = asdict(p.studio) if p.studio else None
        default = list(p.default) if isinstance(p.default, tuple) else p.default
        rows.append({"name": p.name, "kind": KINDS[p.kind], "nullable": p.nullable, "default": default, "help": p.help,
                     "min": p.low, "max": p.high, "choices": list(p.choices) if p.choices else None, "widget": widget,
                     "picture": p.picture, "schedule": p.schedule})
    return rows
