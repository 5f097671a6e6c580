"""The DeepDream loop: gradient ascent on the image, octave by octave.

Per octave (smallest first) the detail dreamed so far is upscaled onto that octave's
resized copy of the original, so only the dream, not a blurry upscaled photo, is
carried up and the picture stays sharp. Per step: roll by a random jitter, gradient
of the objective (tiled), optional Laplacian normalization and smoothing, scale by
mean |g| (or std), step, clip to the valid pixel range [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..config import AscentConfig
from ..errors import ImageError
from ..models.loaded import LoadedModel
from ..objectives import Objective
from ..taps import capture
from .filters import cascade_smooth, lap_normalize, resize
from .octaves import plan_octaves
from .tiles import objective_gradient, objective_value

__all__ = ["StepInfo", "OctaveInfo", "DreamResult", "Callbacks", "run_dream", "normalize_gradient"]


@dataclass(frozen=True)
class StepInfo:
    """Progress after one step. ``score`` is a 0-dim tensor (read it when you need it)."""

    octave: int  # 1-based position in the plan
    octaves: int  # octaves in the plan
    k: int  # octave exponent: scale = octave_scale**k
    step: int  # 1-based step within the octave
    steps: int
    score: torch.Tensor
    height: int
    width: int
    gradient: torch.Tensor | None = None  # this step's raw gradient (1, 3, h, w), before normalization
    image: torch.Tensor | None = None  # the picture after this step (1, 3, h, w) in [0, 1]; do not modify


@dataclass(frozen=True)
class OctaveInfo:
    """An octave finished; ``image`` is its dreamed picture, (1, 3, h, w) in [0, 1]."""

    octave: int
    octaves: int
    k: int
    image: torch.Tensor


@dataclass
class Callbacks:
    """Where progress goes. Any of them may be None; raising from one stops the dream."""

    on_step: Callable[[StepInfo], None] | None = None
    on_octave: Callable[[OctaveInfo], None] | None = None
    on_notice: Callable[[str], None] | None = None
    on_tile: Callable[[], None] | None = None  # after each tile's gradient: a step of many tiles can stop inside

    def notice(self, message: str) -> None:
        if self.on_notice is not None:
            self.on_notice(message)


@dataclass
class DreamResult:
    """The dreamed image, (1, 3, H, W) in [0, 1], and how the objective moved."""

    image: torch.Tensor
    score_start: float  # objective on the input, at the input size
    score_end: float  # objective on the result, at the input size


def tv_gradient(x: torch.Tensor) -> torch.Tensor:
    """Gradient of the total variation (mean squared difference of neighbouring pixels) of x (B, C, H, W)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        tv = (x[..., 1:, :] - x[..., :-1, :]).square().mean() + (x[..., :, 1:] - x[..., :, :-1]).square().mean()
        return torch.autograd.grad(tv, x)[0]


def normalize_gradient(grad: torch.Tensor, cfg: AscentConfig, sigma: float) -> torch.Tensor:
    """Laplacian normalization, smoothing, then scale to unit mean |g| (or unit std)."""
    if cfg.lapnorm:
        grad = lap_normalize(grad, cfg.lapnorm_levels)
    if sigma > 0:
        grad = cascade_smooth(grad, sigma)
    scale = grad.std() if cfg.grad_norm == "std" else grad.abs().mean()
    return grad / (scale + 1e-8)


def _sigma(cfg: AscentConfig, step: int) -> float:
    """Smoothing rises from smooth/5 to smooth over an octave: broad strokes last."""
    if cfg.smooth <= 0:
        return 0.0
    progress = step / (cfg.steps - 1) if cfg.steps > 1 else 1.0
    return cfg.smooth * (0.2 + 0.8 * progress)


def _octave_start(cfg: AscentConfig, base: torch.Tensor, detail: torch.Tensor, prev: torch.Tensor,
                  size: tuple[int, int]) -> torch.Tensor:
    """Where an octave after the first starts: ``detail`` mode carries only the dreamed
    detail onto this octave's copy of the original (sharp); ``recursive`` mode upscales the
    whole previous dream and blends it with the original by ``octave_blend``."""
    if cfg.octave_mode == "recursive":
        return (cfg.octave_blend * resize(prev, size) + (1.0 - cfg.octave_blend) * base).clamp(0, 1)
    return (base + resize(detail, size)).clamp(0, 1)


def _shift(gen: torch.Generator, jitter: int, tile: int, height: int, width: int) -> tuple[int, int]:
    dy, dx = (torch.randint(-jitter, jitter + 1, (2,), generator=gen).tolist() if jitter else (0, 0))
    if tile < max(height, width):  # tiled: move the tile grid anywhere within one tile
        oy, ox = torch.randint(0, tile, (2,), generator=gen).tolist()
        dy, dx = dy + oy, dx + ox
    return dy, dx


