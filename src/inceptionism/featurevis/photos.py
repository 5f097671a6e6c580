"""Visualizations grown from a photo instead of noise.

- :func:`accentuate`: feature accentuation (Hamblin et al., 2024): a unit's visualization
  grown out of a photo, held close to the photo's own activations, so it shows what of
  the unit is already in this photo and where;
- :func:`caricature`: exaggerate everything a layer sees in a photo (lucid's caricature).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Callable

import torch
import torch.nn.functional as F

from ..models.loaded import LoadedModel
from ..objectives import LayerTerm, Objective, TermContext, channel, stay_close, term_objective
from ..paths import __version__
from ..runtime import with_gradients
from ..taps import capture
from .param import picture_for
from .render import render
from .transforms import chosen, parse_transforms
from .units import FeatureVisConfig, Visualization

__all__ = ["accentuate", "caricature", "of_photo", "photo_features"]

ACCENT_CLOSENESS = 1.0  # accentuate: weight of staying close, relative to the unit's own score
# accentuate: Adam's step. Adam moves every coefficient by about its step from the first
# one on, whatever the gradient: at the 0.05 that suits a picture grown from noise, a
# photo is covered in noise at once (mean pixel change 0.10 after one step).
ACCENT_LR = 0.01


def _square(photo: torch.Tensor, size: int) -> torch.Tensor:
    """(3, H, W) or (1, 3, H, W) in [0, 1] -> its centre square at ``size`` (1, 3, size, size)."""
    x = photo if photo.dim() == 4 else photo[None]
    side = min(x.shape[-2:])
    top, left = (x.shape[-2] - side) // 2, (x.shape[-1] - side) // 2
    x = x[..., top : top + side, left : left + side]
    return F.interpolate(x.float(), size=(size, size), mode="bilinear", antialias=True).clamp(0, 1)


@torch.no_grad()
def photo_features(model: LoadedModel, photo: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
    """The photo's activations (C, H, W) at each of ``layers``."""
    with capture(model, layers) as run:
        acts = run(photo.to(model.device))
    return {name: acts[name][0] for name in layers}


def _grown(model: LoadedModel, start: torch.Tensor, objective: Objective, cfg: FeatureVisConfig, what: dict,
           layer: str, target: int | str, lr: float | None = None,
           on_step: Callable[[int, torch.Tensor], None] | None = None) -> Visualization:
    from ..images import to_pil

    cfg = replace(cfg, transforms=chosen(cfg.transforms, param=cfg.param))  # a channel's or a photo's: recorded as run
    gen = torch.Generator().manual_seed(cfg.seed)
    picture = picture_for(cfg.param, 1, cfg.size, gen=gen, device=model.device, init=start)
    optimizer = (lambda tensors: torch.optim.Adam(tensors, lr=lr)) if lr is not None else None
    out = render(model, objective, picture, steps=cfg.steps, gen=gen, transforms=parse_transforms(cfg.transforms),
                 optimizer=optimizer, on_step=on_step)
    meta = {"inceptionism": __version__, "model": model.spec.name, "weights_sha256": model.weights_sha256,
            "visualize": {**what, "layer": layer, "target": target, **asdict(cfg)}, "score": float(out.values[0])}
    image = to_pil(out.images[0, :3])
    image.info["inceptionism"] = meta
    return Visualization(layer, target, image, float(out.values[0]), meta, out.importance[0].cpu())


@with_gradients
def accentuate(model: LoadedModel, photo: torch.Tensor, layer: str, target: int, cfg: FeatureVisConfig, *,
               keep: str | None = None, closeness: float = ACCENT_CLOSENESS, lr: float = ACCENT_LR,
               on_step: Callable[[int, torch.Tensor], None] | None = None) -> Visualization:
    """Grow channel ``target`` of ``layer`` out of ``photo`` (3, H, W) in [0, 1].

    The picture starts as the photo's centre square and climbs the channel's mean while
    its activations at ``keep`` (default: ``layer``) stay close to the photo's; ``closeness``
    weighs the two (0: the photo may be forgotten entirely).
    """
    start = _square(photo, cfg.size).to(model.device)
    keep = keep or layer
    unit = channel(layer, target, kind="mean")
    near = stay_close(keep, photo_features(model, start, [keep])[keep])

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        value = unit(acts)
        return value + closeness * value.detach().abs() * near(acts)

    objective = Objective(fn, unit.layers | near.layers, f"accentuate:{layer}:{target}")
    what = {"accentuate": {"keep": keep, "closeness": closeness, "lr": lr}}
    return _grown(model, start, objective, cfg, what, layer, target, lr, on_step)


@with_gradients
def caricature(model: LoadedModel, photo: torch.Tensor, layer: str, cfg: FeatureVisConfig) -> Visualization:
    """Exaggerate what ``layer`` sees in ``photo`` (3, H, W) in [0, 1], grown from noise."""
    return of_photo(model, photo, LayerTerm(layer, kind="caricature"), cfg)


@with_gradients
def of_photo(model: LoadedModel, photo: torch.Tensor, term: LayerTerm, cfg: FeatureVisConfig, *,
             on_step: Callable[[int, torch.Tensor], None] | None = None) -> Visualization:
    """A picture of a term made of a photo's features (its kind's ``of_photo``, e.g.
    ``caricature:LAYER``), grown from noise: the term is built with the activations of the
    photo's centre square at ``cfg.size``."""
    start = _square(photo, cfg.size).to(model.device)
    objective = term_objective(term, TermContext(photo=lambda layer: photo_features(model, start, [layer])[layer]))
    gen = torch.Generator().manual_seed(cfg.seed)
    noise_start = torch.sigmoid(torch.randn(start.shape, generator=gen) * 0.1).to(model.device)
    return _grown(model, noise_start, objective, cfg, {term.kind: True}, term.layer, term.kind, on_step=on_step)
