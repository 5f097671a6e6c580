"""Pictures of units: terms of the objective language (channels, channel combinations,
classes, any registered kind with pictures), several per term when asked (diversity),
batched through :func:`~inceptionism.featurevis.render`. Which kind a term is of is asked
of its registration (``objectives.kind_of``), never tested here by name."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable, Iterator

import torch

from ..models.loaded import LoadedModel
from ..objectives import LayerTerm, Objective, diversity, kind_of, term_text
from ..paths import __version__
from ..taps import auto_layers
from .param import picture_for
from .render import check_side, render
from .transforms import chosen, parse_transforms

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["FeatureVisConfig", "Visualization", "visualize_features", "target_text", "check_side",
           "written_transforms"]


@dataclass(frozen=True)
class FeatureVisConfig:
    """Parameters of a batched feature visualization. Size, steps and seed come from the
    caller's declared options (``VisualizeConfig``, ``GalleryConfig``) or its own fixed choice."""

    size: int  # side of the square pictures
    steps: int  # optimizer steps
    seed: int  # recorded in every picture's metadata
    param: str = "fft"  # parameterization: a key of featurevis.PARAMS
    # what the network sees each step (featurevis.transforms' written form); auto: noisy-crops for
    # fft and alpha pictures of classes, crops for every other picture (transforms.chosen)
    transforms: str = "auto"
    pictures: int = 1  # pictures per target; more than one are pushed apart (diversity)
    diversity: float = 4.0  # weight of the diversity term, relative to each target's own score
    # share of the steps the picture grows from its centre (render's grow_from_centre). Off by default:
    # the blind panel read class pictures grown so no better (docs/featurevis.md, "Blind panel")
    grow_from_centre: float = 0.0


@dataclass
class Visualization:
    """One visualized target: a channel (or channel combination) of a layer, or a class."""

    layer: str  # the term's layer (module path), or its kind's name where it reads none
    target: int | str  # channel number or class index; "3+7" for a combination
    image: "Image.Image"
    score: float  # channel mean activation (or class logit) of the final picture
    metadata: dict
    importance: torch.Tensor | None = None  # (H, W) in [0, 1]: where the objective looked
    term: LayerTerm | None = None  # the term of the objective language it is a picture of


def importance_image(importance: torch.Tensor) -> "Image.Image":
    """An importance map (H, W) in [0, 1] as a grey picture, on a square-root scale so that
    the places the objective looked at less still show."""
    from PIL import Image

    heat = (importance.detach().float().clamp(0, 1).sqrt() * 255).round().to(torch.uint8).cpu().numpy()
    return Image.fromarray(heat, "L")


def target_text(term: LayerTerm) -> int | str:
    """What a picture is of, as written after its layer: ``7``, ``3+7-2``, a class's index, a
    concept's ``DICTIONARY:INDEX``."""
    plain = term.channel is not None and not term.combination and kind_of(term).text is None
    return term.channel if plain else term_text(term).split(":", 1)[1]  # type: ignore[return-value]


