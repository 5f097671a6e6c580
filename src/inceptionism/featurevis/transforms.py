"""Transformation robustness: what the network sees of a picture at each step.

A transform maps a batch (B, C, H, W) and the render's random generator to what the
network is shown. Only patterns that survive small shifts, scalings and rotations keep
growing, which is most of what separates a readable visualization from adversarial
noise. A list of transforms is applied in order; ``crops`` shows several random crops
of every picture, stacked copy-major (copies x B), which per-item objectives expect.

The written form (``--transforms``) is a named set or a comma list::

    auto                      the default: noisy-crops for fft or alpha pictures of classes grown
                              from noise, crops for every other picture (see :func:`chosen`)
    noisy-crops               pad:16,crops:1x0.5,noise:0-0.4 (crops seen through noise)
    noisy-crops-fast          pad:16,crops:1x0.5,view:0.625,noise:0-0.4 (the same seen smaller: half the time)
    standard                  lucid's: pad:12,jitter:8,scale:0.9-1.1,rotate:10,jitter:4
    crops                     pad:16,crops:1x0.5 (MACO's random crops, each 50-100% of the side)
    pad:16,crops:2x0.4,noise:0.02

Noise in what the network sees, each copy's own strength drawn from 0 to 0.4 (``noise:0-0.4``),
is what made class pictures readable to people: a pattern that still raises the class through
that noise is a shape, not a texture. A blind panel named two to four times as many of them
(docs/featurevis.md, "Third round"); one fixed strength (0.2, 0.3) read worse or transferred worse.
Only class pictures are grown so by default: a channel's picture reaches a lower activation
through noise, a picture grown out of a photo (accentuation) kept less of the photo, and MACO's
were named less often by the other network.
"""

from __future__ import annotations

import math
import re
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import ConfigError

__all__ = ["chosen", "transforms_load", "Transform", "pad", "jitter", "affine", "crops", "view", "noise",
           "TRANSFORM_SETS", "parse_transforms"]

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

TRANSFORM_SETS = {
    "noisy-crops": "pad:16,crops:1x0.5,noise:0-0.4",
    # the network sees each crop at 0.625 of its side (a 224 px picture's padded 256 px crop at
    # 160 px): a step costs about half, and two networks together (--model
    # efficientnet-lite0+efficientnet-lite1) cost what one did (docs/featurevis.md, "Fourth round")
    "noisy-crops-fast": "pad:16,crops:1x0.5,view:0.625,noise:0-0.4",
    "standard": "pad:12,jitter:8,scale:0.9-1.1,rotate:10,jitter:4",
    "crops": "pad:16,crops:1x0.5",
    "none": "",
}


AUTO = "auto"


NOISY_PARAMS = ("fft", "alpha")  # the parameterizations whose class pictures the panel read better through noise


def chosen(text: str, *, param: str = "fft", classes: bool = False) -> str:
    """The written transforms a picture is grown with: ``text`` itself, or where it is ``auto``
    ``noisy-crops`` for ``fft`` or ``alpha`` pictures of ``classes`` (what the blind panel read
    better; a class picture always grows from noise), and ``crops`` for every other picture:
    channels (through noise they reach a lower activation, and no panel can name a channel; one
    grown out of a photo kept less of it), and MACO's (through noise the other network named 80%
    of its class pictures, not 90%)."""
    if isinstance(text, str) and text.strip() == AUTO:
        return "noisy-crops" if classes and param in NOISY_PARAMS else "crops"
    return text


def pad(px: int) -> Transform:
    """Pad every side by ``px`` with mid grey, so the border is no special place."""
    return lambda x, gen: F.pad(x, (px, px, px, px), mode="constant", value=0.5)


