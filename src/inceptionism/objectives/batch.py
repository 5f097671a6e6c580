"""Terms for feature visualization: per-item targets, terms that couple the pictures of a
batch (diversity), directions in a layer's channel space, and terms that compare a picture
with a photo's activations (caricature, staying close for feature accentuation).

A feature visualization's batch is laid out in a fixed order, and these terms rely on it:
``copies x targets x pictures`` (copy-major), where a transform may show the network
several copies (crops) of every picture, and each target may have several pictures
(``diversity``). Per-item terms repeat their targets over whatever batch they see, so one
objective serves one copy or many.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from ..errors import ConfigError, LayerError
from .terms import OUTPUT, Activations, Objective

__all__ = ["per_item_channels", "per_item_classes", "diversity", "direction", "caricature", "stay_close"]


def _tiled(idx: torch.Tensor, batch: int, device: torch.device) -> torch.Tensor:
    """``idx`` (T,) repeated to cover a batch of ``batch`` items (a multiple of T)."""
    if batch % len(idx):
        raise ConfigError(f"a batch of {batch} pictures cannot hold {len(idx)} targets evenly; the objective's "
                          "targets must match the pictures", field="objective")
    return idx.to(device).repeat(batch // len(idx))


def _indices(values: list[int], what: str, pictures: int) -> torch.Tensor:
    """``values`` (whole numbers from 0, numpy's too) each repeated ``pictures`` times."""
    if isinstance(pictures, bool) or not isinstance(pictures, numbers.Integral) or pictures < 1:
        raise ConfigError(f"pictures must be a whole number of at least 1, not {pictures!r}", field="pictures")
    items = list(values) if isinstance(values, (list, tuple)) else None
    if not items or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0 for v in items):
        raise ConfigError(f"{what} must be a non-empty list of whole numbers from 0, not {values!r}", field=what)
    return torch.tensor([int(v) for v in items]).repeat_interleave(int(pictures))


def _check_range(idx: torch.Tensor, count: int, what: str, name: str) -> None:
    highest = int(idx.max())  # a CPU tensor: no wait for a device
    if highest >= count:
        raise LayerError(f"{what[:-1]} {highest} is out of range for {name}: 0 to {count - 1}", field=what)


def per_item_channels(name: str, channels: list[int], *, pictures: int = 1) -> Objective:
    """Item k of each copy maximizes the mean of channel ``channels[k // pictures]``."""
    idx = _indices(channels, "channels", pictures)

    def fn(acts: Activations) -> torch.Tensor:
        a = acts[name]
        _check_range(idx, a.shape[1], "channels", f"layer {name!r}")
        rows = torch.arange(a.shape[0], device=a.device)
        return a[rows, _tiled(idx, a.shape[0], a.device)].flatten(1).mean(1)

    return Objective(fn, frozenset([name]), f"{name}:{','.join(map(str, channels))}")


def per_item_classes(indices: list[int], *, pictures: int = 1) -> Objective:
    """Item k of each copy maximizes the logit of class ``indices[k // pictures]``."""
    idx = _indices(indices, "classes", pictures)

    def fn(acts: Activations) -> torch.Tensor:
        logits = acts[OUTPUT]
        _check_range(idx, logits.shape[1], "classes", "the network's output")
        rows = torch.arange(logits.shape[0], device=logits.device)
        return logits[rows, _tiled(idx, logits.shape[0], logits.device)]

    return Objective(fn, frozenset([OUTPUT]), f"classes:{','.join(map(str, indices))}")


def _gram(x: torch.Tensor) -> torch.Tensor:
    """Channel Gram matrices (B, C*C) of activations (B, C, H, W), unit length."""
    flat = x.flatten(2)
    gram = torch.einsum("bcn,bdn->bcd", flat, flat) / flat.shape[-1]
    return F.normalize(gram.flatten(1), dim=1)


def diversity(name: str, pictures: int) -> Objective:
    """Make the ``pictures`` consecutive items of each group differ in style at ``name``.

    Each item's value is minus its mean cosine similarity to the other items of its group,
    compared by their channel Gram matrices (Olah et al. 2017, lucid's ``diversity``): added
    to a unit's objective, several pictures of one unit show different facets of it. A
    group of one picture has nothing to differ from: its value is 0.
    """
    if pictures < 1:
        raise ConfigError(f"diversity needs at least 1 picture per target, not {pictures}")

    def fn(acts: Activations) -> torch.Tensor:
        x = acts[name]
        if pictures == 1:
            return x.new_zeros(x.shape[0])
        grams = _gram(x.float()).view(-1, pictures, x.shape[1] ** 2)  # (groups, N, C*C)
        similarity = torch.einsum("gik,gjk->gij", grams, grams)
        others = (similarity.sum(-1) - similarity.diagonal(dim1=1, dim2=2)) / (pictures - 1)
        return -others.reshape(-1).to(x.dtype)

    return Objective(fn, frozenset([name]), f"diversity:{name}")