def _per_target(chunk: list[LayerTerm], pictures: int) -> Objective:
    """Item k of each copy serves ``chunk[k // pictures]``: the terms' own kind's batch
    objective where they are all of one kind and it applies, else each term's value."""
    kinds = {kind_of(t).name: kind_of(t) for t in chunk}
    if len(kinds) == 1:
        (kind,) = kinds.values()
        batch = kind.per_item(chunk, pictures) if kind.per_item is not None else None
        if batch is not None:
            return batch
    units = [kind_of(t).unit(t) for t in chunk]  # type: ignore[misc]
    step = len(chunk) * pictures

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = next(iter(acts.values())).shape[0]
        owner = [(row % step) // pictures for row in range(batch)]
        every = torch.stack([unit(acts) for unit in units])  # (targets, batch)
        return every[owner, torch.arange(batch, device=every.device)]

    layers = frozenset().union(*(u.layers for u in units))
    return Objective(fn, layers, ",".join(term_text(t) for t in chunk))


def _objective(model: LoadedModel, chunk: list[LayerTerm], cfg: FeatureVisConfig) -> Objective:
    unit = _per_target(chunk, cfg.pictures)
    if cfg.pictures == 1:
        return unit
    # pictures of a unit differ at its layer; of a term that reads none, where the network's dreams look
    first = chunk[0]
    where = first.layer if kind_of(first).reads_layer else (model.spec.default_layers or auto_layers(model)).split(",")[-1]
    spread = diversity(where, cfg.pictures)

    def fn(acts: dict[str, torch.Tensor]) -> torch.Tensor:
        value = unit(acts)
        return value + cfg.diversity * value.detach().abs().mean() * spread(acts)

    return Objective(fn, unit.layers | spread.layers, f"{unit.text},diversity:{where}*{cfg.diversity:g}")


def written_transforms(cfg: FeatureVisConfig, terms: list[LayerTerm]) -> str:
    """The transforms ``terms``' pictures grow with, written out (``auto`` resolved: noise for
    class pictures only, :func:`~inceptionism.featurevis.transforms.chosen`)."""
    return chosen(cfg.transforms, param=cfg.param, classes=bool(terms) and all(kind_of(t).judged for t in terms))


def _passes(targets: list[LayerTerm], per_pass: int) -> Iterator[list[LayerTerm]]:
    """``targets`` in passes of at most ``per_pass``, class pictures and others never in one pass
    (``auto`` shows them different transforms)."""
    run: list[LayerTerm] = []
    for term in targets:
        if run and (len(run) == per_pass or kind_of(term).judged != kind_of(run[0]).judged):
            yield run
            run = []
        run.append(term)
    if run:
        yield run


def _recorded(cfg: FeatureVisConfig, transforms: str) -> dict:
    """``cfg`` as a picture's metadata says it: the transforms that ran (never ``auto``); the share
    grown from the centre only where it was above 0 (pictures made before it existed keep their
    recorded parameters)."""
    fields = {**asdict(cfg), "transforms": transforms}
    if not fields["grow_from_centre"]:
        del fields["grow_from_centre"]
    return fields


def visualize_features(
    model: LoadedModel,
    targets: list[LayerTerm],
    cfg: FeatureVisConfig,
    *,
    batch: int = 8,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
) -> list[Visualization]:
    """Pictures of terms of the objective language (channels, combinations, classes: any kind
    with pictures), ``cfg.pictures`` per term, up to ``batch`` pictures per pass."""
    from ..images import to_pil

    results = []
    per_pass = max(1, batch // cfg.pictures)
    gen = torch.Generator().manual_seed(cfg.seed)
    for chunk in _passes(targets, per_pass):
        written = written_transforms(cfg, chunk)
        transforms = parse_transforms(written)
        objective = _objective(model, chunk, cfg)
        picture = picture_for(cfg.param, len(chunk) * cfg.pictures, cfg.size, gen=gen, device=model.device)
        out = render(model, objective, picture, steps=cfg.steps, gen=gen, transforms=transforms, on_step=on_step,
                     grow_from_centre=cfg.grow_from_centre)
        for k, (image, score) in enumerate(zip(out.images, out.values)):
            term = chunk[k // cfg.pictures]
            target = target_text(term)
            meta = {
                "inceptionism": __version__,
                "model": model.spec.name,
                "weights_sha256": model.weights_sha256,
                "visualize": {"layer": term.layer, "target": target, **_recorded(cfg, written)},
                "score": float(score),
            }
            if cfg.pictures > 1:
                meta["visualize"]["picture"] = k % cfg.pictures
            pil = to_pil(image[:3], image[3].cpu().numpy() if image.shape[0] == 4 else None)
            pil.info["inceptionism"] = meta
            results.append(Visualization(term.layer, target, pil, float(score), meta, out.importance[k].cpu(), term))
    return results
