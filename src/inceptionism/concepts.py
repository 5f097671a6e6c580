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
  same taken out along random unit directions (same length at every position).
- sanity rank: where the concept ranks among all K by how far its picture's mean code
  lies above the photos' (each in its spread over the photos; 1: the picture is most of
  all about its own concept).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from .command_config import ConceptsConfig
from .dictionaries import ConceptDictionary, save_dictionary
from .featurevis.examples import _example, _photos, photo_files
from .featurevis.learn import learn_nmf, learn_sae, measure, sample_activations
from .featurevis.scores import Sanity, ranked
from .models.loaded import LoadedModel
from .paths import __version__

__all__ = ["Exemplar", "Concept", "Concepts", "learn_dictionary", "find_exemplars", "describe", "RANDOM_DIRECTIONS"]

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
    dictionary: ConceptDictionary
    concepts: list[Concept]
    photo_codes: torch.Tensor  # (N, K) every photo's mean code of each concept
    skipped: list[str]


def learn_dictionary(model: LoadedModel, layer: str, photos: str | Path, cfg: ConceptsConfig, seed: int, *,
                     on_progress: Progress | None = None) -> tuple[ConceptDictionary, list[str]]:
    """Sample ``layer``'s activations over the photos and learn ``cfg.k`` concepts by
    ``cfg.method``; the dictionary's recipe says how, and how well it explains the sample."""
    from .taps import probe_means

    paths = photo_files(photos)
    sample = sample_activations(model, layer, paths, capacity=cfg.samples, views=cfg.views, seed=seed,
                                on_photo=None if on_progress is None else lambda d, t: on_progress("photos", d, t))
    x = sample.vectors
    recipe: dict[str, Any] = {"inceptionism": __version__, "network": model.spec.name,
                              "weights_sha256": model.weights_sha256, "layer": layer, "seed": seed,
                              "photos": len(sample.photos), "samples": len(x), "positions": sample.seen,
                              "views": cfg.views,
                              "probe": [float(f"{v:.6g}") for v in probe_means(model, layer).tolist()]}
    report = None if on_progress is None else (lambda done, total, err: on_progress("learn", done, total))
    if cfg.method == "nmf":
        dictionary = ConceptDictionary(learn_nmf(x.clamp_min(0), cfg.k, seed=seed, on_step=report), "nmf", recipe)
    else:
        recipe["topk"] = cfg.topk_or_default()
        learned = learn_sae(x, cfg.k, recipe["topk"], seed=seed, on_epoch=report)
        dictionary = ConceptDictionary(learned.pop("atoms"), "sae", recipe, learned)
    dictionary.recipe.update(method=cfg.method, k=cfg.k, measures=measure(dictionary, x))
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
        for done, (path, x) in enumerate(_photos(paths, model.spec.input_size, model.device), 1):
            if isinstance(x, str):
                skipped.append(f"{path}: {x}")
                continue
            codes = _codes(dictionary, run(x)[dictionary.layer][0].float()).cpu()
            means.append(codes.mean((1, 2)))
            peaks, where = codes.flatten(1).max(1)
            for k, (score, flat) in enumerate(zip(peaks.tolist(), where.tolist())):
                box = _example(score, flat, codes.shape[-2:], path, x.shape[-2:]).box
                found = Exemplar(score, path, box, codes[k].clone())
                if len(heaps[k]) < top:
                    heapq.heappush(heaps[k], found)
                elif score > heaps[k][0].score:
                    heapq.heapreplace(heaps[k], found)
            if on_progress is not None:
                on_progress("exemplars", done, len(paths))
    return {k: sorted(h, reverse=True) for k, h in heaps.items()}, torch.stack(means), skipped


