"""The objective's gradient over a whole image, tile by tile when the image is large.

Memory for the backward pass grows with the pixels in one forward pass, so a large
image is cut into tiles whose gradients are computed one at a time. Each step the
image is rolled by a random offset before it is cut, so tile borders land somewhere
else every time and leave no seam. Each tile's objective is weighted by its share of
the image's area, so the gradient per pixel does not depend on how the image was cut.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from typing import Callable

import torch

from ..errors import ModelError
from ..models.loaded import LoadedModel
from ..objectives import Objective
from ..taps import Capture, capture

__all__ = ["split_even", "objective_gradient", "objective_value", "auto_tile_size", "activation_bytes_per_pixel"]


def split_even(length: int, tile: int) -> list[tuple[int, int]]:
    """Cut ``length`` into the fewest near-equal pieces of at most ``tile``."""
    count = max(1, math.ceil(length / tile))
    edges = [round(i * length / count) for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _pieces(height: int, width: int, tile: int) -> list[tuple[slice, slice]]:
    return [(slice(y0, y1), slice(x0, x1)) for y0, y1 in split_even(height, tile) for x0, x1 in split_even(width, tile)]


def objective_gradient(
    run: Capture,
    objective: Objective,
    x: torch.Tensor,
    *,
    tile: int,
    shift: tuple[int, int],
    precision: str = "fp32",
    after_tile: Callable[[], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Objective value and its gradient with respect to the image.

    Args:
        run: a capture of the layers the objective reads.
        objective: the objective.
        x: image in [0, 1], shape (1, 3, H, W).
        tile: largest tile side; images within it go through in one pass.
        shift: (dy, dx) roll applied before cutting and undone on the gradient.
        precision: "fp32", or "bf16" to run the network under autocast; the
            activations are read, and the objective and gradient computed, in fp32.
        after_tile: called after each tile; raising from it stops the step (a cancel).

    Returns:
        (value as a 0-dim tensor, gradient shaped like ``x``)
    """
    rolled = torch.roll(x.detach(), shifts=shift, dims=(2, 3))
    height, width = rolled.shape[-2:]
    grad = torch.empty_like(rolled)
    total = torch.zeros((), device=x.device, dtype=x.dtype)
    for rows, cols in _pieces(height, width, tile):
        piece = rolled[:, :, rows, cols].requires_grad_(True)
        share = piece.shape[-2] * piece.shape[-1] / (height * width)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            acts = run(piece)
        value = objective({name: a.float() for name, a in acts.items()}).sum() * share
        g = _gradient(value, piece, run)
        grad[:, :, rows, cols] = g
        total = total + value.detach()
        if after_tile is not None:
            after_tile()
    return total, torch.roll(grad, shifts=(-shift[0], -shift[1]), dims=(2, 3))


def _gradient(value: torch.Tensor, piece: torch.Tensor, run: Capture) -> torch.Tensor:
    """d value / d piece; a network whose layers do not depend differentiably on the input
    (a detached, rounded or quantized path) is one line naming it (exit 4)."""
    g = torch.autograd.grad(value, piece, allow_unused=True)[0] if value.requires_grad else None
    if g is None:
        raise ModelError(f"{run.network}: the objective's layers do not depend differentiably on the picture "
                         "(a detached, rounded or quantized forward pass); such a network cannot be dreamed on")
    return g


@torch.no_grad()
def objective_value(run: Capture, objective: Objective, x: torch.Tensor, *, tile: int,
                    after_tile: Callable[[], None] | None = None) -> torch.Tensor:
    """The objective's value over the whole image (tiled like the gradient), 0-dim;
    ``after_tile`` as for :func:`objective_gradient`."""
    height, width = x.shape[-2:]
    total = torch.zeros((), device=x.device, dtype=x.dtype)
    for rows, cols in _pieces(height, width, tile):
        piece = x[:, :, rows, cols]
        total += objective(run(piece)).sum() * (piece.shape[-2] * piece.shape[-1] / (height * width))
        if after_tile is not None:
            after_tile()
    return total


def activation_bytes_per_pixel(model: LoadedModel, layers: frozenset[str]) -> float:
    """Bytes kept for the backward pass per input pixel, measured on two probe sizes."""
    return _bytes_per_pixel(model, tuple(sorted(layers)))


@lru_cache(maxsize=64)
def _bytes_per_pixel(model: LoadedModel, layers: tuple[str, ...]) -> float:
    sizes = (model.spec.probe_size, max(128, 2 * model.spec.min_size))
    saved = []
    with capture(model, layers) as run:
        for side in sizes:
            count = [0]

            def pack(t: torch.Tensor) -> torch.Tensor:
                count[0] += t.numel() * t.element_size()
                return t

            x = torch.zeros(1, 3, side, side, device=model.device, requires_grad=True)
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                acts = run(x)
            saved.append(count[0] + sum(a.numel() * a.element_size() for a in acts.values()))
    slope = (saved[1] - saved[0]) / (sizes[1] ** 2 - sizes[0] ** 2)
    return max(slope, 1.0)


# On a CPU a pass over a very large tile is several times slower per pixel than tiles of
# 384-1024 px (multi-GB activation buffers are page-faulted afresh every step; see
# docs/performance.md), so tiles there never exceed this side.
_CPU_TILE_CAP = 1024


def _memory_budget(device: torch.device) -> int:
    """Bytes one tile's forward/backward may use on ``device``: a share of its *total*
    memory, never of what is free at the moment. The tile size decides how the picture is
    cut, and so the output's bytes: it must not follow the machine's load."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory * 0.4)
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    # A quarter of the memory, at most 2 GiB: large tiles gain little speed on a CPU.
    return int(min(total * 0.25, 2 << 30))


def auto_tile_size(model: LoadedModel, layers: frozenset[str], height: int, width: int) -> int:
    """The largest tile side whose backward pass fits the memory budget.

    Returns a side at least as large as the image when it fits in one pass.
    """
    # Peak use is above what is saved for backward: transient buffers, the gradient.
    per_pixel = activation_bytes_per_pixel(model, layers) * 1.5
    budget = _memory_budget(model.device)
    cap = _CPU_TILE_CAP if model.device.type == "cpu" else None
    if model.spec.inputs.fixed is not None:  # a network of one size: tiles of that size cover the picture
        cap = min(cap or model.spec.inputs.fixed, model.spec.inputs.fixed)
    if height * width * per_pixel <= budget and (cap is None or max(height, width) <= cap):
        return max(height, width)
    side = int(math.sqrt(budget / per_pixel)) // 32 * 32
    if cap is not None:
        side = min(side, cap)
    return min(max(side, 4 * model.spec.min_size), model.spec.inputs.fixed or side)