def run_dream(
    model: LoadedModel,
    image: torch.Tensor,
    objective: Objective,
    cfg: AscentConfig,
    *,
    tile_size: int,
    callbacks: Callbacks | None = None,
    mask: torch.Tensor | None = None,
    score: bool = True,
) -> DreamResult:
    """Dream on ``image`` (1, 3, H, W) in [0, 1], on the model's device.

    ``cfg`` must be resolved (its ``seed`` set); ``tile_size`` is the tile side to use.
    ``mask`` (1, 1, H, W) in [0, 1] scales every update: 0 leaves a pixel untouched.
    ``score``: read the objective on the input and on the result, two passes more; without
    it both scores are NaN (a video frame needs neither).
    """
    callbacks = callbacks or Callbacks()
    height, width = image.shape[-2:]
    plan = _octaves(model, cfg, height, width, callbacks)
    gen = torch.Generator().manual_seed(cfg.seed)
    with capture(model, sorted(objective.layers)) as run:
        readable = score and min(height, width) >= model.spec.min_size
        score_start = objective_value(run, objective, image, tile=tile_size, after_tile=callbacks.on_tile) if readable else None
        detail = None
        x = image
        for index, octave in enumerate(plan, start=1):
            now = cfg.for_octave(octave.k)  # START:END schedules at this octave
            size = (octave.height, octave.width)
            base = resize(image, size)
            x = base if detail is None else _octave_start(now, base, detail, x, size)
            weight = resize(mask, size) if mask is not None else None
            for step in range(now.steps):
                x = _step(run, objective, x, now, step, gen, tile_size, weight, callbacks,
                          lambda score, raw, x: StepInfo(index, len(plan), octave.k, step + 1, now.steps, score, *size, raw, x))
            detail = x - base
            if callbacks.on_octave is not None:
                callbacks.on_octave(OctaveInfo(index, len(plan), octave.k, x))
        result = resize(x, (height, width)).clamp(0, 1)
        if mask is not None:  # exact where the mask is black, whatever resizing did
            result = image + mask * (result - image)
        score_end = (objective_value(run, objective, result, tile=tile_size, after_tile=callbacks.on_tile)
                     if score_start is not None else None)
    return DreamResult(
        image=result,
        score_start=float(score_start) if score_start is not None else float("nan"),
        score_end=float(score_end) if score_end is not None else float("nan"),
    )


def _octaves(model: LoadedModel, cfg: AscentConfig, height: int, width: int, callbacks: Callbacks) -> list:
    """The octave plan for a ``width`` x ``height`` picture; octaves below the network's minimum
    input size are skipped with a notice, and a picture whose every octave is too small is refused."""
    plan, skipped = plan_octaves(height, width, cfg.octave_indices(), cfg.octave_scale, model.spec.min_size)
    for octave in skipped:
        callbacks.notice(
            f"skipping octave {octave.k} ({octave.width}x{octave.height}): below {model.spec.name}'s "
            f"minimum input size of {model.spec.min_size} px"
        )
    if not plan:
        raise ImageError(
            f"image {width}x{height} is too small for {model.spec.name}: every octave is below its minimum "
            f"input size of {model.spec.min_size} px"
        )
    return plan


def _step(run: Any, objective: Objective, x: torch.Tensor, now: AscentConfig, step: int, gen: torch.Generator,
          tile_size: int, weight: torch.Tensor | None, callbacks: Callbacks,
          info: Callable[[Any, torch.Tensor, torch.Tensor], StepInfo]) -> torch.Tensor:
    """One gradient step of an octave: jitter, the objective's gradient (tiled), the TV penalty,
    normalization and smoothing, the mask; ``info(score, raw gradient, x)`` is what ``on_step`` gets."""
    shift = _shift(gen, now.jitter, tile_size, *x.shape[-2:])
    score, grad = objective_gradient(
        run, objective, x, tile=tile_size, shift=shift, precision=now.precision, after_tile=callbacks.on_tile
    )
    raw = grad
    if now.tv_weight > 0:  # descend the penalty as the objective is climbed, on an equal footing
        tv = tv_gradient(x)
        grad = grad - now.tv_weight * tv * (grad.abs().mean() / (tv.abs().mean() + 1e-12))
    grad = normalize_gradient(grad, now, _sigma(now, step))
    if weight is not None:
        grad = grad * weight
    x = (x + now.step_size * grad).clamp(0, 1)
    if callbacks.on_step is not None:
        callbacks.on_step(info(score, raw, x))
    return x
