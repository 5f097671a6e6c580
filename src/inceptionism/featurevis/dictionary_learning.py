"""Learning a concept dictionary over a layer: activations sampled from photos in bounded
memory, then NMF or a TopK sparse autoencoder.

The sample: every photo of a folder streams through the network (one at a time, each seen
as a few views: itself, its mirror image, random crops); every position of the layer's
map is one activation vector, and a reservoir keeps a uniform random ``capacity`` of all
of them (Vitter's algorithm R), so memory is bounded however many photos there are.

NMF (Lee and Seung's multiplicative updates) factors the sample, its negative values set
to 0 first (NMF needs non-negative data; the share of the energy that drops is reported);
the TopK SAE (Gao et al. 2024) keeps the ``topk`` largest of K ReLU codes, decodes them
with unit atoms and is trained with Adam on 90% of the sample, stopping early when the
held-out 10% stops improving. Both are seeded: the same photos, seed and machine give the
same dictionary.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..dictionaries import ConceptDictionary, topk_codes
from ..errors import ConfigError
from ..models.loaded import LoadedModel
from ..runtime import with_gradients

__all__ = ["Sample", "sample_activations", "learn_nmf", "learn_sae", "LEARNERS", "measure", "views_of"]


@dataclass
class Sample:
    """Activation vectors sampled from a layer over a folder of photos."""

    vectors: torch.Tensor  # (N, C) a uniform sample of every position of every view
    seen: int  # positions the sample was drawn from
    photos: list[Path]  # the photos read
    skipped: list[str] = field(default_factory=list)  # "path: why" for files that are no readable pictures


class _Reservoir:
    """A uniform random sample of at most ``capacity`` rows of a stream (algorithm R)."""

    def __init__(self, capacity: int, gen: torch.Generator) -> None:
        self.capacity, self.gen, self.seen = capacity, gen, 0
        self.rows: torch.Tensor | None = None

    def add(self, rows: torch.Tensor) -> None:
        if self.rows is None:
            self.rows = torch.empty(self.capacity, rows.shape[1])
        filled = min(self.seen, self.capacity)
        take = min(len(rows), self.capacity - filled)
        self.rows[filled:filled + take] = rows[:take]
        rest = rows[take:]
        if len(rest):  # row i of the stream replaces a random kept one with chance capacity / (i + 1)
            index = self.seen + take + torch.arange(len(rest))
            slot = (torch.rand(len(rest), generator=self.gen, dtype=torch.float64) * (index + 1)).long()
            kept = slot < self.capacity
            self.rows[slot[kept]] = rest[kept]
        self.seen += len(rows)

    def sample(self) -> torch.Tensor:
        assert self.rows is not None
        kept = min(self.seen, self.capacity)
        return self.rows if kept == self.capacity else self.rows[:kept].clone()  # no unused rows held on to


def views_of(x: torch.Tensor, views: int, side: int, gen: torch.Generator) -> list[torch.Tensor]:
    """``views`` views of a photo (1, 3, H, W): itself, its mirror image, then random square crops
    (50-100% of the shorter side) at ``side`` px; the photo and its mirror keep their shape."""
    from torchvision.transforms.v2 import functional as tv

    out = [x] + ([x.flip(-1)] if views > 1 else [])
    height, width = x.shape[-2:]
    for _ in range(views - 2):
        crop = int(min(height, width) * (0.5 + 0.5 * float(torch.rand((), generator=gen))))
        top = int(torch.randint(0, height - crop + 1, (), generator=gen))
        left = int(torch.randint(0, width - crop + 1, (), generator=gen))
        out.append(tv.resize(x[..., top:top + crop, left:left + crop], [side, side], antialias=True))
    return out


@torch.no_grad()
def sample_activations(model: LoadedModel, layer: str, paths: list[Path], *, capacity: int, views: int,
                       seed: int, on_photo: Callable[[int, int], None] | None = None) -> Sample:
    """Stream ``paths`` through ``model`` to ``layer``; keep a uniform sample of ``capacity``
    activation vectors of all views' positions (see the module's docstring)."""
    from ..taps import capture
    from .examples import read_photos

    gen = torch.Generator().manual_seed(seed)
    reservoir = _Reservoir(capacity, gen)
    read, skipped = [], []
    with capture(model, [layer]) as run:
        for done, (path, x) in enumerate(read_photos(paths, model.spec.input_size, model.device), 1):
            if isinstance(x, str):
                skipped.append(f"{path}: {x}")
            else:
                read.append(path)
                for view in views_of(x, views, model.spec.input_size, gen):
                    a = run(view)[layer][0].float()  # (C, h, w)
                    reservoir.add(a.flatten(1).T.cpu())
            if on_photo is not None:
                on_photo(done, len(paths))
    if not read:
        raise ConfigError(f"none of the {len(paths)} files could be read as photos", field="photos")
    return Sample(reservoir.sample(), reservoir.seen, read, skipped)


def learn_nmf(x: torch.Tensor, k: int, *, seed: int, steps: int = 300, tol: float = 1e-4,
              on_step: Callable[[int, int, float], None] | None = None) -> torch.Tensor:
    """K non-negative unit atoms (K, C) with ``x`` (N, C) >= 0 close to codes @ atoms:
    multiplicative updates of both factors, stopping when the error changes by less than
    ``tol`` (relative) over 10 steps. ``on_step(step, steps, relative error)``."""
    gen = torch.Generator().manual_seed(seed)
    scale = math.sqrt(max(float(x.mean()), 1e-12) / k)
    w = torch.rand(x.shape[0], k, generator=gen).to(x) * scale
    h = torch.rand(k, x.shape[1], generator=gen).to(x) * scale
    total = float(x.square().sum())
    last = math.inf
    for step in range(1, steps + 1):
        h *= (w.T @ x) / ((w.T @ w) @ h).clamp_min(1e-12)
        w *= (x @ h.T) / (w @ (h @ h.T)).clamp_min(1e-12)
        if step % 10 == 0 or step == steps:
            # |x - wh|^2 = |x|^2 - 2 tr(w^T x h^T) + tr(w^T w h h^T), without the N x C residual
            err = total - 2 * float(((x @ h.T) * w).sum()) + float(((w.T @ w) * (h @ h.T)).sum())
            rel = math.sqrt(max(err, 0.0) / max(total, 1e-12))
            if on_step is not None:
                on_step(step, steps, rel)
            if abs(last - rel) < tol * max(rel, 1e-12):
                break
            last = rel
    norms = h.norm(dim=1, keepdim=True)
    dead = norms.squeeze(1) <= 1e-12
    if bool(dead.any()):  # an atom no sample uses: any unit direction, reported as dead
        h[dead] = 1.0
        norms = h.norm(dim=1, keepdim=True)
    return h / norms


@with_gradients
def learn_sae(x: torch.Tensor, k: int, topk: int, *, seed: int, epochs: int = 60, batch: int = 1024,
              lr: float = 2e-3, patience: int = 4,
              on_epoch: Callable[[int, int, float], None] | None = None) -> dict[str, torch.Tensor]:
    """A TopK sparse autoencoder of ``x`` (N, C) with K atoms: its unit atoms (K, C) and
    encoder (weight (K, C), bias (K,), center (C,), scale ()). ``on_epoch(epoch, epochs,
    held-out relative error)``; stops after ``patience`` epochs without improvement and
    keeps the best."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=gen)
    held = max(1, len(x) // 10)
    if len(x) - held < 2:
        raise ConfigError(f"only {len(x)} activation vectors to learn from; give more photos or views", field="photos")
    train, val = x[order[held:]].float(), x[order[:held]].float()
    scale = train.norm(dim=1).mean().clamp_min(1e-12)
    train, val = train / scale, val / scale
    decoder = torch.randn(k, x.shape[1], generator=gen).to(x.device)
    decoder = decoder / decoder.norm(dim=1, keepdim=True)
    params = {"weight": decoder.clone(), "bias": torch.zeros(k, device=x.device), "center": train.mean(0),
              "decoder": decoder}
    for t in params.values():
        t.requires_grad_(True)
    opt = torch.optim.Adam(params.values(), lr=lr)
    best, best_state, waited = math.inf, None, 0
    for epoch in range(1, epochs + 1):
        shuffled = train[torch.randperm(len(train), generator=gen).to(x.device)]
        for start in range(0, len(shuffled), batch):
            xb = shuffled[start:start + batch]
            loss = (_sae_decode(params, _sae_codes(params, xb, topk)) - xb).square().sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                params["decoder"] /= params["decoder"].norm(dim=1, keepdim=True).clamp_min(1e-12)
        with torch.no_grad():
            err = float((_sae_decode(params, _sae_codes(params, val, topk)) - val).square().sum()
                        / (val - val.mean(0)).square().sum().clamp_min(1e-12))
        if on_epoch is not None:
            on_epoch(epoch, epochs, math.sqrt(err))
        if err < best * (1 - 1e-3):  # a tenth of a percent better, or it counts as no better
            best, best_state, waited = err, copy.deepcopy({n: t.detach() for n, t in params.items()}), 0
        else:
            waited += 1
            if waited >= patience:
                break
    state = best_state or {n: t.detach() for n, t in params.items()}
    return {"atoms": state["decoder"].clone(), "weight": state["weight"].clone(), "bias": state["bias"].clone(),
            "center": state["center"].clone(), "scale": scale.detach().clone()}


def _sae_codes(params: dict[str, torch.Tensor], x: torch.Tensor, topk: int) -> torch.Tensor:
    return topk_codes(x, params["weight"], params["bias"], params["center"], topk)


def _sae_decode(params: dict[str, torch.Tensor], codes: torch.Tensor) -> torch.Tensor:
    return codes @ params["decoder"] + params["center"]


# Each method's learning: (sample (N, C), K, top-k or None, seed, report(done, total, error)) -> its atoms
# (K, C), its encoder's tensors and what its recipe adds; dictionaries.METHODS reads what it makes.
Learner = Callable[[torch.Tensor, int, "int | None", int, "Callable[[int, int, float], None] | None"],
                   tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, Any]]]


