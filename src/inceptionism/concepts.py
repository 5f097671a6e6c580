"""Concepts of a layer: a dictionary learned over its activations on photos, and for each
concept a picture, its exemplar photos, what it does for the network's decision, and
whether the picture is honest (``inceptionism concepts``).

The measures, each over a concept's exemplars (the photos where its code is strongest):

- class importance: gradient times activation in the concept's direction. The layer's
  output is run as ``A + sum_k eps_k c_k u_k`` (``c_k`` the concept's codes over the
  map, ``u_k`` its atom); the gradient of a class logit with respect to ``eps_k`` at 0 is
  the first-order share of that logit the concept carries there. It is summed over the
  exemplars for each of their five first classes; a concept's importance is its mean for
  each exemplar's own first class.
- causal drop: the exemplar's first class's logit and probability, minus their values
  with the concept's component ``c_k u_k`` taken out of the layer's output, against the
  same taken out along random unit directions (same length at every position), drawn
  where the layer's activations lie: non-negative directions for a layer after a ReLU
  (a signed random direction there pushes half the channels below anything the network
  has seen, and its "drop" measures that damage, not the absence of a concept).
- sanity rank: where the concept ranks among all K by how far its picture's mean code
  lies above the photos' (each in its spread over the photos; 1: the picture is most of
  all about its own concept).
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from .command_config import ConceptsConfig
from .dictionaries import ConceptDictionary, save_dictionary
from .errors import ConfigError
from .featurevis.examples import example_at, photo_files, read_photos
from .featurevis.dictionary_learning import LEARNERS, measure, sample_activations
from .featurevis.scores import Sanity, ranked
from .models.loaded import LoadedModel
from .paths import __version__
from .runtime import with_gradients

__all__ = ["Exemplar", "Concept", "Concepts", "learn_concepts", "learn_dictionary", "find_exemplars", "describe", "draw",
           "sanity_of", "RANDOM_DIRECTIONS"]

RANDOM_DIRECTIONS = 3  # random directions each concept's causal drop is compared with
CLASSES_PER_PHOTO = 5  # an exemplar's first classes, whose logits' gradients are taken
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(order=True)
class Exemplar:
    """A photo where a concept is strong, and where."""

    score: float  # the concept's largest code in the photo
    path: Path = field(compare=False)
    box: tuple[float, float, float, float] = field(compare=False)  # around the strongest place, 0-1 of the photo
    heat: torch.Tensor = field(compare=False, repr=False)  # (h, w) the concept's codes over the photo's map


@dataclass
class Concept:
    """What the command found for one concept."""

    index: int
    exemplars: list[Exemplar]
    classes: list[tuple[int, float]] = field(default_factory=list)  # (class, importance), largest first
    importance: float = 0.0  # mean over exemplars of its importance for their own first class
    causal: dict[str, float] = field(default_factory=dict)  # logit/probability drops, concept and random
    sanity: Sanity | None = None
    pictures: list[Any] = field(default_factory=list)  # Visualization of it


@dataclass
class Concepts:
    """A layer's dictionary and what was found for each of its concepts."""

    dictionary: ConceptDictionary
    concepts: list[Concept]
    photo_codes: torch.Tensor  # (N, K) every photo's mean code of each concept
    skipped: list[str]
    seconds: dict[str, float] = field(default_factory=dict)  # each stage's time: learn, exemplars, evidence, pictures


