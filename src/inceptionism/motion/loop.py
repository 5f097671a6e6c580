"""Zooms that loop: a Droste-like stack of dreamed levels, each the centre of the one before
it and the last one's centre the first; every frame is a view into that stack.

A zoom of ``frames`` frames at ``zoom`` per frame goes ``Z = zoom**frames`` deep. The loop
splits that into ``M`` levels, each ``r = Z**(1/M)`` deeper than the last (about
:data:`LEVEL_RATIO`). Level ``k`` is a full frame whose centre ``1/r`` is level ``k+1``, and
the centre of the last level is level 0 again: the picture holds, at its centre, itself at
the scale the loop zooms through, so frame ``frames`` would be frame 0 exactly. A frame is
drawn by pasting the levels into each other, deepest on top (feathered edges), zoomed to
its place between two levels. No cross-fade: the seam is a step like any other.

The levels are dreamed round-robin, each :data:`PASSES` times (a level stays at its scale,
so dreams on it add up faster than on the plain zoom's frames, which each zoom blurs): each
dream is of a level's view (the level with every deeper one pasted in, exactly what a
frame shows), the level keeps the dreamed view, and what the dream changed at its centre
is carried, zoomed, into the deeper levels (so detail grows as it comes closer, as in the
plain zoom).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..config import DreamConfig
from ..engine import Callbacks
from ..engine.filters import resize
from ..formats import fit_longest_side
from ..images import Picture
from ..models.loaded import LoadedModel
from ..command_config import LOOP_MAX_LEVELS as MAX_LEVELS, LOOP_MAX_RATIO as MAX_RATIO, check_loop

__all__ = ["LoopPlan", "loop_plan", "compose", "dream_levels", "loop_frames", "Seam", "measure_seam"]

LEVEL_RATIO = 1.5  # the zoom between dreamed levels, about (more with --interpolate): a view enlarges a level so much
FEATHER = 0.15  # a pasted level's edge blends over this share of its half-size
SMALLEST = 1.0  # a level pasted smaller than this many pixels (half-size) is left out
PASSES = 2  # dreams of each level: the second sees what the first made of its neighbours
CARRY_SMALLEST = 8.0  # a dream's change is carried into deeper levels while their box is this many pixels (half-size)


@dataclass(frozen=True)
class LoopPlan:
    """How a looping zoom is laid out: ``levels`` levels, each ``ratio`` deeper and turned by
    ``turn`` degrees; ``dreams`` dreams in all, round-robin over the levels."""

    frames: int
    levels: int
    ratio: float
    turn: float
    dreams: int
    reverse: bool  # a zoom out: the zoom in of 1/zoom, played backwards


def loop_plan(frames: int, zoom: float, *, rotate: float = 0.0, interpolate: int = 0) -> LoopPlan:
    """The levels of a looping zoom of ``frames`` frames at ``zoom`` per frame (checked by
    :func:`~inceptionism.command_config.check_loop`).

    Examples:
        >>> plan = loop_plan(48, 1.05)
        >>> plan.levels, round(plan.ratio ** plan.levels, 2), plan.dreams
        (6, 10.4, 12)
    """
    check_loop(frames, zoom)
    reverse = zoom < 1
    per_frame = 1 / zoom if reverse else zoom
    depth = frames * math.log(per_frame)  # log of the whole loop's zoom
    step = min(max(math.log(LEVEL_RATIO), (interpolate + 1) * math.log(per_frame)), math.log(MAX_RATIO))
    levels = min(MAX_LEVELS, max(1, round(depth / step), math.ceil(depth / math.log(MAX_RATIO))))
    dreams = levels * PASSES
    turn = (-rotate if reverse else rotate) * frames / levels
    return LoopPlan(frames, levels, math.exp(depth / levels), turn, dreams, reverse)


def _feather(height: int, width: int) -> torch.Tensor:
    """(1, 1, H, W): 1 inside, falling smoothly to 0 over the outer FEATHER of each half-size."""
    ys = 1 - torch.linspace(-1 + 1 / height, 1 - 1 / height, height).abs()
    xs = 1 - torch.linspace(-1 + 1 / width, 1 - 1 / width, width).abs()
    ramp = lambda d: (d / FEATHER).clamp(0, 1).pow(2).mul(-2).add(3).mul((d / FEATHER).clamp(0, 1).pow(2))  # noqa: E731
    return (ramp(ys)[:, None] * ramp(xs)[None, :])[None, None]


def _place(image: torch.Tensor, scale: float, angle: float, height: int, width: int,
           box: tuple[int, int, int, int] | None = None, padding: str = "zeros") -> torch.Tensor:
    """``image`` (1, C, h, w) drawn into an H x W frame, ``scale`` times its size and turned by
    ``angle`` degrees about the centre; only the frame's ``box`` (top, bottom, left, right)."""
    top, bottom, left, right = box or (0, height, 0, width)
    ys = torch.arange(top, bottom, dtype=torch.float32) + 0.5 - height / 2
    xs = torch.arange(left, right, dtype=torch.float32) + 0.5 - width / 2
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    a = math.radians(angle)
    # The frame's pixel (x, y) shows the level's pixel R(angle) (x, y) / scale (both from the centre).
    u = (math.cos(a) * x - math.sin(a) * y) / scale
    v = (math.sin(a) * x + math.cos(a) * y) / scale
    grid = torch.stack([u / (width / 2), v / (height / 2)], -1)[None]
    return F.grid_sample(image, grid, mode="bicubic", padding_mode=padding, align_corners=False)