def direction(name: str, vector: torch.Tensor | list[float] | dict[int, float], *, cossim_pow: float = 0.0) -> Objective:
    """A direction in ``name``'s channel space: the mean over positions of each position's
    activation vector projected on the unit ``vector``; with ``cossim_pow`` > 0, the
    projection is weighted by (cosine similarity)^pow, which favours positions that point
    the same way over ones that are merely large (lucid's ``direction_neuron``).

    ``vector`` is (C,) values, or ``{channel: coefficient}`` for a sparse one: ``{3: 1, 7: 1}``
    is the interaction of channels 3 and 7, ``{3: 1, 7: -1}`` is 3 without 7.
    """
    sparse = dict(vector) if isinstance(vector, dict) else None
    if sparse is not None:
        if any(isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0 for k in sparse) or not all(
                isinstance(v, numbers.Real) and math.isfinite(v) for v in sparse.values()):
            raise ConfigError(f"direction {sparse!r} must map channels (whole numbers from 0) to finite numbers",
                              field="vector")
        sparse = {int(k): float(v) for k, v in sparse.items()}
    try:
        dense = None if sparse is not None else torch.as_tensor(vector, dtype=torch.float32).flatten()
    except (TypeError, ValueError, RuntimeError):
        raise ConfigError(f"a direction is a vector of numbers or {{channel: coefficient}}, not {type(vector).__name__}",
                          field="vector") from None
    if dense is not None and not (bool(torch.isfinite(dense).all()) and bool(dense.norm() > 0)):
        raise ConfigError("a direction needs a vector of finite entries, some of them non-zero", field="vector")

    def fn(acts: Activations) -> torch.Tensor:
        x = acts[name]
        d = _vector(x.shape[1], sparse, dense, name).to(x.device, x.dtype)
        along = torch.einsum("bchw,c->bhw", x, d)
        if cossim_pow:
            cos = along / x.norm(dim=1).clamp_min(1e-6)
            along = along * cos.clamp_min(0.1) ** cossim_pow
        return along.flatten(1).mean(1)

    shown = ",".join(f"{k}*{v:g}" for k, v in sparse.items()) if sparse is not None else f"{len(dense)}-vector"
    return Objective(fn, frozenset([name]), f"direction:{name}:{shown}")


def _vector(channels: int, sparse: dict[int, float] | None, dense: torch.Tensor | None, name: str) -> torch.Tensor:
    if dense is not None:
        if dense.numel() != channels:
            raise LayerError(f"direction has {dense.numel()} entries; layer {name!r} has {channels} channels")
        return dense / dense.norm()
    d = torch.zeros(channels)
    for index, value in (sparse or {}).items():
        if not 0 <= index < channels:
            raise LayerError(f"channel {index} is out of range for layer {name!r}: 0 to {channels - 1}")
        d[index] = value
    if not bool(d.norm() > 0):
        raise ConfigError(f"direction in layer {name!r} has no non-zero coefficient")
    return d / d.norm()


def _matched(x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """``features`` (C, h, w) resized to ``x``'s (B, C, H, W) maps, on its device and type."""
    f = features.to(x.device, x.dtype)
    if f.shape[0] != x.shape[1]:
        raise LayerError(f"photo features have {f.shape[0]} channels; the layer has {x.shape[1]}")
    if f.shape[-2:] != x.shape[-2:]:
        f = F.interpolate(f[None], size=x.shape[-2:], mode="bilinear", align_corners=False)[0]
    return f


def caricature(name: str, features: torch.Tensor, *, cossim_pow: float = 1.0) -> Objective:
    """Exaggerate what ``name`` sees in a photo: the dot product of a picture's activations
    with the photo's ``features`` (C, h, w), times their cosine similarity^``cossim_pow``
    (lucid's caricature): the picture grows whatever the layer found in the photo, where
    it found it, and more of it."""

    def fn(acts: Activations) -> torch.Tensor:
        x = acts[name].flatten(1)
        f = _matched(acts[name], features).flatten()
        dot = x @ f / f.norm().clamp_min(1e-6)
        cos = dot / x.norm(dim=1).clamp_min(1e-6)
        return dot * cos.clamp_min(0.1) ** cossim_pow

    return Objective(fn, frozenset([name]), f"caricature:{name}")


def stay_close(name: str, features: torch.Tensor) -> Objective:
    """Minus the squared distance of a picture's activations at ``name`` from a photo's
    ``features`` (C, h, w), relative to the photo's own size there: 0 at the photo, lower
    the further the picture strays. Feature accentuation weights it against a unit's
    objective, so the unit grows out of the photo while the photo stays recognizable."""

    def fn(acts: Activations) -> torch.Tensor:
        x = acts[name]
        f = _matched(x, features)
        return -(x - f).square().flatten(1).sum(1) / f.square().sum().clamp_min(1e-6)

    return Objective(fn, frozenset([name]), f"stay_close:{name}")