def jitter(px: int) -> Transform:
    """Shift the whole batch by up to ``px`` in each direction (wrapping round)."""

    def fn(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        dy, dx = torch.randint(-px, px + 1, (2,), generator=gen).tolist()
        return torch.roll(x, (dy, dx), (2, 3))

    return fn


def _warp(x: torch.Tensor, theta: torch.Tensor, size: int | None = None) -> torch.Tensor:
    out = [x.shape[0], x.shape[1], size or x.shape[2], size or x.shape[3]]
    grid = F.affine_grid(theta.to(x.device, x.dtype), out, align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def affine(scale: tuple[float, float] = (1.0, 1.0), degrees: float = 0.0) -> Transform:
    """Scale each picture by a random factor in ``scale`` and rotate it by up to ``degrees``."""

    def fn(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        count = x.shape[0]
        factor = scale[0] + (scale[1] - scale[0]) * torch.rand(count, generator=gen)
        angle = (torch.rand(count, generator=gen) * 2 - 1) * math.radians(degrees)
        cos, sin = angle.cos() / factor, angle.sin() / factor
        theta = torch.stack([torch.stack([cos, -sin, torch.zeros(count)], 1),
                             torch.stack([sin, cos, torch.zeros(count)], 1)], 1)  # fmt: skip
        return _warp(x, theta)

    return fn


def crops(copies: int, low: float) -> Transform:
    """``copies`` random square crops of every picture, each ``low``-1 of its side, placed
    anywhere inside it and scaled back to the picture's size: (copies x B, C, H, W)."""

    def fn(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        count = x.shape[0] * copies
        side = low + (1 - low) * torch.rand(count, generator=gen)
        centre = (torch.rand(count, 2, generator=gen) * 2 - 1) * (1 - side)[:, None]
        theta = torch.zeros(count, 2, 3)
        theta[:, 0, 0], theta[:, 1, 1], theta[:, :, 2] = side, side, centre
        return _warp(x.repeat(copies, 1, 1, 1), theta)

    return fn


def view(scale: float) -> Transform:
    """Show the network each picture at ``scale`` of its side (smoothed, so that what is finer
    than the network sees does not alias): a pattern then has to fill more of the picture to
    be seen, so one larger thing grows, and a step costs about ``scale`` squared."""

    def fn(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        size = (max(1, round(x.shape[-2] * scale)), max(1, round(x.shape[-1] * scale)))
        if size == tuple(x.shape[-2:]):
            return x
        narrow = x.device.type == "cpu" and x.dtype in (torch.bfloat16, torch.float16)  # no CPU kernel for them
        wide = x.float() if narrow else x
        return F.interpolate(wide, size=size, mode="bilinear", align_corners=False, antialias=True).to(x.dtype)

    return fn


def noise(sd: float, *, low: float | None = None) -> Transform:
    """Add Gaussian noise of standard deviation ``sd``; with ``low``, each copy's own standard
    deviation drawn from ``low`` to ``sd``."""
    if low is None:
        return lambda x, gen: x + sd * torch.randn(x.shape, generator=gen).to(x.device, x.dtype)

    def fn(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        each = low + (sd - low) * torch.rand(x.shape[0], 1, 1, 1, generator=gen)
        drawn = torch.empty(x.shape).normal_(generator=gen)  # randn's numbers in 0.6x its time
        return x + drawn.mul_(each).to(x.device, x.dtype)

    return fn


_NUMBER = r"[0-9]+(?:\.[0-9]+)?"  # the digits 0-9 only: \\d and float() take other scripts' digits too
_FORMS: dict[str, tuple[str, Callable[[re.Match], Transform]]] = {
    "pad": (r"([0-9]+)", lambda m: pad(int(m[1]))),
    "jitter": (r"([0-9]+)", lambda m: jitter(int(m[1]))),
    "scale": (rf"({_NUMBER})-({_NUMBER})", lambda m: affine(scale=(float(m[1]), float(m[2])))),
    "rotate": (rf"({_NUMBER})", lambda m: affine(degrees=float(m[1]))),
    "crops": (rf"([0-9]+)x({_NUMBER})", lambda m: crops(int(m[1]), float(m[2]))),
    "view": (rf"({_NUMBER})", lambda m: view(float(m[1]))),
    "noise": (rf"({_NUMBER})(?:-({_NUMBER}))?",
              lambda m: noise(float(m[1])) if m[2] is None else noise(float(m[2]), low=float(m[1]))),
}
_LIMITS = {"pad": (0, 512), "jitter": (0, 512), "scale": (0.1, 10.0), "rotate": (0, 180), "crops": (0.05, 1.0),
           "view": (0.1, 1.0), "noise": (0, 1.0)}
# What a whole list may do: the network sees each picture grown by the pads on each side and
# repeated by the crops' copies, every step. 200 x pad:16 at 64 px grew the picture to about
# 6,464 px a side and took 22 GB; so the pads together get one pad's limit, the copies one
# crops' limit, and the list a length that covers every written set many times over.
MAX_TRANSFORMS = 32
MAX_PAD = _LIMITS["pad"][1]  # px added on each side, all pads together
MAX_COPIES = 16  # pictures the network sees per picture, all crops together


def parse_transforms(text: str) -> list[Transform]:
    """The transforms a written form names: a set (``auto``, which is ``crops`` here, where nothing
    says the picture is of a class: :func:`chosen`; ``noisy-crops``, ``noisy-crops-fast``, ``standard``,
    ``crops``, ``none``) or a comma list of ``pad:PX``, ``jitter:PX``, ``scale:LO-HI``, ``rotate:DEG``,
    ``crops:NxLOW``, ``view:SCALE``, ``noise:SD`` or ``noise:LO-HI``.

    Raises:
        ConfigError: (field ``transforms``) an unknown or malformed step, a value out of its
            range, more than :data:`MAX_TRANSFORMS` steps, pads adding more than
            :data:`MAX_PAD` px a side together, or crops making more than :data:`MAX_COPIES` copies.

    Examples:
        >>> len(parse_transforms("pad:16,crops:2x0.5"))
        2
    """
    return _parsed(text)[0]


def transforms_load(text: str) -> tuple[int, int]:
    """What the transforms ``text`` names make the network see of each picture, every step:
    (copies, px added on each side). Raises as :func:`parse_transforms` does."""
    _, padded, copies = _parsed(text)
    return copies, padded


def _parsed(text: str) -> tuple[list[Transform], int, int]:
    if not isinstance(text, str):
        raise ConfigError(f"transforms must be text such as 'crops' or 'pad:16,jitter:8', not {type(text).__name__}",
                          field="transforms")
    text = TRANSFORM_SETS.get(chosen(text).strip(), text)
    items = [part.strip() for part in text.split(",") if part.strip()]
    if len(items) > MAX_TRANSFORMS:
        raise ConfigError(f"transforms has {len(items)} steps; at most {MAX_TRANSFORMS}", field="transforms")
    found, padded, copies = [], 0, 1
    for item in items:
        name, _, value = item.partition(":")
        form = _FORMS.get(name)
        match = re.fullmatch(form[0], value) if form else None
        if form is None or match is None:
            raise ConfigError(f"transform {item!r} is not one of {AUTO}, {', '.join(TRANSFORM_SETS)} or pad:PX, "
                              "jitter:PX, scale:LO-HI, rotate:DEG, crops:NxLOW, view:SCALE, noise:SD or noise:LO-HI "
                              "(digits 0-9)",
                              field="transforms")
        _check_step(item, name, [float(g) for g in match.groups() if g is not None])
        padded += int(match[1]) if name == "pad" else 0
        copies *= int(match[1]) if name == "crops" else 1
        found.append(form[1](match))
    if padded > MAX_PAD:
        raise ConfigError(f"transforms pad the picture by {padded} px a side together; at most {MAX_PAD}",
                          field="transforms")
    if copies > MAX_COPIES:
        raise ConfigError(f"transforms' crops make {copies} copies of each picture together; at most {MAX_COPIES}",
                          field="transforms")
    return found, padded, copies


def _check_step(item: str, name: str, numbers: list[float]) -> None:
    low, high = _LIMITS[name]
    checked = numbers if name in ("scale", "noise") else numbers[-1:]
    if not all(low <= n <= high for n in checked) or (name == "crops" and not 1 <= numbers[0] <= 16):
        raise ConfigError(f"transform {item!r} is out of range: {name} takes {low:g} to {high:g}"
                          + (" and 1 to 16 crops" if name == "crops" else ""), field="transforms")
    if len(numbers) == 2 and name in ("scale", "noise") and numbers[0] > numbers[1]:
        raise ConfigError(f"transform {item!r} is an empty range: write the lower {name} first, e.g. "
                          f"{name}:{numbers[1]:g}-{numbers[0]:g}", field="transforms")
