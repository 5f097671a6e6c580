"""Pictures of units: channels, channel combinations (directions) and classes, several per
target when asked (diversity), batched through :func:`~inceptionism.featurevis.render`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable, Union

import torch

from ..errors import ConfigError, InceptionismError
from ..models.loaded import LoadedModel
from ..objectives import Objective, channel_combination, direction, diversity, per_item_channels, per_item_classes
from ..paths import __version__
from ..taps import auto_layers
from .param import picture_for
from .render import render
from .transforms import parse_transforms

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["FeatureVisConfig", "Visualization", "Target", "parse_targets", "visualize_features", "target_text"]

Target = Union[int, tuple[tuple[int, float], ...]]  # a channel or class, or (channel, coefficient) pairs


@dataclass(frozen=True)
class FeatureVisConfig:
    """Parameters of a batched feature visualization. Size, steps and seed come from the
    caller's declared options (``VisualizeConfig``, ``GalleryConfig``) or its own fixed choice."""

    size: int  # side of the square pictures
    steps: int  # optimizer steps
    seed: int  # recorded in every picture's metadata
    param: str = "fft"  # parameterization: a key of featurevis.PARAMS
    transforms: str = "crops"  # what the network sees each step (featurevis.transforms' written form)
    pictures: int = 1  # pictures per target; more than one are pushed apart (diversity)
    diversity: float = 4.0  # weight of the diversity term, relative to each target's own score


@dataclass
class Visualization:
    """One visualized target: a channel (or channel combination) of a layer, or a class."""

    layer: str  # module path, or "class"
    target: int | str  # channel number or class index; "3+7" for a combination
    image: "Image.Image"
    score: float  # channel mean activation (or class logit) of the final picture
    metadata: dict
    importance: torch.Tensor | None = None  # (H, W) in [0, 1]: where the objective looked


def importance_image(importance: torch.Tensor) -> "Image.Image":
    """An importance map (H, W) in [0, 1] as a grey picture, on a square-root scale so that
    the places the objective looked at less still show."""
    from PIL import Image

    heat = (importance.detach().float().clamp(0, 1).sqrt() * 255).round().to(torch.uint8).cpu().numpy()
    return Image.fromarray(heat, "L")


def target_text(target: Target) -> int | str:
    """A target as it is written: ``7``, or ``3+7-2`` for a combination."""
    if isinstance(target, int):
        return target
    return "".join(f"{'-' if c < 0 else '+'}{k}" for k, c in target).lstrip("+")


def parse_targets(text: str, layer: str, model: LoadedModel, *, field: str = "targets") -> list[Target]:
    """Channels ("3,7,12", "all", combinations "3+7,3-7") of a layer, or classes (names or
    indices) when layer is "class". ``field`` names the argument in errors.

    Raises:
        ConfigError, LayerError: no targets, one given twice, a channel or class that the
            network lacks, or a form other than these (digits 0-9 only).
    """
    from ..labels import resolve_class
    from ..taps import layer_info

    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        if layer == "class":
            if model.spec.labels is None:
                raise ConfigError(f"model {model.spec.name} has no class labels")
            targets: list[Target] = [resolve_class(part, model.spec.labels) for part in parts]
        else:
            info = layer_info(model, layer)
            targets = list(range(info.channels)) if str(text).strip() == "all" else [_channel(p, info) for p in parts]
    except InceptionismError as exc:
        exc.field = exc.field or field
        raise
    if not targets:
        raise ConfigError(f"no {'classes' if layer == 'class' else 'channels'} given in {field} {text!r}", field=field)
    twice = next((t for k, t in enumerate(targets) if t in targets[:k]), None)
    if twice is not None:
        raise ConfigError(f"{field} {text!r} names {target_text(twice)} twice; give each once", field=field)
    return targets


def _channel(part: str, info) -> Target:
    """One written channel or combination, checked against the layer ``info``."""
    pairs = channel_combination(part)
    if pairs is None:
        raise ConfigError(f"channel {part!r} is not a whole number (digits 0-9), a combination such as 3+7 or 3-7, "
                          "or 'all'")
    for channel, _ in pairs:
        info.check_channel(channel)
    if len(pairs) > 1:
        return pairs
    channel, sign = pairs[0]
    if sign < 0:  # "-7": a combination of one negated channel is no channel
        raise ConfigError(f"channel {part} is negative; channels count from 0")
    return channel


def _per_target(layer: str, chunk: list[Target], pictures: int) -> Objective:
    """Item k of each copy serves ``chunk[k // pictures]``."""
    if layer == "class":
        return per_item_classes([int(t) for t in chunk], pictures=pictures)  # type: ignore[arg-type]
    if all(isinstance(t, int) for t in chunk):
        return per_item_channels(layer, chunk, pictures=pictures)  # type: ignore[arg-type]
    units = [direction(layer, dict(t)) if not isinstance(t, int) else direction(layer, {t: 1.0}) for t in chunk]
    step = len(chunk) * pictures

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = acts[layer].shape[0]
        owner = [(row % step) // pictures for row in range(batch)]
        every = torch.stack([unit(acts) for unit in units])  # (targets, batch)
        return every[owner, torch.arange(batch, device=every.device)]

    return Objective(fn, frozenset([layer]), f"{layer}:{','.join(str(target_text(t)) for t in chunk)}")


def _objective(model: LoadedModel, layer: str, chunk: list[Target], cfg: FeatureVisConfig) -> Objective:
    unit = _per_target(layer, chunk, cfg.pictures)
    if cfg.pictures == 1:
        return unit
    # a class's pictures differ where the network's dream layers look
    where = layer if layer != "class" else (model.spec.default_layers or auto_layers(model)).split(",")[-1]
    spread = diversity(where, cfg.pictures)

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        value = unit(acts)
        return value + cfg.diversity * value.detach().abs().mean() * spread(acts)

    return Objective(fn, unit.layers | spread.layers, f"{unit.text},diversity:{where}*{cfg.diversity:g}")


def visualize_features(
    model: LoadedModel,
    layer: str,
    targets: list[Target],
    cfg: FeatureVisConfig,
    *,
    batch: int = 8,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
) -> list[Visualization]:
    """Pictures of channels, combinations or classes, ``cfg.pictures`` per target, up to
    ``batch`` pictures per pass."""
    from ..images import to_pil

    results = []
    per_pass = max(1, batch // cfg.pictures)
    gen = torch.Generator().manual_seed(cfg.seed)
    transforms = parse_transforms(cfg.transforms)
    for start in range(0, len(targets), per_pass):
        chunk = targets[start : start + per_pass]
        objective = _objective(model, layer, chunk, cfg)
        picture = picture_for(cfg.param, len(chunk) * cfg.pictures, cfg.size, gen=gen, device=model.device)
        out = render(model, objective, picture, steps=cfg.steps, gen=gen, transforms=transforms, on_step=on_step)
        for k, (image, score) in enumerate(zip(out.images, out.values)):
            target = target_text(chunk[k // cfg.pictures])
            meta = {
                "inceptionism": __version__,
                "model": model.spec.name,
                "weights_sha256": model.weights_sha256,
                "visualize": {"layer": layer, "target": target, **asdict(cfg)},
                "score": float(score),
            }
            if cfg.pictures > 1:
                meta["visualize"]["picture"] = k % cfg.pictures
            pil = to_pil(image[:3], image[3].cpu().numpy() if image.shape[0] == 4 else None)
            pil.info["inceptionism"] = meta
            results.append(Visualization(layer, target, pil, float(score), meta, out.importance[k].cpu()))
    return results
