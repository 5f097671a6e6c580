"""Feature visualization with a Fourier-domain image and transformation robustness.

Optimizing raw pixels finds high-frequency patterns that excite a channel but look
like noise. Two changes (Olah et al., "Feature Visualization", Distill 2017) give
cleaner, more natural pictures:

- the image is parameterized by its Fourier coefficients, scaled by 1/frequency, with
  colours decorrelated (ImageNet's colour covariance), so gradient steps are roughly
  whitened across scales and colours;
- every step sees a randomly padded, jittered, scaled and rotated copy, so only
  patterns that survive small transformations grow.

Several objectives are optimized at once as one batch: item k of the batch serves
objective k, in a single forward/backward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F

from .models.spec import LoadedModel
from .paths import __version__
from .objectives import Activations
from .taps import capture

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "FeatureVisConfig",
    "Visualization",
    "fft_image",
    "parse_targets",
    "random_transform",
    "render_batch",
    "visualize_features",
]

# Square root of ImageNet's colour correlation (from Lucid), columns normalized.
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR_SQRT = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()


@dataclass(frozen=True)
class FeatureVisConfig:
    """Parameters of a batched feature visualization. Size, steps and seed come from the
    caller's declared options (``VisualizeConfig``, ``GalleryConfig``) or its own fixed choice."""

    size: int  # side of the square pictures
    steps: int  # optimizer steps
    seed: int  # recorded in every picture's metadata
    lr: float = 0.05  # Adam learning rate on the Fourier coefficients
    decay: float = 1.0  # spectrum scale 1/f**decay: larger = smoother
    transforms: bool = True  # random pad/jitter/scale/rotation every step


def _spectrum_scale(height: int, width: int, decay: float) -> torch.Tensor:
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    freqs = (fx.square() + fy.square()).sqrt()
    return (1.0 / freqs.clamp_min(1.0 / max(height, width)) ** decay) * math.sqrt(height * width)


def fft_image(spectrum: torch.Tensor, height: int, width: int, scale: torch.Tensor) -> torch.Tensor:
    """Pictures (B, 3, H, W) in (0, 1) from Fourier coefficients (B, 3, H, W//2+1, 2)."""
    coeffs = torch.view_as_complex(spectrum) * scale
    img = torch.fft.irfft2(coeffs, s=(height, width)) / 4.0
    img = torch.einsum("bchw,dc->bdhw", img, _COLOR_SQRT.to(img.device, img.dtype))
    return torch.sigmoid(img)


def random_transform(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Pad 12 px, jitter 8 px, scale 0.9-1.1, rotate up to 10 degrees, jitter 4 px.

    One random transform per step, shared across the batch (every item sees the same).
    """
    x = F.pad(x, (12, 12, 12, 12), mode="constant", value=0.5)
    dy, dx = torch.randint(-8, 9, (2,), generator=gen).tolist()
    x = torch.roll(x, (dy, dx), (2, 3))
    scale = 1.0 + (torch.randint(0, 11, (1,), generator=gen).item() - 5) / 50.0
    angle = math.radians(torch.randint(-10, 11, (1,), generator=gen).item())
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    dy, dx = torch.randint(-4, 5, (2,), generator=gen).tolist()
    return torch.roll(x, (dy, dx), (2, 3))


def render_batch(
    model: LoadedModel,
    layers: list[str],
    objective: Callable[[Activations], torch.Tensor],
    batch: int,
    cfg: FeatureVisConfig,
    *,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Optimize ``batch`` pictures so that item k maximizes ``objective(acts)[k]``.

    Returns:
        (pictures (B, 3, H, W) in [0, 1], final objective per item (B,) on the
        untransformed pictures)
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    size = cfg.size
    scale = _spectrum_scale(size, size, cfg.decay).to(model.device)
    init = torch.randn(batch, 3, size, size // 2 + 1, 2, generator=gen) * 0.01
    spectrum = init.to(model.device).requires_grad_(True)
    optimizer = torch.optim.Adam([spectrum], lr=cfg.lr)
    with capture(model, layers) as run:
        for step in range(cfg.steps):
            optimizer.zero_grad(set_to_none=True)
            img = fft_image(spectrum, size, size, scale)
            seen = random_transform(img, gen) if cfg.transforms else img
            values = objective(run(seen))
            (-values.sum()).backward()
            optimizer.step()
            if on_step is not None:
                on_step(step + 1, values.detach())
        with torch.no_grad():
            img = fft_image(spectrum, size, size, scale)
            final = objective(run(img))
    return img.detach(), final.detach()


@dataclass
class Visualization:
    """One visualized target: a channel of a layer, or a class."""

    layer: str  # module path, or "class"
    target: int  # channel number or class index
    image: "Image.Image"
    score: float  # channel mean activation (or class logit) of the final picture
    metadata: dict


def parse_targets(text: str, layer: str, model: LoadedModel) -> list[int]:
    """Channels ("3,7,12", "all") of a layer, or classes (names or indices) when layer is "class"."""
    from .errors import ConfigError
    from .labels import resolve_class
    from .taps import layer_info

    if layer == "class":
        if model.spec.labels is None:
            raise ConfigError(f"model {model.spec.name} has no class labels")
        return [resolve_class(part.strip(), model.spec.labels) for part in text.split(",") if part.strip()]
    info = layer_info(model, layer)
    if text.strip() == "all":
        return list(range(info.channels))
    try:
        targets = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"channels {text!r} must be a comma list of whole numbers or 'all'") from None
    for target in targets:
        info.check_channel(target)
    if not targets:
        raise ConfigError("no channels given")
    return targets


def visualize_features(
    model: LoadedModel,
    layer: str,
    targets: list[int],
    cfg: FeatureVisConfig,
    *,
    batch: int = 8,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
) -> list[Visualization]:
    """Fourier-parameterized pictures of channels (or classes), ``batch`` per pass."""
    from .images import to_pil
    from .objectives import OUTPUT, per_item_channels, per_item_classes

    results = []
    for start in range(0, len(targets), batch):
        chunk = targets[start : start + batch]
        if layer == "class":
            objective, layers = per_item_classes(chunk), [OUTPUT]
        else:
            objective, layers = per_item_channels(layer, chunk), [layer]
        pictures, scores = render_batch(model, layers, objective, len(chunk), cfg, on_step=on_step)
        for target, picture, score in zip(chunk, pictures, scores):
            meta = {
                "inceptionism": __version__,
                "model": model.spec.name,
                "weights_sha256": model.weights_sha256,
                "visualize": {"layer": layer, "target": target, "param": "fft", **cfg.__dict__},
                "score": float(score),
            }
            image = to_pil(picture)
            image.info["inceptionism"] = meta
            results.append(Visualization(layer, target, image, float(score), meta))
    return results
