"""Building a dream's objective from its config: layers, neurons, classes, guides, masks."""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from functools import partial
from typing import Any, Iterator

import numpy as np
import torch

from . import objectives
from .config import SteeringConfig
from .values import parse_channel_mode
from .engine.filters import resize
from .errors import ConfigError, ImageError, InceptionismError, LayerError
from .images import fit_longest_side, load_image, to_tensor
from .labels import resolve_class, resolve_classes
from .models.loaded import LoadedModel
from .taps import capture, layer_info, list_layers, probe_means

__all__ = ["build_objective", "check_term", "unit_terms", "resolve_layer_indices", "choose_channels", "check_objective", "check_mask", "check_guide_size", "guide_features", "load_mask"]

GUIDE_MAX_SIDE = 512  # guides are shrunk to this: their features, not their pixels, matter


def _class_resolver(model: LoadedModel):
    if model.spec.labels is None:
        raise ConfigError(f"model {model.spec.name} has no class labels; class objectives need a classifier")
    return partial(resolve_class, labels=model.spec.labels)


def _context(model: LoadedModel, **fields: Any) -> objectives.TermContext:
    """What a term of any kind is built with; class names resolve only when a term asks."""
    return objectives.TermContext(classes=lambda name: _class_resolver(model)(name), **fields)


def check_term(model: LoadedModel, term: objectives.LayerTerm, size: tuple[int, int] | None = None, *,
               door: str = "dreams") -> tuple[int, int] | None:
    """Validate a term against ``model``; return the layer's (h, w) at ``size`` for neuron terms
    (``size`` None: the picture is not known yet, positions are checked later). ``door``:
    "dreams" refuses the kinds that only feature visualization can use."""
    kind = objectives.kind_of(term)
    if door == "dreams" and not kind.in_dreams:
        raise ConfigError(f"{kind.syntax} is for feature visualization (visualize), not dreams")
    if not kind.reads_layer:
        objectives.term_objective(term, _context(model))  # a class name or index is checked here
        return None
    if kind.check is not None:  # its own checks first (a file learned on another network says so), then the layer
        kind.check(term, objectives.LayerFacts(model.spec.name, model.weights_sha256,
                                               lambda: layer_info(model, term.layer, model.spec.probe_size).channels,
                                               lambda: probe_means(model, term.layer)))
    positioned = term.position is not None and size is not None
    # the layer and its channels are the same at any size; a neuron's position needs the 224 px sizes
    info = layer_info(model, term.layer, 224 if positioned else model.spec.probe_size)
    if kind.check is None:  # else its channel is no channel of the layer (a concept's index)
        for index in [*([term.channel] if term.channel is not None else []), *(i for i, _ in term.combination)]:
            info.check_channel(index)
    if door == "dreams":  # what its kind checks as it builds (a custom kind's own checks)
        objectives.term_objective(term, _context(model))
    if not positioned:
        return None
    # Layer size at this image size, from its stride at the 224 px probe (SAME padding: ceil).
    ref = (math.ceil(size[0] * info.height / 224), math.ceil(size[1] * info.width / 224))
    y, x = term.position
    if y >= ref[0] or x >= ref[1]:
        raise LayerError(
            f"neuron position {y},{x} is outside layer {term.layer!r}, which is {ref[0]}x{ref[1]} (rows x columns) "
            f"for a {size[1]}x{size[0]} image: y 0 to {ref[0] - 1}, x 0 to {ref[1] - 1}"
        )
    return ref


def unit_terms(model: LoadedModel, layer: str, text: str, *, field: str = "targets") -> list[objectives.LayerTerm]:
    """What ``visualize LAYER TARGETS`` names, as terms of the one objective language: ``LAYER:T``
    for each comma-separated target T (a channel, channels joined by + or -, or, with a kind's
    name such as ``class`` as LAYER, what that kind takes), or every channel for ``all``;
    checked against ``model``, names resolved, one picture a term. ``field`` names the argument
    in errors.

    Raises:
        ConfigError, LayerError: no targets, one given twice, one the network lacks, one of a
            kind that has no pictures, or a form the language does not take.
    """
    if "," in layer or not layer.strip():
        raise ConfigError(f"layer {layer!r} is not one layer (or kind such as class); give one, and its targets "
                          "after it", field="layer")
    info = None
    if layer not in objectives.TERM_KINDS:  # a layer, then: one the network has
        try:
            info = layer_info(model, layer, model.spec.probe_size)
        except InceptionismError as exc:
            exc.field = exc.field or "layer"
            raise
    try:
        every = str(text).strip() == "all"
        if every:
            if info is None:
                raise ConfigError(f"all names every channel of a layer; {objectives.TERM_KINDS[layer].syntax} takes "
                                  "its targets one by one", field=field)
            written = [f"{layer}:{index}" for index in range(info.channels)]  # each one by construction
        else:  # a neuron's @Y,X keeps its comma: the grammar's own split
            written = [f"{layer}:{part.strip()}" for part in objectives.split_terms(str(text)) if part.strip()]
        terms = []
        for item in written:
            found = objectives.parse_terms(item)
            if len(found) != 1:
                raise ConfigError(f"{item!r} is more than one term; give one LAYER and its targets", field=field)
            term = found[0]
            kind = objectives.kind_of(term)
            if term.weight != 1.0:
                raise ConfigError(f"target {item.split(':', 1)[1]!r} has a weight; a picture is of one target, "
                                  "unweighted", field=field)
            if kind.unit is None and not kind.of_photo:
                raise ConfigError(f"{kind.syntax} terms have no pictures of their own: {kind.help}; give "
                                  "channels, combinations such as 3+7, or classes", field=field)
            if not every:  # every channel of a layer is one by construction
                check_term(model, term, door="visualize")
            term = kind.resolve(term, _context(model)) if kind.resolve is not None else term
            if kind.unit is not None:
                kind.unit(term)  # a whole layer or a neuron is refused here
            terms.append(term)
    except InceptionismError as exc:
        exc.field = exc.field or field
        raise
    if not terms:
        raise ConfigError(f"no targets given in {field} {text!r}", field=field)
    seen = [objectives.term_text(t) for t in terms]
    twice = next((t for k, t in enumerate(seen) if t in seen[:k]), None)
    if twice is not None:
        raise ConfigError(f"{field} {text!r} names {twice.split(':', 1)[1]} twice; give each once", field=field)
    return terms