def _box(scale: float, height: int, width: int) -> tuple[int, int, int, int]:
    """The frame's pixels a level drawn ``scale`` times its size can cover, at any angle."""
    reach = scale * math.hypot(height, width) / 2
    return (max(0, math.floor(height / 2 - reach)), min(height, math.ceil(height / 2 + reach)),
            max(0, math.floor(width / 2 - reach)), min(width, math.ceil(width / 2 + reach)))


def compose(levels: list[torch.Tensor], plan: LoopPlan, position: float) -> torch.Tensor:
    """The frame (1, 3, H, W) at ``position`` levels into the loop (0 = level 0 as it is).

    Level ``k + d`` is drawn ``r**(position - k - d)`` times its size, turned by
    ``(position - k - d) * turn`` degrees; each deeper level is pasted over the one before.
    """
    height, width = levels[0].shape[-2:]
    feather = _feather(height, width)
    k = math.floor(position)
    part = position - k
    # From far enough out that the outermost level drawn is hidden under the next one's
    # feathered paste at any turn and shape: the level a frame leaves fades out of it smoothly,
    # and the step onto a level is a step like any other.
    out = math.ceil(math.log(math.hypot(height, width) / (min(height, width) * (1 - FEATHER))) / math.log(plan.ratio))
    out = max(1, out) + 1
    canvas = _place(levels[(k - out) % plan.levels], plan.ratio ** (part + out), (part + out) * plan.turn, height,
                    width, padding="reflection")
    depth = 1 - out
    while (scale := plan.ratio ** (part - depth)) * min(height, width) / 2 >= SMALLEST:
        top, bottom, left, right = box = _box(scale, height, width)
        if bottom > top and right > left:
            angle = (part - depth) * plan.turn
            level = _place(levels[(k + depth) % plan.levels], scale, angle, height, width, box)
            weight = _place(feather, scale, angle, height, width, box)
            region = canvas[..., top:bottom, left:right]
            canvas[..., top:bottom, left:right] = region + (level - region) * weight
        depth += 1
    return canvas.clamp(0, 1)


def _carry(levels: list[torch.Tensor], plan: LoopPlan, k: int, change: torch.Tensor) -> None:
    """Add what a dream of level ``k``'s view changed at its centre to the deeper levels,
    each zoomed to its own size, while their box is big enough to hold detail."""
    height, width = change.shape[-2:]
    for depth in range(1, plan.levels):
        if plan.ratio**-depth * min(height, width) / 2 < CARRY_SMALLEST:
            break
        zoomed = _place(change, plan.ratio**depth, depth * plan.turn, height, width)  # outside the view nothing changed
        target = (k + depth) % plan.levels
        levels[target] = (levels[target] + zoomed).clamp(0, 1)


