"""Honest scores for a visualization: what another network sees in it, how colourful it
is, and whether its activation is the unit's own doing.

The network that made a picture is a lenient judge of it (the picture was optimized
against exactly that network); :func:`transferability` asks a *different* one.
:func:`sanity` follows Geirhos et al. (ICML 2024): a picture should excite its unit more,
relative to how that unit responds to natural photos, than it excites the layer's other
units; else its activation says little about the unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..models.ensemble import SEPARATOR
from ..models.loaded import LoadedModel

__all__ = ["chroma", "Judged", "check_judge", "transferability", "Sanity", "sanity", "ranked", "SPREAD_FLOOR"]

SPREAD_FLOOR = 0.25  # sanity: a unit's spread over the photos is at least this share of the layer's median


def chroma(images: torch.Tensor) -> torch.Tensor:
    """Mean chroma per picture (B,): the YCbCr distance from grey, in 8-bit units
    (grey 0; the example photos 18-49)."""
    r, g, b = (images[:, :3].float().clamp(0, 1) * 255).unbind(1)
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b
    return (cb.square() + cr.square()).sqrt().flatten(1).mean(1)


@dataclass
class Judged:
    """A judge network's verdict on pictures of classes."""

    judge: str
    top1: torch.Tensor  # (B,) bool: the target is the judge's first class
    top5: torch.Tensor  # (B,) bool: among its five first
    probability: torch.Tensor  # (B,) the judge's probability of the target
    guess: list[int]  # (B,) the judge's first class


def _networks(model: LoadedModel) -> list[str]:
    """The networks ``model`` is made of: itself, or an ensemble's members."""
    return model.spec.name.split(SEPARATOR)  # an ensemble's name is written without spaces


def check_judge(judge: LoadedModel, source: LoadedModel | None) -> None:
    """Refuse a judge that made the pictures itself (the same weights) or classifies nothing.

    A judge that shares a network with the source (an ensemble's member) made them too.

    Raises:
        ConfigError: naming the judge and why.
    """
    if source is not None and (source.spec.name, source.weights_sha256) == (judge.spec.name, judge.weights_sha256):
        raise ConfigError(f"{judge.spec.name} made these pictures and cannot judge them; choose another network",
                          field="judge")
    judges, makers = _networks(judge), _networks(source) if source is not None else []
    shared = sorted(set(judges) & set(makers))
    if shared and len(judges) + len(makers) > 2:  # one of them is an ensemble, and the other took part in it
        raise ConfigError(f"{judge.spec.name} and {source.spec.name} (which made these pictures) share "  # type: ignore[union-attr]
                          f"{', '.join(shared)}; choose a network that took no part", field="judge")
    if judge.spec.labels is None:
        raise ConfigError(f"model {judge.spec.name} has no class labels and cannot judge class pictures", field="judge")


@torch.no_grad()
def transferability(images: torch.Tensor, targets: list[int], judge: LoadedModel, *, source: LoadedModel | None = None) -> Judged:
    """How a *different* network classifies class pictures (B, 3, H, W) in [0, 1], each
    seen whole at the judge's input size.

    Raises:
        ConfigError: the judge is the network that made the pictures, or classifies nothing.
    """
    check_judge(judge, source)
    size = judge.spec.input_size
    x = F.interpolate(images[:, :3].to(judge.device).float(), size=(size, size), mode="bilinear", antialias=True)
    probabilities = judge(x.clamp(0, 1)).float().softmax(-1)
    target = torch.tensor(targets, device=probabilities.device)
    top5 = probabilities.topk(5, -1).indices
    return Judged(judge.spec.name, (top5[:, 0] == target).cpu(), (top5 == target[:, None]).any(1).cpu(),
                  probabilities[torch.arange(len(targets)), target].cpu(), top5[:, 0].tolist())


@dataclass
class Sanity:
    """A picture's activation of its unit, measured against natural photos."""

    activation: float  # the unit's mean activation on the picture
    photos_mean: float  # its mean over the photos
    photos_max: float  # its largest on any photo
    z: float  # (activation - photos_mean) / photos' standard deviation (floored, see sanity)
    rank: int  # where the unit ranks among the layer's units by that z on the picture (1 = first)
    units: int  # units in the layer

    @property
    def explained(self) -> bool:
        """The picture excites its own unit more, for that unit, than any other unit of the layer."""
        return self.rank == 1


@torch.no_grad()
def sanity(model: LoadedModel, layer: str, channel: int, picture: torch.Tensor, photo_means: torch.Tensor, *,
           spread_floor: float = SPREAD_FLOOR) -> Sanity:
    """Check a channel picture (3, H, W) against the layer's channel means on natural photos
    ``photo_means`` (N, C) (from :func:`~inceptionism.featurevis.examples.scan_photos`).

    A unit's spread is floored at ``spread_floor`` times the layer's median spread: on a
    handful of photos some unit barely varies, and dividing by that near-zero spread would
    let it outrank every other unit on noise alone."""
    from ..taps import capture

    if photo_means.shape[0] < 2:
        raise ConfigError("the sanity check needs at least 2 photos to measure a unit's spread on")
    with capture(model, [layer]) as run:
        acts = run(picture[None, :3].to(model.device))[layer][0].float().mean((1, 2)).cpu()
    return ranked(acts, photo_means, channel, spread_floor=spread_floor)


def ranked(values: torch.Tensor, photo_means: torch.Tensor, unit: int, *, spread_floor: float = SPREAD_FLOOR) -> Sanity:
    """Where ``unit`` ranks among all units by how far a picture's ``values`` (C,) lie above the
    photos' ``photo_means`` (N, C), each in its own spread over the photos (see :func:`sanity`):
    channels of a layer, or the concepts of a dictionary."""
    if photo_means.shape[0] < 2:
        raise ConfigError("the sanity check needs at least 2 photos to measure a unit's spread on")
    values, photo_means = values.float().cpu(), photo_means.float().cpu()
    mean, std = photo_means.mean(0), photo_means.std(0)
    std = std.clamp_min(max(1e-6, spread_floor * float(std.median())))
    z = (values - mean) / std
    rank = int((z > z[unit]).sum()) + 1
    return Sanity(float(values[unit]), float(mean[unit]), float(photo_means[:, unit].max()), float(z[unit]), rank,
                  len(values))