def learn_dictionary(model: LoadedModel, layer: str, photos: str | Path, cfg: ConceptsConfig, seed: int, *,
                     on_progress: Progress | None = None) -> tuple[ConceptDictionary, list[str]]:
    """Sample ``layer``'s activations over the photos and learn ``cfg.k`` concepts by
    ``cfg.method``; the dictionary's recipe says how, and how well it explains the sample."""
    from .taps import probe_means

    paths = photo_files(photos)
    sample = sample_activations(model, layer, paths, capacity=cfg.samples, views=cfg.views, seed=seed,
                                on_photo=None if on_progress is None else lambda d, t: on_progress("photos", d, t))
    if len(sample.photos) < 2:  # the sanity rank measures a concept's spread over the photos
        raise ConfigError(f"photos {str(photos)!r}: {len(sample.photos)} readable photo; concepts need at least 2",
                          field="photos")
    x = sample.vectors
    if len(x) < cfg.k:
        raise ConfigError(f"photos {str(photos)!r} gave {len(x)} activation vectors at {layer!r}, fewer than the "
                          f"{cfg.k} concepts asked for; give more photos or views, or a smaller k", field="k")
    recipe: dict[str, Any] = {"inceptionism": __version__, "network": model.spec.name,
                              "weights_sha256": model.weights_sha256, "layer": layer, "seed": seed,
                              "photos": len(sample.photos), "samples": len(x), "positions": sample.seen,
                              "views": cfg.views, "nonnegative": bool((x >= 0).all()),
                              "probe": [float(f"{v:.6g}") for v in probe_means(model, layer).tolist()]}
    report = None if on_progress is None else (lambda done, total, err: on_progress("learn", done, total))
    atoms, encoder, extra = LEARNERS[cfg.method](x, cfg.k, cfg.topk, seed, report)
    dictionary = ConceptDictionary(atoms, cfg.method, {**recipe, **extra, "method": cfg.method, "k": cfg.k}, encoder)
    dictionary.recipe["measures"] = measure(dictionary, x)
    return dictionary, sample.skipped


def _codes(dictionary: ConceptDictionary, a: torch.Tensor) -> torch.Tensor:
    """A map's codes (K, h, w) from its activations (C, h, w)."""
    return dictionary.encode(a.flatten(1).T).T.reshape(dictionary.k, *a.shape[-2:])


@torch.no_grad()
def find_exemplars(model: LoadedModel, dictionary: ConceptDictionary, photos: str | Path, top: int, *,
                   on_progress: Progress | None = None) -> tuple[dict[int, list[Exemplar]], torch.Tensor, list[str]]:
    """Each concept's ``top`` strongest photos (one pass, one photo in memory), and every
    photo's mean codes (N, K)."""
    from .taps import capture

    paths = photo_files(photos)
    heaps: dict[int, list[Exemplar]] = {k: [] for k in range(dictionary.k)}
    means, skipped = [], []
    with capture(model, [dictionary.layer]) as run:
        for done, (path, x) in enumerate(read_photos(paths, model.spec.input_size, model.device), 1):
            if isinstance(x, str):
                skipped.append(f"{path}: {x}")
                continue
            codes = _codes(dictionary, run(x)[dictionary.layer][0].float()).cpu()
            means.append(codes.mean((1, 2)))
            peaks, where = codes.flatten(1).max(1)
            for k, (score, flat) in enumerate(zip(peaks.tolist(), where.tolist())):
                if score <= 0:  # not in this photo at all: no exemplar of it
                    continue
                box = example_at(score, flat, codes.shape[-2:], path, x.shape[-2:]).box
                found = Exemplar(score, path, box, codes[k].clone())
                if len(heaps[k]) < top:
                    heapq.heappush(heaps[k], found)
                elif score > heaps[k][0].score:
                    heapq.heapreplace(heaps[k], found)
            if on_progress is not None:
                on_progress("exemplars", done, len(paths))
    if len(means) < 2:
        raise ConfigError(f"photos {str(photos)!r}: {len(means)} readable photo on the second pass (changed since the "
                          "first?); concepts need at least 2", field="photos")
    return {k: sorted(h, reverse=True) for k, h in heaps.items()}, torch.stack(means), skipped