def describe(model: LoadedModel, dictionary: ConceptDictionary, exemplars: dict[int, list[Exemplar]], seed: int, *,
             on_progress: Progress | None = None) -> list[Concept]:
    """Each concept's class importances and causal drop over its exemplars (see the module's docstring)."""
    from .featurevis.examples import _photos as read
    from .taps import edited

    concepts = {k: Concept(k, found) for k, found in exemplars.items()}
    owners: dict[Path, list[int]] = {}
    for k, found in exemplars.items():
        for e in found:
            owners.setdefault(e.path, []).append(k)
    atoms = dictionary.atoms.to(model.device)
    gen = torch.Generator().manual_seed(seed)
    randoms = torch.randn(dictionary.k, RANDOM_DIRECTIONS, dictionary.channels, generator=gen)
    if bool((dictionary.atoms >= 0).all()):  # directions of the atoms' own kind: non-negative ones for NMF's
        randoms = randoms.abs()
    randoms = torch.nn.functional.normalize(randoms, dim=-1).to(model.device)
    totals: dict[int, dict[int, float]] = {k: {} for k in concepts}
    own: dict[int, list[float]] = {k: [] for k in concepts}
    drops: dict[int, list[torch.Tensor]] = {k: [] for k in concepts}
    with edited(model, dictionary.layer) as run:
        for done, (path, x) in enumerate(read(list(owners), model.spec.input_size, model.device), 1):
            if isinstance(x, str):
                continue  # read once already: changed since
            eps = torch.zeros(dictionary.k, device=model.device, requires_grad=True)
            with torch.enable_grad():
                logits = run(x, lambda a: torch.einsum("k,khw,kc->chw", eps, _codes(dictionary, a[0]), atoms)[None])[0]
                first = logits.detach().topk(CLASSES_PER_PHOTO).indices.tolist()
                grads = [torch.autograd.grad(logits[c], eps, retain_graph=r < len(first) - 1)[0].cpu()
                         for r, c in enumerate(first)]
            base = logits.detach().float()
            for k in owners[path]:
                for c, g in zip(first, grads):
                    totals[k][c] = totals[k].get(c, 0.0) + float(g[k])
                own[k].append(float(grads[0][k]))
                drops[k].append(_drops(run, x, dictionary, k, atoms[k], randoms[k], base, first[0]))
            if on_progress is not None:
                on_progress("evidence", done, len(owners))
    for k, concept in concepts.items():
        concept.classes = sorted(totals[k].items(), key=lambda item: -item[1])
        concept.importance = sum(own[k]) / max(1, len(own[k]))
        if drops[k]:
            mean = torch.stack(drops[k]).mean(0).tolist()
            concept.causal = dict(zip(("logit_drop", "probability_drop", "random_logit_drop",
                                       "random_probability_drop"), mean))
    return list(concepts.values())


@torch.no_grad()
def _drops(run: Callable[..., torch.Tensor], x: torch.Tensor, dictionary: ConceptDictionary, k: int,
           atom: torch.Tensor, randoms: torch.Tensor, base: torch.Tensor, target: int) -> torch.Tensor:
    """(logit drop, probability drop) of class ``target`` with concept ``k``'s component taken
    out of the layer, then the same along each random direction, averaged."""
    def without(direction: torch.Tensor) -> torch.Tensor:
        logits = run(x, lambda a: -torch.einsum("hw,c->chw", _codes(dictionary, a[0])[k], direction)[None])[0].float()
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
    """The whole of ``inceptionism concepts``: learn, save ``output/dictionary.safetensors``,
    find exemplars, measure, draw; the pages are :mod:`.concept_page`'s."""
    dictionary, skipped = learn_dictionary(model, layer, photos, cfg, seed, on_progress=on_progress)
    output.mkdir(parents=True, exist_ok=True)
    path = save_dictionary(output / "dictionary.safetensors", dictionary)
    exemplars, photo_codes, _ = find_exemplars(model, dictionary, photos, cfg.top, on_progress=on_progress)
    concepts = describe(model, dictionary, exemplars, seed, on_progress=on_progress)
    pictures = draw(model, path, dictionary, cfg, seed, on_step=on_step)
    for concept in concepts:
        concept.pictures = pictures[concept.index]
        concept.sanity = sanity_of(model, dictionary, concept.index, _rgb(concept.pictures[0].image),
                                   photo_codes)
    return Concepts(dictionary, concepts, photo_codes, skipped)


def _rgb(image: Any) -> torch.Tensor:
    """A PIL picture as (3, H, W) in [0, 1] (over black where it has transparency)."""
    import numpy as np

    return torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1).float() / 255