def dream_levels(
    start: Picture,
    cfg: DreamConfig,
    plan: LoopPlan,
    *,
    model: LoadedModel | None = None,
    callbacks: Callbacks | None = None,
    on_dream: Callable[[int], None] | None = None,
) -> list[torch.Tensor]:
    """The loop's levels, each (1, 3, H, W) in [0, 1] at the start's size (after ``max_size``):
    ``plan.dreams`` dreams of ``cfg``, dream i with seed ``cfg.seed + i``; ``on_dream(i)``
    after each."""
    from ..api import render

    rgb = torch.from_numpy(np.ascontiguousarray(start.rgb)).permute(2, 0, 1)[None].float()
    width, height = fit_longest_side(rgb.shape[-1], rgb.shape[-2], cfg.max_size)  # every level at the dream's size
    levels = [resize(rgb, (height, width)).clamp(0, 1)]
    for _ in range(1, plan.levels):  # each level starts as the centre of the one before, enlarged
        levels.append(_place(levels[-1], plan.ratio, plan.turn, height, width, padding="reflection").clamp(0, 1))
    for i in range(plan.dreams):
        k = i % plan.levels
        view = compose(levels, plan, k)
        pixels = view[0].permute(1, 2, 0).numpy()
        result = render(Picture(pixels), cfg.replace(seed=cfg.seed + i), model=model, callbacks=callbacks, score=False)
        dreamed = torch.from_numpy(np.asarray(result.image.convert("RGB"), np.float32) / 255.0).permute(2, 0, 1)[None]
        levels[k] = dreamed
        _carry(levels, plan, k, dreamed - view)
        if on_dream is not None:
            on_dream(i + 1)
    return levels


def loop_frames(
    start: Picture,
    cfg: DreamConfig,
    plan: LoopPlan,
    *,
    model: LoadedModel | None = None,
    callbacks: Callbacks | None = None,
    on_frame: Callable[[int, int], None] | None = None,
) -> Iterator[np.ndarray]:
    """Yield the ``plan.frames`` RGB frames (H, W, 3) uint8 of a zoom that loops: the levels
    are dreamed (:func:`dream_levels`), then every frame is drawn from them.
    ``on_frame(done, total)`` counts the dreams, then the frames, in one total."""
    total = plan.dreams + plan.frames
    counted = None if on_frame is None else (lambda done: on_frame(done, total))
    levels = dream_levels(start, cfg, plan, model=model, callbacks=callbacks, on_dream=counted)
    for t in range(plan.frames):
        index = (plan.frames - t) % plan.frames if plan.reverse else t
        frame = compose(levels, plan, index * plan.levels / plan.frames)
        yield (frame[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        if counted is not None:
            counted(plan.dreams + t + 1)


@dataclass(frozen=True)
class Seam:
    """How a loop's seam (last frame to first) compares with its steps (frame to next):
    mean absolute differences of pixels in 0..255."""

    seam: float
    median_step: float

    @property
    def ratio(self) -> float:
        return self.seam / self.median_step if self.median_step > 0 else math.inf if self.seam > 0 else 1.0

    def __str__(self) -> str:
        return (f"loop seam {self.seam:.2f} (mean |difference| of the last frame and the first, 0..255) against a "
                f"median step of {self.median_step:.2f}: {self.ratio:.2f}x")


class measure_seam:  # noqa: N801  (used as a wrapper, like a function)
    """Pass frames through unchanged, measuring each step; ``.result`` is the :class:`Seam`
    once every frame has passed."""

    def __init__(self, frames: Iterable[np.ndarray]) -> None:
        self._frames = frames
        self.result: Seam | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        first = last = None
        steps = []
        for frame in self._frames:
            if last is not None:
                steps.append(_difference(last, frame))
            first = frame if first is None else first
            last = frame
            yield frame
        if first is not None and last is not None:
            self.result = Seam(_difference(last, first), float(np.median(steps)) if steps else 0.0)


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