@with_gradients
def describe(model: LoadedModel, dictionary: ConceptDictionary, exemplars: dict[int, list[Exemplar]], seed: int, *,
             on_progress: Progress | None = None) -> list[Concept]:
    """Each concept's class importances and causal drop over its exemplars (see the module's docstring)."""
    from .taps import edited

    owners: dict[Path, list[int]] = {}
    for k, found in exemplars.items():
        for e in found:
            owners.setdefault(e.path, []).append(k)
    randoms = _random_directions(dictionary, seed).to(model.device)
    atoms = dictionary.atoms.to(model.device)
    totals: dict[int, dict[int, float]] = {k: {} for k in exemplars}
    own: dict[int, list[float]] = {k: [] for k in exemplars}
    drops: dict[int, list[torch.Tensor]] = {k: [] for k in exemplars}
    with edited(model, dictionary.layer) as run:
        for done, (path, x) in enumerate(read_photos(list(owners), model.spec.input_size, model.device), 1):
            if isinstance(x, str):
                continue  # read once already: changed since
            first, grads, base, codes = _class_gradients(run, x, dictionary, atoms)
            for k in owners[path]:
                for c, g in zip(first, grads):
                    totals[k][c] = totals[k].get(c, 0.0) + float(g[k])
                own[k].append(float(grads[0][k]))
                drops[k].append(_drops(run, x, codes[k], atoms[k], randoms[k], base, first[0]))
            if on_progress is not None:
                on_progress("evidence", done, len(owners))
    return [Concept(k, found, sorted(totals[k].items(), key=lambda item: -item[1]), sum(own[k]) / max(1, len(own[k])),
                    _mean_drops(drops[k])) for k, found in exemplars.items()]


def _random_directions(dictionary: ConceptDictionary, seed: int) -> torch.Tensor:
    """(K, RANDOM_DIRECTIONS, C) unit directions, seeded, where the layer's activations lie:
    non-negative ones for a layer after a ReLU (see the module's docstring)."""
    gen = torch.Generator().manual_seed(seed)
    randoms = torch.randn(dictionary.k, RANDOM_DIRECTIONS, dictionary.channels, generator=gen)
    if dictionary.recipe.get("nonnegative", False):
        randoms = randoms.abs()
    return torch.nn.functional.normalize(randoms, dim=-1)