_INDEXED = re.compile(r"^(?P<lo>[0-9]+)(?:-(?P<hi>[0-9]+))?(?P<rest>[:*@].*)?$")


def resolve_layer_indices(model: LoadedModel, text: str) -> str:
    """``text`` with layer indices and inclusive ranges (``12``, ``40-44``, as numbered by
    ``inceptionism layers``) replaced by the layers' names; the rest of each term
    (``:CHANNEL``, ``*WEIGHT``) applies to every layer of a range.

    Examples:
        >>> resolve_layer_indices(load_model(), "3-4*0.5,blocks.5.0.bn1")  # doctest: +SKIP
        'blocks.0.0.bn1*0.5,blocks.0.0.aa*0.5,blocks.5.0.bn1'
    """
    names = [info.name for info in list_layers(model, model.spec.probe_size)]  # the same at any size
    parts = []
    for raw in objectives.split_terms(text):
        match = _INDEXED.match(raw.strip())
        if match is None:
            parts.append(raw.strip())
            continue
        lo, hi = int(match["lo"]), int(match["hi"] or match["lo"])
        if lo > hi:
            raise LayerError(f"layer range {raw.strip()!r} is empty: write the lower number first, e.g. {hi}-{lo}",
                             field="layers")
        if hi >= len(names):
            raise LayerError(
                f"layer range {raw.strip()!r} is not within 0 to {len(names) - 1}, the layers of {model.spec.name} "
                "(see 'inceptionism layers' for their numbers)", field="layers",
            )  # fmt: skip
        parts.extend(f"{names[i]}{match['rest'] or ''}" for i in range(lo, hi + 1))
    return ",".join(parts)


@contextmanager
def _about(field: str) -> Iterator[None]:
    """Errors raised inside name ``field`` as the parameter at fault (unless they already name one)."""
    try:
        yield
    except InceptionismError as exc:
        exc.field = exc.field or field
        raise


def check_objective(
    model: LoadedModel, cfg: SteeringConfig, size: tuple[int, int] | None
) -> dict[int, tuple[int, int] | None]:
    """Check every part of the objective against the network without reading any file.

    Returns, per term of ``layers`` (by position), its layer's (h, w) at ``size`` for neuron terms.

    Raises:
        ConfigError, LayerError: with ``.field`` naming layers, guide, target_class or avoid_class.
    """
    refs: dict[int, tuple[int, int] | None] = {}
    with _about("layers"):
        terms = objectives.parse_terms(cfg.layers) if cfg.layers else []
        for index, term in enumerate(terms):
            refs[index] = check_term(model, term, size)
    if cfg.guide and not any(t.whole for t in terms):
        raise ConfigError("guide needs at least one whole layer in layers (LAYER without :CHANNEL) to match at",
                          field="guide")
    if cfg.channels is not None and not any(t.whole for t in terms):
        raise ConfigError(f"channels {cfg.channels} picks channels of whole layers, and layers names none "
                          "(give LAYER without :CHANNEL)", field="channels")
    if cfg.channels is not None:  # each whole layer becomes up to K channel terms
        count = sum(parse_channel_mode(cfg.channels)[1] if t.whole else 1 for t in terms)
        if count > objectives.MAX_TERMS:
            raise ConfigError(f"channels {cfg.channels} would give the objective {count} terms; at most "
                              f"{objectives.MAX_TERMS}", field="channels")
    with _about("target_class"):
        if cfg.target_class is not None:
            _class_resolver(model)(cfg.target_class)
    with _about("avoid_class"):
        if cfg.avoid_class is not None:
            _class_resolver(model)
            resolve_classes(cfg.avoid_class, model.spec.labels or "")
    if not terms and cfg.target_class is None and cfg.avoid_class is None:
        raise ConfigError("nothing to dream: give layers, a class or a guide", field="layers")
    return refs


