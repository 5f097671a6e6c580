"""Parameterizations: how an optimizable picture is stored and drawn.

Each one returns a :class:`Picture`: the tensors an optimizer updates, a ``draw()`` that
turns them into pictures (B, C, H, W) in [0, 1] (C is 3, or 4 with an alpha channel), and
the Adam step that suits it. They are looked up by name in :data:`PARAMS`.

- ``pixels``: one free value per pixel and colour (through a sigmoid);
- ``fft``: Fourier coefficients scaled by 1/frequency, colours decorrelated with ImageNet's
  colour covariance (Olah et al., "Feature Visualization", Distill 2017): each step is
  roughly whitened across scales and colours, and broad structure grows first;
- ``alpha``: ``fft`` plus a transparency channel, so a picture can say where it does not
  matter (lucid's alpha notebook; lucent #42);
- ``maco``: only the Fourier *phase* is optimized; the magnitude stays that of natural
  photos (Fel et al., "Unlocking Feature Visualization for Deeper Networks with MAgnitude
  Constrained Optimization", NeurIPS 2023): the pictures keep natural contrast and colour.

Every one can start from a photo (``init``) instead of noise, which feature accentuation needs.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable

import torch

from ..errors import ConfigError
from ..runtime import with_gradients

__all__ = ["Picture", "PARAMS", "pixels", "fourier", "alpha", "maco", "picture_for", "checked_whole", "COLOR_SQRT"]

# Square root of ImageNet's colour correlation (from lucid), columns normalized.
COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOR_SQRT = COLOR_SQRT / COLOR_SQRT.norm(dim=0).max()

# Magnitude spectrum of natural photos in the decorrelated colour basis, fitted as
# amp * f^-alpha per colour (f in cycles per pixel). Fitted by scripts/fit_photo_spectrum.py
# on the four example photos at 224 px, pre-sigmoid (logit) values; MACO keeps this magnitude.
PHOTO_SPECTRUM = ((20.4, 1.36), (23.2, 1.31), (31.4, 1.15))
FOURIER_GAIN = 0.6  # fft: pre-sigmoid scale of the drawn picture (0.25 was lucid's: greyish pictures)
MACO_GAIN = 2.5  # maco: pre-sigmoid standard deviation of the drawn picture (2.0: greyer, 75-80% transferable)
MACO_LR = 0.1  # maco: Adam step on the phase in radians (0.05: 75-80% top-1 across networks; 0.5 tore it apart)


@dataclass
class Picture:
    """An optimizable batch of pictures."""

    tensors: list[torch.Tensor]  # what the optimizer updates
    draw: Callable[[], torch.Tensor]  # -> (B, C, H, W) in [0, 1]; C = 3, or 4 with alpha
    lr: float  # an Adam step that works for it
    name: str


def _logit(init: torch.Tensor) -> torch.Tensor:
    return torch.logit(init.clamp(0.01, 0.99))


def _decorrelate(x: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    # A copy: the constant is an inference tensor when this module was first imported under
    # torch.inference_mode() (ComfyUI imports a node's modules so), and autograd cannot save one.
    matrix = COLOR_SQRT.to(x.device, x.dtype).clone()
    return torch.einsum("bchw,dc->bdhw", x, torch.linalg.inv(matrix) if inverse else matrix)


def pixels(batch: int, size: int, *, gen: torch.Generator, device: torch.device,
           init: torch.Tensor | None = None) -> Picture:
    """Free pixels through a sigmoid, from small noise (or ``init`` (B, 3, H, W) in [0, 1])."""
    start = _logit(init.cpu()) if init is not None else torch.randn(batch, 3, size, size, generator=gen) * 0.01
    values = start.to(device).requires_grad_(True)
    return Picture([values], lambda: torch.sigmoid(values), 0.05, "pixels")


def _spectrum_scale(height: int, width: int, decay: float) -> torch.Tensor:
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    freqs = (fx.square() + fy.square()).sqrt()
    return (1.0 / freqs.clamp_min(1.0 / max(height, width)) ** decay) * math.sqrt(height * width)


def fourier(batch: int, size: int, *, gen: torch.Generator, device: torch.device, init: torch.Tensor | None = None,
            decay: float = 1.0, gain: float = FOURIER_GAIN, channels: int = 3) -> Picture:
    """Fourier coefficients (B, C, H, W//2+1) scaled by 1/frequency^``decay``; the first
    three channels decorrelated colour, any further one (alpha) plain."""
    scale = _spectrum_scale(size, size, decay).to(device)
    if init is not None:
        signal = _decorrelate(_logit(init.to(device)), inverse=True) / gain
        start = torch.view_as_real(torch.fft.rfft2(signal) / scale)
        if channels > 3:  # alpha starts opaque
            opaque = torch.zeros(start.shape[0], channels - 3, *start.shape[2:], device=device)
            opaque[:, :, 0, 0, 0] = 3.0 * size * size / (float(scale[0, 0]) * gain)  # sigmoid(3)
            start = torch.cat([start, opaque], 1)
    else:
        start = torch.randn(batch, channels, size, size // 2 + 1, 2, generator=gen) * 0.01
    spectrum = start.to(device).requires_grad_(True)

    def draw() -> torch.Tensor:
        img = torch.fft.irfft2(torch.view_as_complex(spectrum) * scale, s=(size, size)) * gain
        colour = _decorrelate(img[:, :3])
        return torch.sigmoid(torch.cat([colour, img[:, 3:]], 1))

    return Picture([spectrum], draw, 0.05, "fft" if channels == 3 else "alpha")


def alpha(batch: int, size: int, *, gen: torch.Generator, device: torch.device,
          init: torch.Tensor | None = None) -> Picture:
    """``fft`` with a fourth, transparency channel (B, 4, H, W)."""
    return fourier(batch, size, gen=gen, device=device, init=init, channels=4)


def _photo_magnitude(size: int, device: torch.device) -> torch.Tensor:
    fy = torch.fft.fftfreq(size)[:, None]
    fx = torch.fft.rfftfreq(size)[None, :]
    freqs = (fx.square() + fy.square()).sqrt().clamp_min(1.0 / size)
    magnitude = torch.stack([amp * freqs**-power for amp, power in PHOTO_SPECTRUM])
    magnitude[:, 0, 0] = 0.0  # the mean is set by the standardization
    return magnitude[None].to(device)


def maco(batch: int, size: int, *, gen: torch.Generator, device: torch.device,
         init: torch.Tensor | None = None, gain: float = MACO_GAIN) -> Picture:
    """Phase-only Fourier pictures with natural photos' magnitude spectrum, standardized
    to ``gain`` before the colours are recorrelated."""
    magnitude = _photo_magnitude(size, device)
    if init is not None:
        start = torch.fft.rfft2(_decorrelate(_logit(init.to(device)), inverse=True)).angle()
    else:
        start = (torch.rand(batch, 3, size, size // 2 + 1, generator=gen) * 2 - 1) * math.pi
    phase = start.to(device).requires_grad_(True)

    def draw() -> torch.Tensor:
        img = torch.fft.irfft2(torch.polar(magnitude, phase), s=(size, size))
        flat = img.flatten(1)
        img = (img - flat.mean(1).view(-1, 1, 1, 1)) / (flat.std(1).view(-1, 1, 1, 1) + 1e-5) * gain
        return torch.sigmoid(_decorrelate(img))

    return Picture([phase], draw, MACO_LR, "maco")


PARAMS: dict[str, Callable[..., Picture]] = {"pixels": pixels, "fft": fourier, "alpha": alpha, "maco": maco}


# What one call may ask for: VisualizeConfig's bounds (``picture_for("fft", 1, 10**9)`` asked
# for 2e18 bytes before anything said no).
MAX_SIDE, MAX_BATCH = 4096, 1024


@with_gradients  # its tensors are leaves an optimizer climbs, whatever the caller's mode
def picture_for(name: str, batch: int, size: int, *, gen: torch.Generator, device: torch.device,
                init: torch.Tensor | None = None) -> Picture:
    """The parameterization ``name`` (a key of :data:`PARAMS`) for ``batch`` pictures of
    ``size`` px a side (16 to :data:`MAX_SIDE`; ``batch`` 1 to :data:`MAX_BATCH`), started from
    ``init`` (B, 3, H, W) in [0, 1] when given.

    Raises:
        ConfigError: naming ``param``, ``batch``, ``size`` or ``init``.
    """
    if not isinstance(name, str) or name not in PARAMS:
        raise ConfigError(f"parameterization {name!r} is not one of {', '.join(PARAMS)}", field="param")
    batch, size = checked_whole(batch, "batch", 1, MAX_BATCH), checked_whole(size, "size", 16, MAX_SIDE)
    if init is not None:
        if not isinstance(init, torch.Tensor) or init.dim() != 4 or init.shape[1] != 3 or init.shape[0] < 1 \
                or tuple(init.shape[-2:]) != (size, size):
            shown = tuple(init.shape) if isinstance(init, torch.Tensor) else type(init).__name__
            raise ConfigError(f"init must be pictures (B, 3, {size}, {size}) in [0, 1], not {shown}", field="init")
        if not bool(torch.isfinite(init).all()):
            raise ConfigError("init has values that are not finite; pictures lie in [0, 1]", field="init")
    return PARAMS[name](batch, size, gen=gen, device=device, init=init)


def checked_whole(value: object, field: str, low: int, high: int) -> int:
    """``value`` as an int from ``low`` to ``high`` (numpy's integers too; not a bool), or a
    ConfigError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ConfigError(f"{field} must be a whole number from {low} to {high}, not {value!r}", field=field)
    return int(value)
