"""Activation maps: a grid of one layer's feature maps for a photo."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw

from .errors import ConfigError
from .models import LoadedModel
from .taps import capture, layer_info

__all__ = ["activation_maps", "activation_grid"]

# Anchor colours of a perceptually ordered dark-to-bright map (close to "magma").
_ANCHORS = np.array(
    [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164]],
    dtype=np.float32,
)


def _colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to RGB uint8 through the anchor colours."""
    position = np.clip(values, 0, 1) * (len(_ANCHORS) - 1)
    low = np.floor(position).astype(int).clip(0, len(_ANCHORS) - 2)
    frac = (position - low)[..., None]
    return (_ANCHORS[low] * (1 - frac) + _ANCHORS[low + 1] * frac).round().astype(np.uint8)


@torch.no_grad()
def activation_maps(
    model: LoadedModel, image: torch.Tensor, layer: str, *, channels: list[int] | None = None, top: int = 16
) -> tuple[list[int], torch.Tensor]:
    """Feature maps of ``layer`` for ``image`` (1, 3, H, W) in [0, 1].

    Returns the chosen channel numbers and their maps, shape (N, h, w). Without
    ``channels``, the ``top`` channels with the highest mean activation are chosen.
    """
    info = layer_info(model, layer)
    for chan in channels or []:
        info.check_channel(chan)
    if top < 1:
        raise ConfigError(f"top = {top} must be at least 1")
    with capture(model, [layer]) as run:
        acts = run(image)[layer][0]
    if not channels:
        channels = acts.flatten(1).mean(1).topk(min(top, acts.shape[0])).indices.tolist()
    return list(channels), acts[channels]


def activation_grid(
    model: LoadedModel,
    image: torch.Tensor,
    layer: str,
    *,
    channels: list[int] | None = None,
    top: int = 16,
    cell: int = 160,
) -> Image.Image:
    """A labelled grid of feature maps, each scaled to its own range and coloured."""
    chosen, maps = activation_maps(model, image, layer, channels=channels, top=top)
    height, width = maps.shape[-2:]
    cell_w = cell
    cell_h = max(1, round(cell * height / width))
    cols = math.ceil(math.sqrt(len(chosen)))
    rows = math.ceil(len(chosen) / cols)
    label_h, pad = 14, 4
    grid = Image.new("RGB", (cols * (cell_w + pad) + pad, rows * (cell_h + label_h + pad) + pad), (24, 24, 24))
    draw = ImageDraw.Draw(grid)
    for i, (chan, fmap) in enumerate(zip(chosen, maps)):
        values = fmap.float().cpu().numpy()
        lo, hi = float(values.min()), float(values.max())
        values = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
        tile = Image.fromarray(_colormap(values), "RGB").resize((cell_w, cell_h), Image.Resampling.NEAREST)
        x = pad + (i % cols) * (cell_w + pad)
        y = pad + (i // cols) * (cell_h + label_h + pad)
        draw.text((x + 2, y), f"ch {chan}  max {hi:.2f}", fill=(220, 220, 220))
        grid.paste(tile, (x, y + label_h))
    return grid