def _class_gradients(run: Callable[..., torch.Tensor], x: torch.Tensor, dictionary: ConceptDictionary,
                     atoms: torch.Tensor) -> tuple[list[int], list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """The photo's first classes, each one's gradient (K,) with respect to every concept's
    scale ``eps_k`` at 0, the photo's logits, and its codes (K, h, w) at the layer (the same
    in every run of the photo: the changes come after the layer); ``atoms`` are the
    dictionary's, where ``x`` is."""
    eps = torch.zeros(dictionary.k, device=x.device, requires_grad=True)
    seen: list[torch.Tensor] = []

    def scaled(a: torch.Tensor) -> torch.Tensor:
        seen.append(_codes(dictionary, a[0]))
        return torch.einsum("k,khw,kc->chw", eps, seen[0], atoms)[None]

    logits = run(x, scaled)[0]
    first = logits.detach().topk(min(CLASSES_PER_PHOTO, logits.numel())).indices.tolist()
    grads = [torch.autograd.grad(logits[c], eps, retain_graph=r < len(first) - 1)[0].cpu() for r, c in enumerate(first)]
    return first, grads, logits.detach().float(), seen[0]


def _mean_drops(drops: list[torch.Tensor]) -> dict[str, float]:
    if not drops:
        return {}
    return dict(zip(("logit_drop", "probability_drop", "random_logit_drop", "random_probability_drop"),
                    torch.stack(drops).mean(0).tolist()))


@torch.no_grad()
def _drops(run: Callable[..., torch.Tensor], x: torch.Tensor, code: torch.Tensor, atom: torch.Tensor,
           randoms: torch.Tensor, base: torch.Tensor, target: int) -> torch.Tensor:
    """(logit drop, probability drop) of class ``target`` with a concept's component (its
    ``code`` map (h, w) times its ``atom``) taken out of the layer, then the same along each
    random direction, averaged."""
    def without(direction: torch.Tensor) -> torch.Tensor:
        logits = run(x, lambda a: -torch.einsum("hw,c->chw", code, direction)[None])[0].float()
        return torch.stack([base[target] - logits[target],
                            base.softmax(0)[target] - logits.softmax(0)[target]])

    random = torch.stack([without(r) for r in randoms]).mean(0)
    return torch.cat([without(atom), random]).cpu()


def sanity_of(model: LoadedModel, dictionary: ConceptDictionary, k: int, picture: torch.Tensor,
              photo_codes: torch.Tensor) -> Sanity:
    """Where concept ``k`` ranks among the dictionary's concepts on its picture (3, H, W), against the photos."""
    from .taps import capture

    with torch.no_grad(), capture(model, [dictionary.layer]) as run:
        a = run(picture[None, :3].to(model.device))[dictionary.layer][0].float()
    return ranked(_codes(dictionary, a).mean((1, 2)).cpu(), photo_codes, k)


def draw(model: LoadedModel, path: Path, dictionary: ConceptDictionary, cfg: ConceptsConfig, seed: int, *,
         on_step: Callable[[int, Any], None] | None = None) -> dict[int, list[Any]]:
    """``cfg.pictures`` pictures of every concept (Visualization), grown from noise by ``cfg.param``
    towards the term ``concept:PATH:K``."""
    from .featurevis import FeatureVisConfig, visualize_features
    from .objectives import LayerTerm

    terms = [LayerTerm(dictionary.layer, k, kind="concept", source=str(path)) for k in range(dictionary.k)]
    vis = FeatureVisConfig(size=cfg.size, steps=cfg.steps, seed=seed, param=cfg.param, pictures=cfg.pictures)
    shown = visualize_features(model, terms, vis, batch=cfg.batch, on_step=on_step)
    return {k: shown[k * cfg.pictures:(k + 1) * cfg.pictures] for k in range(dictionary.k)}


def learn_concepts(model: LoadedModel, layer: str, photos: str | Path, output: Path, cfg: ConceptsConfig, seed: int,
                   *, on_progress: Progress | None = None,
                   on_step: Callable[[int, Any], None] | None = None) -> Concepts:
    """The work of ``inceptionism concepts``: learn, find exemplars, measure, draw (into
    ``output``, where a hidden copy of the dictionary lives while the pictures grow);
    :func:`~inceptionism.concept_report.write_report` writes the dictionary and the report."""
    import time

    clock = [time.perf_counter()]
    seconds: dict[str, float] = {}

    def lap(stage: str) -> None:
        clock.append(time.perf_counter())
        seconds[stage] = clock[-1] - clock[-2]

    dictionary, skipped = learn_dictionary(model, layer, photos, cfg, seed, on_progress=on_progress)
    lap("learn")
    exemplars, photo_codes, _ = find_exemplars(model, dictionary, photos, cfg.top, on_progress=on_progress)
    lap("exemplars")
    concepts = describe(model, dictionary, exemplars, seed, on_progress=on_progress)
    lap("evidence")
    # the pictures grow from terms, which read a file: a hidden one, gone after; the dictionary
    # itself is written with the report, so a run that fails leaves no new one beside an old report
    output.mkdir(parents=True, exist_ok=True)
    drawn_from = save_dictionary(output / f".dictionary-{os.getpid()}.partial.safetensors", dictionary)
    try:
        pictures = draw(model, drawn_from, dictionary, cfg, seed, on_step=on_step)
    finally:
        drawn_from.unlink(missing_ok=True)
    for concept in concepts:
        concept.pictures = pictures[concept.index]
        concept.sanity = sanity_of(model, dictionary, concept.index, _rgb(concept.pictures[0].image),
                                   photo_codes)
    lap("pictures")
    return Concepts(dictionary, concepts, photo_codes, skipped, seconds)


def _rgb(image: Any) -> torch.Tensor:
    """A PIL picture as (3, H, W) in [0, 1] (its transparency, with --param alpha, left out)."""
    import numpy as np

    return torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1).float() / 255
