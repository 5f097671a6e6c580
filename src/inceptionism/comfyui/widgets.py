"""A node's widgets and sockets, generated from the parameter declarations, and the widgets'
values turned back into parameters.

Every parameter the ``comfyui`` door offers (``doors.form("comfyui")``, or a command's
config class) becomes a widget of the kind its declaration says: a number with its bounds,
a choice, a switch or text; one that names a picture file (``picture`` in its declaration)
becomes an optional IMAGE or MASK socket instead. ComfyUI's widgets always hold a value, so:

- an empty text, or 0 in a number that can be unset and is otherwise at least 1, means unset
  (none), as the help of such a widget says;
- a parameter a preset sets (steps, step size, ...) left at its default takes the preset's
  value, so choosing the preset "deep" means what it means on the command line; the preset
  left at the node's default is not chosen either, so a node's own defaults (the zoom's
  lighter touch) stand as a command's do.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..config import PRESET_KEYS
from ..doors import form

__all__ = ["DOOR", "Widgets", "NETWORK"]

DOOR = "comfyui"
NETWORK = "INCEPTIONISM_NETWORK"  # the socket type of a loaded network
SECTIONS = ("basic", "strength", "classes", "guide", "advanced")  # the studio's order: what an artist sets first
SOCKETS = {"image": "IMAGE", "mask": "MASK"}


def _unset_as_zero(row: dict[str, Any]) -> bool:
    """A whole number that can be unset and is otherwise at least 1: its widget's 0 means unset."""
    return row["kind"] == "integer" and row["nullable"] and row["min"] is not None and row["min"] >= 1


def _step(row: dict[str, Any]) -> float:
    studio = row["widget"] or {}
    if studio.get("step"):
        return studio["step"]
    return 1 if row["kind"] == "integer" else 0.001


def _tooltip(row: dict[str, Any]) -> str:
    text = row["help"]
    if _unset_as_zero(row):
        text += "; 0 = none"
    elif row["kind"] in ("string", "list") and row["nullable"] and not row["choices"]:
        text += "; empty = none"
    if row["schedule"]:
        text += " (here one number; a START:END schedule through a recipe or the command line)"
    return text


def _written(value: Any) -> str:
    """A default as its widget's text: a pair as the command line writes a pan ("0,0")."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


def widget(row: dict[str, Any], default: Any, follows_preset: bool = False) -> tuple:
    """The ComfyUI input of one parameter (``row`` from ``form``), with ``default``."""
    tip = {"tooltip": _tooltip(row) + ("; left at its default, the preset's value" if follows_preset else "")}
    if row["picture"]:
        return (SOCKETS[row["picture"]], tip)
    if row["choices"]:
        return (list(row["choices"]), {"default": default if default is not None else row["choices"][0], **tip})
    if row["kind"] == "boolean":
        return ("BOOLEAN", {"default": bool(default), **tip})
    if row["kind"] in ("integer", "number") and not (isinstance(default, (list, tuple))):
        low = 0 if _unset_as_zero(row) else row["min"]
        number = {"default": default if default is not None else (0 if low is None else low),
                  "min": -1e9 if low is None else low, "max": 1e9 if row["max"] is None else row["max"],
                  "step": _step(row)}
        if row["kind"] == "integer":
            return ("INT", {**{k: int(v) for k, v in number.items()}, **tip})
        return ("FLOAT", {**number, "round": False, **tip})
    return ("STRING", {"default": _written(default), "multiline": False, **tip})


class Widgets:
    """The widgets of one node: the parameters ``door`` offers of ``of`` (a config class;
    None: the dream's), less ``leave`` (names another node supplies, e.g. the network's),
    with ``defaults`` over the declared ones (e.g. a zoom's lighter preset)."""

    def __init__(self, of: type | None = None, *, leave: frozenset[str] = frozenset(),
                 defaults: dict[str, Any] | None = None) -> None:
        rows = [row for row in form(DOOR, of) if row["name"] not in leave]
        order = {name: i for i, name in enumerate(SECTIONS)}
        self.rows = sorted(rows, key=lambda r: order.get((r["widget"] or {}).get("section"), len(SECTIONS)))
        self.defaults = {row["name"]: row["default"] for row in self.rows} | (defaults or {})
        # With a preset among the widgets, those it sets follow it unless changed (see above).
        # The preset itself left at the node's default is not chosen either: a node's own lighter
        # defaults (a zoom's) then stand, as a command's do when no --preset is given.
        self.follow = PRESET_KEYS | {"preset"} if any(row["name"] == "preset" for row in self.rows) else frozenset()

    def inputs(self) -> tuple[dict[str, tuple], dict[str, tuple]]:
        """(required, optional): the widgets, then the picture sockets."""
        required = {r["name"]: widget(r, self.defaults[r["name"]], r["name"] in self.follow) for r in self.rows
                    if not r["picture"]}
        optional = {r["name"]: widget(r, None) for r in self.rows if r["picture"]}
        return required, optional

    def values(self, given: dict[str, Any], pictures: dict[str, Any] | None = None) -> dict[str, Any]:
        """The parameters the widgets' values ``given`` set: unset ones left out (the
        declaration's default, or the preset's, applies); ``pictures`` (files written for the
        picture sockets, :func:`picture_files`) added as they are."""
        chosen: dict[str, Any] = {}
        for row in self.rows:
            name = row["name"]
            if row["picture"] or name not in given:
                continue
            value = given[name]
            if isinstance(value, str) and row["kind"] != "string" or row["nullable"] and row["kind"] == "string":
                value = value.strip()
                if value == "":
                    continue
            if _unset_as_zero(row) and value == 0:
                continue
            if name in self.follow and _same(value, self.defaults[name]):
                continue  # left at its default: the preset decides
            chosen[name] = value
        return chosen | (pictures or {})

    def picture_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["picture"]]


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, float) or isinstance(default, float):
        return isinstance(default, (int, float)) and math.isclose(float(value), float(default), rel_tol=1e-9)
    return value == default or _written(default) == str(value)