def _nmf(x: torch.Tensor, k: int, topk: int | None, seed: int, report: Any) -> tuple:
    return learn_nmf(x.clamp_min(0), k, seed=seed, on_step=report), {}, {}


def _sae(x: torch.Tensor, k: int, topk: int | None, seed: int, report: Any) -> tuple:
    chosen = topk if topk is not None else max(1, min(32, k // 4))
    learned = learn_sae(x, k, chosen, seed=seed, on_epoch=report)
    return learned.pop("atoms"), learned, {"topk": chosen}


LEARNERS: dict[str, Learner] = {"nmf": _nmf, "sae": _sae}


@torch.no_grad()
def measure(dictionary: ConceptDictionary, x: torch.Tensor) -> dict[str, float]:
    """How well ``dictionary`` explains activation vectors ``x`` (N, C): the variance explained
    (of ``x`` itself, negative values included), the mean number of active codes (above 1% of a
    vector's largest), the concepts no vector uses (dead), and for NMF the share of the
    vectors' energy in their negative values (what NMF cannot explain)."""
    codes = dictionary.encode(x)
    residual = (dictionary.reconstruct(codes) - x.float()).square().sum()
    spread = (x.float() - x.float().mean(0)).square().sum().clamp_min(1e-12)
    active = codes > 0.01 * codes.amax(1, keepdim=True).clamp_min(1e-12)
    return {
        "variance_explained": float(1 - residual / spread),
        "active_per_vector": float(active.sum(1).float().mean()),
        "dead": int((codes.amax(0) <= 1e-6 * float(codes.amax().clamp_min(1e-12))).sum()),
        "negative_energy": float(x.float().clamp_max(0).square().sum() / x.float().square().sum().clamp_min(1e-12)),
    }
