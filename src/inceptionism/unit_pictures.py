"""One path for every picture of a unit (a term of the objective language: a channel, a channel
combination, a class), by
pixels (the dream's octaves, optionally Laplacian-normalized) or through the feature
visualization render loop (``param`` fft, alpha or maco), from noise or grown out of a photo.

Examples:
    >>> from inceptionism.models import load_model
    >>> from inceptionism.command_config import VisualizeConfig
    >>> from inceptionism.steering import unit_terms
    >>> model = load_model()
    >>> shown = list(visualize_targets(model, unit_terms(model, "blocks.4.1.bn1", "7"), VisualizeConfig(size=64, steps=2)))
    >>> shown[0].image.size
    (64, 64)
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Iterator, Sequence

from PIL import Image

from .api import render
from .config import DEFAULT_DEVICE, DEFAULT_MODEL, DreamConfig, draw_seed
from .engine import Callbacks, StepInfo
from .errors import ConfigError
from .featurevis import FeatureVisConfig, Visualization, check_side, target_text, visualize_features
from .models import LoadedModel, as_loaded, load_model
from .objectives import LayerTerm, kind_of, term_text
from .command_config import VISUALIZE_RECIPE, VisualizeConfig
from .runtime import with_gradients
from .steering import unit_terms

__all__ = ["visualize", "visualize_targets"]

@with_gradients
def visualize_targets(
    model: LoadedModel, terms: list[LayerTerm], cfg: VisualizeConfig, *, callbacks: Callbacks | None = None
) -> Iterator[Visualization]:
    """Grow a picture for each term of the objective language (a channel, a combination, a
    class: see :func:`~inceptionism.steering.unit_terms`); each kind says how its picture grows.

    A missing ``cfg.seed`` is drawn once and recorded in every picture's metadata.
    """
    check_side(model, cfg.size)
    seed = cfg.seed if cfg.seed is not None else draw_seed()
    # what it is of (informational: the command takes LAYER TARGETS again) and how it grew
    recipe = {"model": model.spec.name, **dataclasses.asdict(cfg), "seed": seed,
              "terms": [term_text(t) for t in terms]}
    judge = _judge(cfg.judge, terms, model)  # refused before any picture grows
    for shown in _grown(model, terms, cfg, seed, callbacks):
        # the picture says how to grow it again, with the transforms that ran (auto written out)
        ran = shown.metadata.get("visualize", {}).get("transforms", cfg.transforms)
        said = {VISUALIZE_RECIPE: {**recipe, "transforms": ran}}
        if judge is not None:
            said["judged"] = _verdict(judge, shown)
        shown.metadata.update(said)
        if isinstance(shown.image.info.get("inceptionism"), dict):
            shown.image.info["inceptionism"].update(said)
        yield shown


def _judge(name: str | None, terms: list[LayerTerm], source: LoadedModel) -> LoadedModel | None:
    """The judging network (``judge``), loaded where the source runs; only for pictures of
    kinds a classifier can grade (classes), never the network that made them."""
    from .featurevis import check_judge
    from .objectives import TERM_KINDS

    if name is None:
        return None
    refused = next((t for t in terms if not kind_of(t).judged), None)
    if refused is not None:
        judged = " or ".join(k.syntax for k in TERM_KINDS.values() if k.judged)
        raise ConfigError(f"judge grades pictures of {judged}, not {term_text(refused)}", field="judge")
    judge = load_model(name, device=source.device)
    check_judge(judge, source)
    return judge


def _verdict(judge: LoadedModel, shown: Visualization) -> dict[str, Any]:
    """How ``judge`` classifies a picture of a class: its first guess, the class's probability,
    whether the class is in its top 5."""
    from .featurevis import transferability
    from .images import picture_from_pil, to_tensor
    from .labels import class_names

    x = to_tensor(picture_from_pil(shown.image.convert("RGB")), judge.device)
    verdict = transferability(x, [int(shown.target)], judge)
    return {"network": judge.spec.name, "first": class_names(judge.spec.labels)[verdict.guess[0]],
            "probability": round(float(verdict.probability[0]), 4), "top5": bool(verdict.top5[0])}


def _grown(model: LoadedModel, terms: list[LayerTerm], cfg: VisualizeConfig, seed: int,
           callbacks: Callbacks | None) -> Iterator[Visualization]:
    if cfg.photo is not None:
        yield from _accentuated(model, terms, cfg, seed, callbacks)
        return
    photo_only = next((t for t in terms if kind_of(t).of_photo), None)
    if photo_only is not None:
        raise ConfigError(f"{term_text(photo_only)} is a picture made of a photo's features: give --photo (with "
                          "--param fft or maco)", field="photo")
    if cfg.param != "pixel":
        yield from _rendered(model, terms, cfg, seed, callbacks)
        return
    refused = next((t for t in terms if kind_of(t).pixel is None), None)
    if cfg.diversity > 1 or refused is not None:
        what = f"{term_text(refused)} ({kind_of(refused).syntax})" if refused is not None else "diversity"
        raise ConfigError(f"{what} needs --param fft, alpha or maco: pixel ascent grows channels and classes",
                          field="param")
    for term in terms:
        dream_cfg = DreamConfig(
            **kind_of(term).pixel(term), model=model.spec.name, device=str(model.device), preset=None,  # type: ignore[misc]
            lapnorm=cfg.lapnorm, octaves=cfg.octaves, steps=cfg.steps_or_default(), step_size=cfg.step_size,
            size=(cfg.size, cfg.size), seed=seed,
        )  # fmt: skip
        result = render("noise", dream_cfg, model=model, callbacks=callbacks)
        yield Visualization(term.layer, target_text(term), result.image, result.score_end, result.metadata, term=term)


def _feature_config(cfg: VisualizeConfig, seed: int) -> FeatureVisConfig:
    return FeatureVisConfig(size=cfg.size, steps=cfg.steps_or_default(), seed=seed, param=cfg.param,
                            transforms=cfg.transforms, pictures=cfg.diversity, grow_from_centre=cfg.grow_from_centre)


def _accentuated(model: LoadedModel, terms: list[LayerTerm], cfg: VisualizeConfig, seed: int,
                 callbacks: Callbacks | None) -> Iterator[Visualization]:
    from .featurevis import accentuate, of_photo
    from .images import load_image, to_tensor

    def accentuated(term: LayerTerm) -> bool:  # a single channel, grown out of the photo
        return kind_of(term).from_photo and term.channel is not None and not term.combination

    refused = next((t for t in terms if not accentuated(t) and not kind_of(t).of_photo), None)
    if refused is not None:
        raise ConfigError(f"photo grows single channels of a layer out of it (feature accentuation), or "
                          f"{' or '.join(_photo_kinds())} of it, not {term_text(refused)}", field="photo")
    fv = _feature_config(cfg, seed)  # VisualizeConfig allows a photo with fft or maco alone
    photo = to_tensor(load_image(cfg.photo, role="photo", max_side=4 * cfg.size), model.device)[0]  # type: ignore[arg-type]
    on_step = _passes_reported(callbacks, len(terms), fv.steps, cfg.size)
    for term in terms:
        if accentuated(term):
            shown = accentuate(model, photo, term.layer, int(term.channel), fv, on_step=on_step)  # type: ignore[arg-type]
        else:
            shown = of_photo(model, photo, term, fv, on_step=on_step)
        shown.term = term
        yield shown


def _photo_kinds() -> list[str]:
    from .objectives import TERM_KINDS

    return [kind.syntax for kind in TERM_KINDS.values() if kind.of_photo]


def _rendered(
    model: LoadedModel, terms: list[LayerTerm], cfg: VisualizeConfig, seed: int, callbacks: Callbacks | None
) -> Iterator[Visualization]:
    fv = _feature_config(cfg, seed)
    batches = -(-len(terms) // max(1, cfg.batch // cfg.diversity))
    on_step = _passes_reported(callbacks, batches, fv.steps, cfg.size)
    yield from visualize_features(model, terms, fv, batch=cfg.batch, on_step=on_step)


def _passes_reported(callbacks: Callbacks | None, passes: int, steps: int, size: int) -> Any:
    """The render loop's ``on_step`` for ``callbacks``: each pass of ``steps`` steps (a batch of
    targets, or one picture grown from a photo) reported as one octave of ``passes``."""
    if callbacks is None or callbacks.on_step is None:
        return None
    report, done = callbacks.on_step, {"pass": 1}

    def on_step(step: int, values: Any) -> None:
        report(StepInfo(done["pass"], passes, 0, step, steps, values.mean(), size, size))
        if step == steps:
            done["pass"] += 1

    return on_step


def visualize(layer: str, target: int | str | Sequence[int | str], *, model: str | LoadedModel = DEFAULT_MODEL,
              device: str = DEFAULT_DEVICE, progress: bool = False,
              **params: Any) -> Image.Image | list[Image.Image]:
    """Grow what one channel (or, with ``layer="class"``, one class) responds to, from noise.

    Plain pixel ascent shows the channel's pattern with lots of high-frequency
    noise; ``lapnorm=True`` normalizes the gradient on a Laplacian pyramid, which
    lets broader structure grow and tames the noise; ``param="fft"`` climbs in the
    Fourier domain with decorrelated colours, ``"alpha"`` adds transparency and ``"maco"``
    keeps natural photos' spectrum. With ``photo``, the channel grows out of that photo
    (feature accentuation). The full set of pieces is :mod:`inceptionism.featurevis`.

    Args:
        layer: module path, e.g. ``"blocks.4.1.bn1"``, or ``"class"``.
        target: what the command line's TARGETS take: a channel number (from 0; numpy's
            integers too), a combination ``"3+7"`` or ``"3-7"``, several ``"3,7"`` or ``[3, 7]``,
            ``"all"``; with ``"class"``, class indices or names.
        model: the network: a name, or a model already loaded, as ``dream`` takes.
        device: where it runs (not used with a loaded model: it runs where it is).
        progress: show a progress bar (a widget in Jupyter, text in a terminal).
        **params: any :class:`~inceptionism.command_config.VisualizeConfig` field: ``param``,
            ``lapnorm``, ``size`` (side in px), ``octaves``, ``steps``, ``step_size``, ``seed``,
            ``transforms``, ``grow_from_centre``, ``photo``.

    Returns:
        The square picture; ``image.info["inceptionism"]`` holds parameters and scores. Several
        targets, or ``diversity`` above 1, give a list of pictures (target by target).

    Raises:
        ConfigError: (field ``target``) a negative channel, a boolean, a target the layer or
            network lacks, or a form the command line does not take either.

    Examples:
        >>> pic = visualize("blocks.4.1.bn1", 7, lapnorm=True, seed=0)
        >>> pic.size
        (224, 224)
    """
    loaded = as_loaded(model, device)
    cfg = VisualizeConfig(**params)
    terms = unit_terms(loaded, layer, _written_targets(target), field="target")
    if not progress:
        pictures = [shown.image for shown in visualize_targets(loaded, terms, cfg)]
    else:
        from .notebook import shown_progress

        with shown_progress("visualize", preview=False) as callbacks:
            pictures = [shown.image for shown in visualize_targets(loaded, terms, cfg, callbacks=callbacks)]
    return pictures[0] if len(pictures) == 1 else pictures


def _written_targets(target: Any) -> str:
    """A Python target (a number, numpy's integers too, text, or a list of them) as the command
    line writes it, for the one parser; booleans and other kinds are refused."""
    items = list(target) if isinstance(target, (list, tuple)) else [target]
    written = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (numbers.Integral, str)):
            raise ConfigError(f"target {item!r} is not a channel number, a class or their written form such as "
                              "'3+7' or '3,7'", field="target")
        written.append(str(int(item)) if isinstance(item, numbers.Integral) else item)
    if not written:
        raise ConfigError("target is an empty list; give a channel or class", field="target")
    return ",".join(written)
