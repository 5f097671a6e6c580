"""The library's front door: ``dream`` and ``visualize`` on images, paths or noise."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from .config import DreamConfig
from .device import resolve_device
from .engine import Callbacks, DreamResult, OctaveInfo, StepInfo, auto_tile_size, resize, run_dream
from .errors import ConfigError
from .images import Picture, load_image, picture_from_pil, to_pil, to_tensor
from .models import LoadedModel, get_spec, load_model
from .steering import build_objective, load_mask
from .taps import auto_layers

__all__ = [
    "Dream",
    "render",
    "dream",
    "visualize",
    "visualize_channel",
    "resolve_config",
    "load_model_for",
    "noise_picture",
    "fit_max_size",
]

ImageInput = str | Path | Image.Image | np.ndarray | Picture


@dataclass
class Dream:
    """A finished dream: the picture, the fully resolved parameters and the scores."""

    image: Image.Image  # RGB, or RGBA when the input had alpha
    config: DreamConfig  # every value as used (seed, layers and tile size filled in)
    score_start: float  # objective on the input
    score_end: float  # objective on the result
    metadata: dict[str, Any]  # what is embedded in saved files


def resolve_config(config: DreamConfig | None = None, **params: Any) -> DreamConfig:
    """Apply ``params`` over ``config`` (or a preset named in ``params``), then fill in defaults.

    Fills ``layers`` from the model's spec for the preset and draws a ``seed`` when
    none is given, so the result records everything needed to reproduce it.
    """
    if config is None:
        config = DreamConfig.from_params(params)
    elif params:
        if "preset" in params and params["preset"]:
            config = config.with_preset(params.pop("preset"))
        config = DreamConfig.from_dict({**config.to_dict(), **params})
    spec = get_spec(config.model)
    changes: dict[str, Any] = {}
    if _needs_layers(config) and spec.layers_for(config.preset):
        changes["layers"] = spec.layers_for(config.preset)
    if config.seed is None:
        changes["seed"] = secrets.randbelow(2**31)
    return config.replace(**changes) if changes else config


def _needs_layers(cfg: DreamConfig) -> bool:
    """No layers given, and the dream is not on a class alone (which dreams on the class only)."""
    return cfg.layers is None and (cfg.target_class is None or bool(cfg.guide))


def load_model_for(cfg: DreamConfig) -> LoadedModel:
    """The network ``cfg`` names, with its weights, on its device (cached per process)."""
    return load_model(cfg.model, device=resolve_device(cfg.device), weights=cfg.weights)


def noise_picture(width: int, height: int, seed: int) -> Picture:
    """Grey with a little uniform noise: the classic starting point of a dream from nothing."""
    gen = torch.Generator().manual_seed(seed ^ 0x5EED)
    rgb = 0.4 + 0.02 * torch.rand(height, width, 3, generator=gen)
    return Picture(rgb.numpy())


def _as_picture(image: ImageInput, cfg: DreamConfig) -> tuple[Picture, str]:
    if isinstance(image, str) and image == "noise":
        width, height = cfg.size or (512, 512)
        return noise_picture(width, height, cfg.seed or 0), "noise"
    if isinstance(image, (str, Path)):
        return load_image(image), Path(image).name
    if isinstance(image, Image.Image):
        return picture_from_pil(image), "image"
    if isinstance(image, Picture):
        return image, "image"
    if isinstance(image, np.ndarray):
        array = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise ConfigError(f"array image must be (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}")
        alpha = array[:, :, 3] if array.shape[2] == 4 else None
        return Picture(np.ascontiguousarray(array[:, :, :3].clip(0, 1)), alpha), "array"
    raise ConfigError(f"image must be a path, 'noise', a PIL image or an array, not {type(image).__name__}")


def fit_max_size(x: torch.Tensor, max_size: int | None) -> torch.Tensor:
    height, width = x.shape[-2:]
    if max_size is None or max(height, width) <= max_size:
        return x
    ratio = max_size / max(height, width)
    return resize(x, (max(1, round(height * ratio)), max(1, round(width * ratio))))


def render(
    image: ImageInput,
    config: DreamConfig | None = None,
    *,
    model: LoadedModel | None = None,
    callbacks: Callbacks | None = None,
    source: str | None = None,
    **params: Any,
) -> Dream:
    """Dream on ``image`` and return the picture with everything about how it was made.

    See :func:`dream` for the arguments; ``source`` names the input in the metadata.
    """
    if model is not None and "model" not in params and (config is None or config.model != model.spec.name):
        params["model"] = model.spec.name  # layers must be resolved for the network actually used
    cfg = resolve_config(config, **params)
    if model is None:
        model = load_model_for(cfg)
    elif model.spec.name != cfg.model:
        cfg = cfg.replace(model=model.spec.name)
    if _needs_layers(cfg):
        cfg = cfg.replace(layers=auto_layers(model))  # a network without tuned layers
    picture, default_source = _as_picture(image, cfg)
    source = source or default_source
    x = fit_max_size(to_tensor(picture, model.device), cfg.max_size)
    height, width = x.shape[-2:]
    objective = build_objective(model, cfg, (height, width))
    mask = load_mask(cfg.mask, width, height, model.device) if cfg.mask else None
    if cfg.tile_size is not None and cfg.tile_size < model.spec.min_size:
        raise ConfigError(
            f"tile_size {cfg.tile_size} is below {model.spec.name}'s minimum input size of {model.spec.min_size}"
        )
    tile = cfg.tile_size or auto_tile_size(model, objective.layers, height, width)
    result: DreamResult = run_dream(model, x, objective, cfg, tile_size=tile, callbacks=callbacks, mask=mask)
    used = cfg.replace(tile_size=tile)
    metadata = {
        "inceptionism": _version(),
        "model": model.spec.name,
        "weights_sha256": model.weights_sha256,
        "device": str(model.device),
        "input": {"name": source, "width": picture.size[0], "height": picture.size[1]},
        "score_start": result.score_start,
        "score_end": result.score_end,
        "config": used.to_dict(),
    }
    out = to_pil(result.image, picture.alpha)
    out.info["inceptionism"] = metadata
    return Dream(out, used, result.score_start, result.score_end, metadata)


def dream(
    image: ImageInput,
    config: DreamConfig | None = None,
    *,
    model: LoadedModel | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    on_octave: Callable[[OctaveInfo], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    **params: Any,
) -> Image.Image:
    """Dream on an image: amplify what the network sees in it.

    Args:
        image: a path, a PIL image, an (H, W[, 3|4]) array (uint8 or floats in 0..1),
            or the word ``"noise"`` for a dream from random noise (size from ``size``).
        config: a :class:`DreamConfig`; ``params`` override its fields.
        model: an already loaded model to reuse (otherwise ``config.model`` is loaded).
        on_step, on_octave, on_notice: progress callbacks (see :mod:`inceptionism.engine`).
        **params: any :class:`DreamConfig` field, e.g. ``preset="deep"``, ``steps=8``.

    Returns:
        The dreamed image, the input's size (after ``max_size``), RGBA if the input
        had alpha. ``image.info["inceptionism"]`` holds the parameters and scores.

    Example:
        >>> out = dream("examples/chelsea.png", preset="subtle", seed=1)
        >>> out.size
        (451, 300)
    """
    callbacks = Callbacks(on_step=on_step, on_octave=on_octave, on_notice=on_notice)
    return render(image, config, model=model, callbacks=callbacks, **params).image


def visualize_channel(
    layer: str,
    channel: int,
    *,
    model: str = "efficientnet-lite0",
    lapnorm: bool = False,
    size: int = 224,
    octaves: int = 3,
    steps: int = 20,
    step_size: float = 0.01,
    seed: int | None = None,
    device: str = "auto",
    callbacks: Callbacks | None = None,
) -> Dream:
    """Like :func:`visualize`, returning the :class:`Dream` (picture, config and scores)."""
    cfg = DreamConfig(
        model=model,
        layers=f"{layer}:{channel}",
        objective="mean",
        grad_norm="std",
        smooth=0.0,
        lapnorm=lapnorm,
        octaves=octaves,
        steps=steps,
        step_size=step_size,
        jitter=16,
        size=(size, size),
        seed=seed,
        device=device,
        preset=None,
    )
    return render("noise", cfg, callbacks=callbacks)


def visualize(layer: str, channel: int, **kwargs: Any) -> Image.Image:
    """Grow what one channel responds to, from noise.

    Plain pixel ascent shows the channel's pattern with lots of high-frequency
    noise; ``lapnorm=True`` normalizes the gradient on a Laplacian pyramid, which
    lets broader structure grow and tames the noise.

    Args:
        layer: module path, e.g. ``"blocks.4.1.bn1"``.
        channel: channel number, from 0.
        **kwargs: ``model``, ``lapnorm``, ``size`` (side in px), ``octaves``, ``steps``,
            ``step_size``, ``seed``, ``device``, ``callbacks``; see :func:`visualize_channel`.

    Returns:
        The square picture; ``image.info["inceptionism"]`` holds parameters and scores.

    Example:
        >>> pic = visualize("blocks.4.1.bn1", 7, lapnorm=True, seed=0)
        >>> pic.size
        (224, 224)
    """
    return visualize_channel(layer, channel, **kwargs).image


def _version() -> str:
    from . import __version__

    return __version__
