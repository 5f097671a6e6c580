"""The library's front door: ``dream`` and ``visualize`` on images, paths or noise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from PIL import Image

from .config import NOISE_SIZE, DreamConfig, draw_seed, layered
from .device import resolve_device
from .engine import Callbacks, DreamResult, OctaveInfo, StepInfo, auto_tile_size, plan_octaves, resize, run_dream
from .engine.filters import keep_colors
from .errors import ConfigError, ImageError
from . import images
from .images import Picture, fit_longest_side, load_image, picture_from_pil, to_pil, to_tensor
from .models import LoadedModel, load_model, spec_for
from .paths import __version__
from .precision import resolve_precision
from .runtime import cpu_threads, with_gradients
from .steering import build_objective, check_objective, choose_channels, load_mask, resolve_layer_indices
from .taps import auto_layers

__all__ = [
    "Dream",
    "render",
    "dream",
    "check_config",
    "top_classes",
    "resolve_config",
    "resolve_machine_choices",
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
    prepared: Image.Image | None = None  # the input as dreamed on: EXIF-rotated, shrunk to max_size, or the noise

    def _repr_png_(self) -> bytes:
        """The picture, for notebooks that show PNGs."""
        from .images import encode_image

        return encode_image(self.image, ".png", quick=True)

    def _repr_html_(self) -> str:
        """Before and after side by side, and the recipe: what a notebook cell shows."""
        from .notebook import dream_html

        return dream_html(self)


def resolve_config(config: DreamConfig | None = None, *, draw: bool = True, command: Mapping[str, Any] | None = None,
                   loaded: LoadedModel | None = None, **params: Any) -> DreamConfig:
    """``params`` layered over ``config`` (see :func:`inceptionism.config.layered`), then
    completed: ``layers`` from the model's spec for the preset, and a drawn ``seed`` when
    none is given, so the result records everything needed to make it again.

    ``draw=False`` leaves a missing seed to the caller (a video takes the one it kept
    with its finished frames, so a re-run resumes). ``command``: a command's own defaults
    under ``params`` (the zoom's lighter touch). ``loaded``: the network the dream will run on,
    whose layers are the ones to resolve unless ``params`` names another network.
    """
    if loaded is not None and "model" not in params and (config is None or config.model != loaded.spec.name):
        params["model"] = loaded.spec.name  # layers must be resolved for the network actually used
    if config is None or params:
        config = layered(explicit=params, base=config, command=command)
    spec = spec_for(config.model, config.weights)  # trained weights name the network they were trained from
    changes: dict[str, Any] = {} if spec.name == config.model else {"model": spec.name}
    if _needs_layers(config) and spec.layers_for(config.preset):
        changes["layers"] = spec.layers_for(config.preset)
    if config.seed is None and draw:
        changes["seed"] = draw_seed()
    return config.replace(**changes) if changes else config


def resolve_machine_choices(cfg: DreamConfig, model: LoadedModel | None = None) -> DreamConfig:
    """``cfg`` with every choice that depends on the machine made, once, by the driver of a run:
    ``precision="auto"`` becomes the precision the rule (:mod:`inceptionism.precision`) gives
    for the network on its device: ``model``'s, or (without one) ``cfg``'s network on the
    device ``cfg`` names, as resolved here, without loading the network. A batch, video or
    zoom driver and the studio call this before handing the configuration to their workers,
    local or on a cluster, so every item of a run uses the same arithmetic whatever machine
    dreams it, and the outputs record it.

    Examples:
        >>> DreamConfig().precision, resolve_machine_choices(DreamConfig()).precision  # Lite0: fp32 everywhere
        ('auto', 'fp32')
    """
    if cfg.precision != "auto":
        return cfg
    if model is not None:
        device, spec = model.device, model.spec
    else:
        device, spec = resolve_device(cfg.device), spec_for(cfg.model, cfg.weights)
    return cfg.replace(precision=resolve_precision(cfg.precision, device, spec))


def _needs_layers(cfg: DreamConfig) -> bool:
    """No layers given, and the dream is not on a class alone (which dreams on the class only)."""
    return cfg.layers is None and (cfg.target_class is None or bool(cfg.guide))


def check_config(cfg: DreamConfig, model: LoadedModel, width: int | None = None, height: int | None = None) -> DreamConfig:
    """The checks that need the chosen network, made before any work: layer names,
    channels, neuron positions and classes, the tile size and the picture's size
    against the network's minimum. Every front door calls this (``render`` does; the
    service at submit time; batch, video and zoom once before their first item). Files
    (guides, mask) are not read here. Without ``width`` and ``height`` the checks that
    need the picture's size (octave plan, neuron positions) wait for it.

    Returns ``cfg`` with ``layers`` filled in for a network without tuned layers.

    Raises:
        ConfigError, LayerError, ImageError: with ``.field`` naming the parameter at fault.
    """
    if _needs_layers(cfg):
        cfg = cfg.replace(layers=auto_layers(model))
    if cfg.layers:  # indices and ranges become names, which the output records
        with_names = resolve_layer_indices(model, cfg.layers)
        cfg = cfg.replace(layers=with_names) if with_names != cfg.layers else cfg
    minimum = model.spec.min_size
    if cfg.tile_size is not None and cfg.tile_size < minimum:
        raise ConfigError(
            f"tile_size {cfg.tile_size} is below {model.spec.name}'s minimum input size of {minimum}", field="tile_size"
        )
    plan = plan_octaves(height, width, cfg.octave_indices(), cfg.octave_scale, minimum)[0] if width and height else None
    top = max(plan, key=lambda o: o.height * o.width) if plan else None
    if top is not None and top.height * top.width > images.MAX_PIXELS:
        size = f"{top.width}x{top.height} px" if max(top.width, top.height) < 10**7 else "over 10 million px a side"
        raise ConfigError(
            f"octave {top.k} at octave_scale {cfg.octave_scale:g} would dream this {width}x{height} picture at "
            f"{size}; at most {images.MAX_PIXELS / 1e6:g} megapixels (lower the top of "
            "octave_range or octave_scale; INCEPTIONISM_MAX_PIXELS raises the limit)",
            field="octave_range" if cfg.octave_range is not None else "octave_scale",
        )
    if width and height and not plan:
        raise ImageError(
            f"image {width}x{height} is too small for {model.spec.name}: every octave is below its minimum "
            f"input size of {minimum} px",
            field="octave_range" if cfg.octave_range is not None else ("max_size" if cfg.max_size else None),
        )  # fmt: skip
    check_objective(model, cfg, (height, width) if width and height else None)
    return cfg


@torch.no_grad()
def top_classes(model: LoadedModel, image: ImageInput, k: int = 5, *, crop: bool = True) -> list[tuple[int, str, float]]:
    """The network's ``k`` most likely classes for ``image``: (index, name, probability).

    With ``crop`` the picture is seen as the network was trained to see it: its shorter
    side scaled to the network's input size over ``models.spec.CROP``, then the centre
    square of that size. Without, it is seen whole at its own size, as a dream was made.

    Raises:
        ConfigError: the network has no class labels (it is not a classifier).
    """
    if model.spec.labels is None:
        raise ConfigError(f"model {model.spec.name} has no class labels; classifying needs a classifier", field="model")
    from .labels import class_names

    from torchvision.transforms.v2 import functional as tv

    from .models.spec import CROP

    picture, _ = as_picture(image, DreamConfig(seed=0))
    x, size = to_tensor(picture, model.device), model.spec.input_size
    if crop:  # the centre square first: scaling a 1x100000 strip's short side to 256 px would ask for 100 GB
        x = tv.center_crop(x, [min(x.shape[-2:])] * 2)
        x = tv.center_crop(tv.resize(x, round(size / CROP), antialias=True), size).clamp(0, 1)
    probabilities = model(x).float().softmax(-1)[0]
    names = class_names(model.spec.labels)
    values, indices = probabilities.topk(min(k, probabilities.numel()))
    return [(int(i), names[int(i)], float(v)) for v, i in zip(values, indices)]


def load_model_for(cfg: DreamConfig) -> LoadedModel:
    """The network ``cfg`` names, with its weights, on its device (cached per process)."""
    return load_model(cfg.model, device=resolve_device(cfg.device), weights=cfg.weights)


def noise_picture(width: int, height: int, seed: int) -> Picture:
    """Grey with a little uniform noise: the classic starting point of a dream from nothing."""
    gen = torch.Generator().manual_seed(seed ^ 0x5EED)
    rgb = 0.4 + 0.02 * torch.rand(height, width, 3, generator=gen)
    return Picture(rgb.numpy())


def as_picture(image: ImageInput, cfg: DreamConfig) -> tuple[Picture, str]:
    """Any image input (a path, ``"noise"`` at ``cfg.size``, a PIL image, an array, a
    :class:`Picture`) as a :class:`Picture`, with the name the metadata gives its source."""
    if isinstance(image, str) and image == "noise":
        width, height = cfg.size or NOISE_SIZE
        return noise_picture(width, height, cfg.seed or 0), "noise"
    if isinstance(image, (str, Path)):
        return load_image(image), Path(image).name
    if isinstance(image, Image.Image):
        return picture_from_pil(image), "image"
    if isinstance(image, Picture):
        return image, "image"
    if isinstance(image, np.ma.MaskedArray):
        if np.ma.getmaskarray(image).any():
            raise ConfigError("array image has masked values; fill them first, e.g. array.filled(0)")
        image = np.ma.getdata(image)
    if isinstance(image, np.ndarray):
        array = _array_values(np.asarray(image))  # np.matrix and other subclasses as plain arrays
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise ConfigError(f"array image must be (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}")
        alpha = array[:, :, 3] if array.shape[2] == 4 else None
        return Picture(np.ascontiguousarray(array[:, :, :3].clip(0, 1)), alpha), "array"
    raise ConfigError(f"image must be a path, 'noise', a PIL image or an array, not {type(image).__name__}")


_ARRAY_SLACK = 1e-3  # floats a little outside 0..1 (rounding in the caller's own processing) are clipped


def _array_values(image: np.ndarray) -> np.ndarray:
    """An array image's values as float32 in 0..1: uint8 over 255, uint16 over 65535, bool as
    0 and 1, floats as they are. Other kinds, and floats that are not finite or lie outside
    0..1 (a 0..255 float array, say, which would otherwise come out white), are refused."""
    if image.dtype == np.uint8 or image.dtype == np.uint16:
        return image.astype(np.float32) / float(np.iinfo(image.dtype).max)
    if image.dtype == np.bool_:
        return image.astype(np.float32)
    if not np.issubdtype(image.dtype, np.floating):
        raise ConfigError(f"array image of dtype {image.dtype} is not allowed: use uint8 (0..255), uint16 "
                          "(0..65535) or floats in 0..1, e.g. array.astype(np.uint8)")
    array = image.astype(np.float32)
    if array.size:
        if not np.isfinite(array).all():
            raise ConfigError("array image has values that are not finite (NaN or infinity); floats must lie in 0..1")
        low, high = float(array.min()), float(array.max())
        if low < -_ARRAY_SLACK or high > 1 + _ARRAY_SLACK:
            hint = "; divide a 0..255 array by 255" if high <= 255 and low >= 0 else ""
            raise ConfigError(f"array image has float values from {low:g} to {high:g}; floats must lie in 0..1{hint}")
    return array


def fit_max_size(x: torch.Tensor, max_size: int | None) -> torch.Tensor:
    height, width = x.shape[-2:]
    fitted = fit_longest_side(width, height, max_size)
    return x if fitted == (width, height) else resize(x, fitted[::-1])


@with_gradients
def render(
    image: ImageInput,
    config: DreamConfig | None = None,
    *,
    model: LoadedModel | None = None,
    callbacks: Callbacks | None = None,
    source: str | None = None,
    score: bool = True,
    progress: bool = False,
    **params: Any,
) -> Dream:
    """Dream on ``image`` and return the picture with everything about how it was made.

    See :func:`dream` for the arguments; ``source`` names the input in the metadata.
    ``score=False`` skips reading the objective on the input and the result (two network
    passes; the scores are then NaN). In a notebook the returned :class:`Dream` shows
    itself: before and after, and the recipe.
    """
    if progress:
        from .notebook import shown_progress

        with shown_progress("dream", callbacks) as shown:
            return render(image, config, model=model, callbacks=shown, source=source, score=score, **params)
    cfg = resolve_config(config, loaded=model, **params)
    if model is None:
        model = load_model_for(cfg)
    elif model.spec.name != cfg.model:
        cfg = cfg.replace(model=model.spec.name)
    picture, default_source = as_picture(image, cfg)
    source = source or default_source
    x = fit_max_size(to_tensor(picture, model.device), cfg.max_size)
    height, width = x.shape[-2:]
    cfg = check_config(cfg, model, width, height)
    chosen_by = cfg.channels
    if chosen_by is not None:  # channels chosen by the picture, recorded in layers (so --config repeats them)
        cfg = cfg.replace(layers=choose_channels(model, cfg, x), channels=None)
    objective = build_objective(model, cfg, (height, width))
    mask = load_mask(cfg.mask, width, height, model.device) if cfg.mask else None
    tile = cfg.tile_size or auto_tile_size(model, objective.layers, height, width)
    cfg = resolve_machine_choices(cfg, model)  # recorded; a driver has made it already
    with cpu_threads(cfg.threads) as threads:  # recorded: the same seed needs the same count
        result: DreamResult = run_dream(model, x, objective, cfg.ascent, tile_size=tile, callbacks=callbacks, mask=mask,
                                           score=score)
    if cfg.keep_colors:
        result.image = keep_colors(result.image, x)
    used = cfg.replace(tile_size=tile, threads=threads)
    metadata = {
        "inceptionism": __version__,
        "model": model.spec.name,
        "weights_sha256": model.weights_sha256,
        "device": str(model.device),
        "input": {"name": source, "width": picture.size[0], "height": picture.size[1]},
        "score_start": result.score_start,
        "score_end": result.score_end,
        "config": used.to_dict(),
        **({"channels_chosen_by": chosen_by} if chosen_by else {}),
    }
    out = to_pil(result.image, picture.alpha)
    out.info["inceptionism"] = metadata
    return Dream(out, used, result.score_start, result.score_end, metadata, to_pil(x, picture.alpha))


def dream(
    image: ImageInput,
    config: DreamConfig | None = None,
    *,
    model: LoadedModel | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    on_octave: Callable[[OctaveInfo], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    progress: bool = False,
    **params: Any,
) -> Image.Image:
    """Dream on an image: amplify what the network sees in it.

    Args:
        image: a path, a PIL image, an (H, W[, 3|4]) array (uint8, uint16 or floats in 0..1),
            or the word ``"noise"`` for a dream from random noise (size from ``size``).
        config: a :class:`DreamConfig`; ``params`` override its fields.
        model: an already loaded model to reuse (otherwise ``config.model`` is loaded).
        on_step: called after every step with a :class:`~inceptionism.engine.StepInfo`.
        on_octave: called after every octave with an :class:`~inceptionism.engine.OctaveInfo`.
        on_notice: called with a one-line notice (a changed setting, a fallback).
        progress: show a progress bar (a widget in Jupyter, text in a terminal) and, in a
            notebook, the picture as it grows, octave by octave. Off by default: library
            calls are quiet.
        **params: any :class:`DreamConfig` field, e.g. ``preset="deep"``, ``steps=8``.

    Returns:
        The dreamed image, the input's size (after ``max_size``), RGBA if the input
        had alpha. ``image.info["inceptionism"]`` holds the parameters and scores.

    Examples:
        >>> out = dream("examples/chelsea.png", preset="subtle", seed=1)
        >>> out.size
        (451, 300)
    """
    callbacks = Callbacks(on_step=on_step, on_octave=on_octave, on_notice=on_notice)
    return render(image, config, model=model, callbacks=callbacks, progress=progress, **params).image