def build_objective(model: LoadedModel, cfg: SteeringConfig, size: tuple[int, int]) -> objectives.Objective:
    """The summed objective a config asks for, checked against the model (guide images are read).

    Args:
        size: (H, W) of the image to dream on (for neuron positions).
    """
    refs = check_objective(model, cfg, size)
    parts: list[objectives.Objective] = []
    if cfg.layers:
        terms = objectives.parse_terms(cfg.layers)
        features = guide_features(model, cfg.guide, [t.layer for t in terms if t.whole]) if cfg.guide else {}
        positions = iter(range(len(terms)))

        def make(term: objectives.LayerTerm) -> objectives.Objective:
            ref = refs.get(next(positions))
            if term.whole and term.layer in features:
                return objectives.guide(term.layer, features[term.layer]) * cfg.guide_weight
            return objectives.term_objective(term, _context(model, kind=cfg.objective, reference=ref))

        parts.append(objectives.parse(cfg.layers, make=make))
    if cfg.target_class is not None:
        parts.append(objectives.class_logit(_class_resolver(model)(cfg.target_class)))
    if cfg.avoid_class is not None:
        indices = resolve_classes(cfg.avoid_class, model.spec.labels or "")
        parts.append(objectives.avoid_classes(indices) * -cfg.avoid_weight)
    return objectives.total(parts)


@torch.no_grad()
def choose_channels(model: LoadedModel, cfg: SteeringConfig, x: torch.Tensor) -> str:
    """``cfg.layers`` with each whole layer replaced by the channels ``cfg.channels`` picks on
    the picture ``x`` (1, 3, H, W): the K it activates most (strong), least (weak), or
    closest to the median (avg). Each chosen channel keeps its layer's weight."""
    mode, count = parse_channel_mode(cfg.channels or "")
    terms = objectives.parse_terms(cfg.layers or "")
    whole = sorted({t.layer for t in terms if t.whole})
    with capture(model, whole) as run:
        acts = run(x)
    parts = []
    for term, text in zip(terms, objectives.split_terms(cfg.layers or "")):
        if not term.whole:
            parts.append(text)
            continue
        means = acts[term.layer][0].float().mean((1, 2))
        if mode == "avg":
            order = (means - means.median()).abs().argsort()
        else:
            order = means.argsort(descending=mode == "strong")
        weight = "" if term.weight == 1.0 else f"*{term.weight:g}"
        parts.extend(f"{term.layer}:{int(c)}{weight}" for c in sorted(order[: min(count, len(order))].tolist()))
    return ",".join(parts)


@torch.no_grad()
def guide_features(model: LoadedModel, paths: tuple[str, ...], layers: list[str]) -> dict[str, torch.Tensor]:
    """Each layer's activations for all guide images, as (C, M) feature vectors."""
    collected: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    for path in paths:
        x = to_tensor(load_image(path, role="guide"), model.device)
        height, width = x.shape[-2:]
        check_guide_size(repr(path), width, height, model.spec.min_size)
        x = resize(x, fit_longest_side(width, height, GUIDE_MAX_SIDE)[::-1])
        with capture(model, layers) as run:
            acts = run(x)
        for name in layers:
            collected[name].append(acts[name][0].flatten(1))
    return {name: torch.cat(parts, dim=1) for name, parts in collected.items()}


def load_mask(path: str, width: int, height: int, device: torch.device) -> torch.Tensor:
    """A greyscale mask as (1, 1, H, W) in [0, 1], resized to the image.

    Raises:
        ImageError: not an image, a colour image, or a different aspect ratio.
    """
    picture = load_image(path, role="mask")
    check_mask(picture.rgb, picture.size, repr(path), width, height)
    grey = torch.from_numpy(np.ascontiguousarray(picture.rgb[..., 0]))[None, None].to(device)
    return resize(grey, (height, width)).clamp(0, 1)


def check_mask(rgb: np.ndarray, size: tuple[int, int], name: str, width: int, height: int) -> None:
    """Refuse a mask (its pixels (H, W, 3) in [0, 1], its file's (width, height)) that has
    colours or another shape than the ``width`` x ``height`` picture it masks."""
    if np.abs(rgb[..., 0] - rgb[..., 1]).max() > 1 / 255 or np.abs(rgb[..., 0] - rgb[..., 2]).max() > 1 / 255:
        raise ImageError(f"mask {name} has colours; it must be greyscale (white = dream, black = keep)", field="mask")
    mask_w, mask_h = size
    if abs(mask_w / mask_h - width / height) > 0.02 * (width / height):
        raise ImageError(
            f"mask {name} is {mask_w}x{mask_h} but the image is {width}x{height}; the aspect ratios must match "
            "(a mask of another size with the same shape is resized)", field="mask",
        )  # fmt: skip


def check_guide_size(name: str, width: int, height: int, min_size: int) -> None:
    """Refuse a guide that, shrunk to at most GUIDE_MAX_SIDE, is smaller than the network's minimum."""
    if min(fit_longest_side(width, height, GUIDE_MAX_SIDE)) < min_size:
        raise ImageError(f"guide {name} is {width}x{height}; it must be at least {min_size} px on each side", field="guide")
