"""One path for every picture grown from noise: channels or classes, by pixels (with
octaves, optionally Laplacian-normalized) or in the Fourier domain (``param="fft"``).

Example:
    >>> from inceptionism.models import load_model
    >>> from inceptionism.options import VisualizeConfig
    >>> shown = list(visualize_targets(load_model(), "blocks.4.1.bn1", [7], VisualizeConfig(size=64, steps=2)))
    >>> shown[0].image.size
    (64, 64)
"""

from __future__ import annotations

from typing import Any, Iterator

from PIL import Image

from .api import render
from .config import DEFAULT_DEVICE, DEFAULT_MODEL, DreamConfig, draw_seed
from .device import resolve_device
from .engine import Callbacks, StepInfo
from .errors import ConfigError
from .featurevis import FeatureVisConfig, Visualization, visualize_features
from .models import LoadedModel, load_model
from .options import VisualizeConfig

__all__ = ["visualize", "visualize_targets"]

# Pixel ascent per kind of target: one channel is climbed on its plain mean, with the
# gradient scaled by its std and no smoothing; a class logit uses the dream's defaults.
_PIXEL_ASCENT: dict[str, dict[str, Any]] = {
    "channel": {"objective": "mean", "grad_norm": "std", "smooth": 0.0, "jitter": 16},
    "class": {},
}


def visualize_targets(
    model: LoadedModel, layer: str, targets: list[int], cfg: VisualizeConfig, *, callbacks: Callbacks | None = None
) -> Iterator[Visualization]:
    """Grow a picture for each target: a channel of ``layer``, or a class when ``layer`` is "class".

    A missing ``cfg.seed`` is drawn once and recorded in every picture's metadata.
    """
    if cfg.lapnorm and cfg.param != "pixel":
        raise ConfigError("lapnorm works with param pixel only", field="lapnorm")
    seed = cfg.seed if cfg.seed is not None else draw_seed()
    if cfg.param == "fft":
        yield from _fourier(model, layer, targets, cfg, seed, callbacks)
        return
    kind = "class" if layer == "class" else "channel"
    for target in targets:
        objective = {"target_class": str(target)} if kind == "class" else {"layers": f"{layer}:{target}"}
        dream_cfg = DreamConfig(
            **_PIXEL_ASCENT[kind], **objective, model=model.spec.name, device=str(model.device), preset=None,
            lapnorm=cfg.lapnorm, octaves=cfg.octaves, steps=cfg.steps_or_default(), step_size=cfg.step_size,
            size=(cfg.size, cfg.size), seed=seed,
        )  # fmt: skip
        result = render("noise", dream_cfg, model=model, callbacks=callbacks)
        yield Visualization(layer, target, result.image, result.score_end, result.metadata)


def _fourier(
    model: LoadedModel, layer: str, targets: list[int], cfg: VisualizeConfig, seed: int, callbacks: Callbacks | None
) -> Iterator[Visualization]:
    fv = FeatureVisConfig(size=cfg.size, steps=cfg.steps_or_default(), seed=seed)
    batches = -(-len(targets) // cfg.batch)
    done = {"batch": 1}

    def on_step(step: int, values: Any) -> None:
        if callbacks is not None and callbacks.on_step is not None:
            callbacks.on_step(StepInfo(done["batch"], batches, 0, step, fv.steps, values.mean(), cfg.size, cfg.size))
        if step == fv.steps:
            done["batch"] += 1

    yield from visualize_features(model, layer, targets, fv, batch=cfg.batch, on_step=on_step)


def visualize(layer: str, target: int, *, model: str | LoadedModel = DEFAULT_MODEL, device: str = DEFAULT_DEVICE,
              **params: Any) -> Image.Image:
    """Grow what one channel (or, with ``layer="class"``, one class) responds to, from noise.

    Plain pixel ascent shows the channel's pattern with lots of high-frequency
    noise; ``lapnorm=True`` normalizes the gradient on a Laplacian pyramid, which
    lets broader structure grow and tames the noise; ``param="fft"`` climbs in the
    Fourier domain with decorrelated colours.

    Args:
        layer: module path, e.g. ``"blocks.4.1.bn1"``, or ``"class"``.
        target: channel number (from 0) or class index.
        model, device: the network (a name, or a model already loaded, as ``dream`` takes) and
            where it runs (``device`` is not used with a loaded model: it runs where it is).
        **params: any :class:`~inceptionism.options.VisualizeConfig` field: ``param``,
            ``lapnorm``, ``size`` (side in px), ``octaves``, ``steps``, ``step_size``, ``seed``.

    Returns:
        The square picture; ``image.info["inceptionism"]`` holds parameters and scores.

    Example:
        >>> pic = visualize("blocks.4.1.bn1", 7, lapnorm=True, seed=0)
        >>> pic.size
        (224, 224)
    """
    if isinstance(model, LoadedModel):
        loaded = model
    elif isinstance(model, str):
        loaded = load_model(model, device=resolve_device(device))
    else:
        raise ConfigError(f"model must be a model name or a loaded model, not {type(model).__name__}", field="model")
    return next(iter(visualize_targets(loaded, layer, [target], VisualizeConfig(**params)))).image