def picture_files(widgets: Widgets, given: dict[str, Any], folder: Path, index: int = 0) -> dict[str, Any]:
    """Each picture socket's value written as PNG files in ``folder`` (named after the socket):
    a mask (B, H, W) gives item ``index`` (or its only one) as greyscale; an image batch for a
    parameter that repeats gives every image, else item ``index``."""
    found: dict[str, Any] = {}
    for row in widgets.picture_rows():
        value = given.get(row["name"])
        if value is None:
            continue
        batch = value.detach().float().cpu().clamp(0, 1).numpy()
        if row["picture"] == "mask" and batch.ndim == 2:  # some nodes hand out one mask (H, W)
            batch = batch[None]
        if row["picture"] == "image":
            batch = batch[..., :3]  # an image with alpha: its colours
        pick = lambda: batch[min(index, len(batch) - 1)]  # noqa: E731
        if row["picture"] == "mask":
            paths = [_save(folder / f"{row['name']}.png", pick(), "L")]
        elif row["kind"] == "list":
            paths = [_save(folder / f"{row['name']}-{i}.png", item, "RGB") for i, item in enumerate(batch)]
        else:
            paths = [_save(folder / f"{row['name']}.png", pick(), "RGB")]
        found[row["name"]] = tuple(paths) if row["kind"] == "list" else paths[0]
    return found


def _save(path: Path, pixels: np.ndarray, mode: str) -> str:
    Image.fromarray((pixels * 255 + 0.5).astype(np.uint8), mode).save(path)
    return str(path)


def recipe(metadata: Any, folder: Path) -> str:
    """The recipe as JSON text, the pictures' temporary files named as the sockets they came from."""
    text = json.dumps(metadata, indent=1, default=str)
    return text.replace(str(folder) + "/", "input:")


def to_images(pictures: list[np.ndarray]) -> torch.Tensor:
    """RGB frames (H, W, 3), uint8 or floats in 0..1, as ComfyUI's IMAGE: (B, H, W, 3) floats."""
    batch = [torch.from_numpy(np.array(p)).float() / (255.0 if p.dtype == np.uint8 else 1.0)
             for p in pictures]
    return torch.stack(batch)


def from_images(images: torch.Tensor) -> list[np.ndarray]:
    """ComfyUI's IMAGE (B, H, W, C) as RGB frames (H, W, 3) floats in 0..1 (alpha dropped)."""
    return [frame[..., :3].detach().float().cpu().clamp(0, 1).numpy() for frame in images]
