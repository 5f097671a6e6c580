"""Concept dictionaries: a layer's learned concepts as a file, with its recipe.

A dictionary holds K atoms, unit directions (K, C) in a layer's channel space, and what
turns an activation vector into K codes (how much of each concept is there): non-negative
least squares against the atoms (``nmf``) or a TopK sparse autoencoder's encoder
(``sae``). A vector ``a`` is explained as ``codes @ atoms`` (plus the SAE's bias), so one
concept's share of ``a`` is ``codes[k] * atoms[k]``.

The file is safetensors: the tensors, and the recipe as JSON in its metadata (network,
weights hash, layer, method, K, seed, photos...). :func:`load_dictionary` refuses, in one
line, a file that is not one, or one whose shapes or numbers are wrong; :func:`check_for`
one learned on another network or layer.

Examples:
    >>> d = load_dictionary("concepts/dictionary.safetensors")  # doctest: +SKIP
    >>> d.atoms.shape, d.layer
    (torch.Size([16, 672]), 'blocks.5.0.bn1')
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import ConfigError, LayerError

__all__ = ["ConceptDictionary", "Method", "METHODS", "load_dictionary", "save_dictionary", "check_for", "nnls",
           "topk_codes"]

_KEY = "inceptionism_dictionary"  # the metadata key that marks a file as a dictionary
_NNLS_STEPS = 60  # multiplicative updates per encoding (the codes change by < 0.1% after ~40)


@dataclass(frozen=True)
class ConceptDictionary:
    """A layer's K concepts: unit atoms (K, C) and the encoder of ``method`` (a key of METHODS)."""

    atoms: torch.Tensor  # (K, C) unit rows: each concept's direction in the layer's channel space
    method: str  # nmf or sae
    recipe: dict[str, Any]  # network, weights_sha256, layer, k, seed, photos, ... (see concepts.learn_dictionary)
    encoder: dict[str, torch.Tensor] = field(default_factory=dict)  # sae: weight (K, C), bias (K,), center (C,), scale ()

    @property
    def layer(self) -> str:
        return str(self.recipe["layer"])

    @property
    def k(self) -> int:
        return int(self.atoms.shape[0])

    @property
    def channels(self) -> int:
        return int(self.atoms.shape[1])

    def encode(self, vectors: torch.Tensor) -> torch.Tensor:
        """Codes (N, K) of activation vectors (N, C): non-negative, in the activation's units."""
        return METHODS[self.method].encode(self, vectors.float())

    def reconstruct(self, codes: torch.Tensor) -> torch.Tensor:
        """Activation vectors (N, C) from codes (N, K)."""
        out = codes.float() @ self.atoms.to(codes.device, torch.float32)
        offset = METHODS[self.method].offset(self)
        return out if offset is None else out + offset.to(codes.device)


@dataclass(frozen=True)
class Method:
    """How one method's dictionary turns activation vectors into codes and back, and what its
    file holds beside the atoms."""

    encode: Callable[[ConceptDictionary, torch.Tensor], torch.Tensor]  # (N, C) -> codes (N, K)
    offset: Callable[[ConceptDictionary], torch.Tensor | None]  # what a reconstruction adds to codes @ atoms
    encoder: Callable[[int, int], dict[str, tuple[int, ...]]]  # (K, C) -> its encoder tensors' shapes
    sound: Callable[[dict[str, torch.Tensor], dict[str, Any]], bool] = lambda encoder, recipe: True  # its numbers


def _sae_sound(encoder: dict[str, torch.Tensor], recipe: dict[str, Any]) -> bool:
    topk = recipe.get("topk")
    return float(encoder["scale"]) > 0 and isinstance(topk, int) and not isinstance(topk, bool) and topk >= 1


def nnls(x: torch.Tensor, atoms: torch.Tensor, steps: int = _NNLS_STEPS) -> torch.Tensor:
    """Non-negative codes W (N, K) with ``W @ atoms`` close to ``x`` (N, C), both non-negative:
    Lee and Seung's multiplicative updates with the atoms held fixed (NMF's own code step)."""
    gram = atoms @ atoms.T  # (K, K)
    xa = x @ atoms.T  # (N, K)
    w = xa.clamp_min(0) / gram.diagonal().clamp_min(1e-12) / atoms.shape[0] + 1e-6
    for _ in range(steps):
        w = w * xa / (w @ gram).clamp_min(1e-12)
    return w


def topk_codes(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, center: torch.Tensor,
               topk: int) -> torch.Tensor:
    """A TopK sparse autoencoder's codes (N, K) of ``x`` (N, C), in its own units: the ``topk``
    largest ReLU codes kept, the rest 0 (differentiable: the learner trains through it)."""
    pre = torch.relu((x - center) @ weight.T + bias)
    best = pre.topk(min(topk, pre.shape[1]), 1)
    return torch.zeros_like(pre).scatter(1, best.indices, best.values)


def _sae_codes(d: ConceptDictionary, x: torch.Tensor) -> torch.Tensor:
    enc = {name: t.to(x.device, torch.float32) for name, t in d.encoder.items()}
    kept = topk_codes(x / enc["scale"], enc["weight"], enc["bias"], enc["center"], int(d.recipe["topk"]))
    return kept * enc["scale"]  # atoms are unit rows: a code is the concept's length in activation units


METHODS: dict[str, Method] = {
    # NMF: non-negative least squares against the atoms (of the activation's positive part)
    "nmf": Method(lambda d, x: nnls(x.clamp_min(0), d.atoms.to(x.device, torch.float32)), lambda d: None,
                  lambda k, c: {}),
    # a TopK sparse autoencoder: its encoder, and the centre its decoder adds back
    "sae": Method(_sae_codes, lambda d: d.encoder["center"] * d.encoder["scale"],
                  lambda k, c: {"weight": (k, c), "bias": (k,), "center": (c,), "scale": ()}, _sae_sound),
}


def load_dictionary(path: str | Path) -> ConceptDictionary:
    """Read and check a dictionary file (kept while the file is unchanged).

    Raises:
        ConfigError: missing, not a dictionary, or wrong shapes or numbers, naming the file.
    """
    p = Path(path)
    try:
        stat = p.stat()
    except OSError:
        raise ConfigError(f"concept dictionary {str(path)!r} does not exist; give the dictionary.safetensors "
                          "that inceptionism concepts wrote", field="dictionary") from None
    if not p.is_file():
        raise ConfigError(f"concept dictionary {str(path)!r} is not a file", field="dictionary")
    return _load(str(p.resolve()), (stat.st_ino, stat.st_mtime_ns, stat.st_size), str(path))


@lru_cache(maxsize=16)
def _load(resolved: str, version: tuple[int, int, int], shown: str) -> ConceptDictionary:
    from safetensors import SafetensorError, safe_open

    def refuse(why: str) -> ConfigError:
        return ConfigError(f"concept dictionary {shown!r} {why}", field="dictionary")

    try:
        with safe_open(resolved, framework="pt") as fh:
            meta, names = fh.metadata() or {}, set(fh.keys())
            if _KEY not in meta:
                raise refuse("is a safetensors file but no concept dictionary (no recipe); inceptionism concepts "
                             "writes them")
            # only a dictionary's own tensors are read: a large file of something else costs nothing
            tensors = {n: fh.get_tensor(n) for n in names if n == "atoms" or n.startswith("encoder.")}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise refuse(f"is not a dictionary (not a safetensors file: {str(exc).splitlines()[0][:120]})") from None
    try:
        recipe = json.loads(meta[_KEY])
        method, layer, k = recipe["method"], recipe["layer"], int(recipe["k"])
    except (ValueError, KeyError, TypeError):
        raise refuse("has a damaged recipe") from None
    if method not in METHODS or not isinstance(layer, str) or not layer:
        raise refuse(f"has method {method!r} and layer {layer!r}; expected one of {', '.join(METHODS)} and a layer")
    atoms = tensors.get("atoms")
    if atoms is None or atoms.dim() != 2 or atoms.shape[0] != k or atoms.shape[0] < 1 or atoms.shape[1] < 1:
        shape = None if atoms is None else tuple(atoms.shape)
        raise refuse(f"has atoms of shape {shape}; expected ({k}, channels)")
    atoms = atoms.float()
    if not bool(torch.isfinite(atoms).all()):
        raise refuse("has atoms that are not finite numbers (NaN or infinite)")
    if not bool(((atoms.norm(dim=1) - 1).abs() < 1e-3).all()):
        raise refuse("has atoms that are not unit directions")
    encoder = {}
    for name, shape in METHODS[method].encoder(k, atoms.shape[1]).items():
        t = tensors.get(f"encoder.{name}")
        if t is None or tuple(t.shape) != shape:
            raise refuse(f"has an encoder.{name} of shape {None if t is None else tuple(t.shape)}; expected {shape}")
        if not bool(torch.isfinite(t.float()).all()):
            raise refuse(f"has an encoder.{name} that is not finite")
        encoder[name] = t.float()
    probe = recipe.get("probe")
    if probe is not None and not (isinstance(probe, list) and len(probe) == atoms.shape[1] and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in probe)):
        raise refuse(f"has a damaged probe: expected {atoms.shape[1]} finite numbers, one a channel")
    if not METHODS[method].sound(encoder, recipe):
        raise refuse(f"has a {method} encoder whose numbers are out of range (a scale above 0, topk of at least 1)")
    return ConceptDictionary(atoms, method, recipe, encoder)


def save_dictionary(path: str | Path, dictionary: ConceptDictionary) -> Path:
    """Write ``dictionary`` to ``path`` (atomically), its recipe in the metadata."""
    from safetensors.torch import save

    from .outputs import write_atomic

    tensors = {"atoms": dictionary.atoms.float().contiguous().cpu()}
    tensors.update({f"encoder.{n}": t.float().contiguous().cpu() for n, t in dictionary.encoder.items()})
    recipe = {**dictionary.recipe, "method": dictionary.method, "k": dictionary.k, "channels": dictionary.channels}
    data = save(tensors, metadata={_KEY: json.dumps(recipe, allow_nan=False)})
    return write_atomic(path, lambda fh: fh.write(data))


def check_for(dictionary: ConceptDictionary, facts: Any, shown: str) -> None:
    """Refuse a dictionary learned on another network, other weights, or another layer
    (``facts``: objectives.LayerFacts of the network and the dictionary's layer there). A
    layer of the same width is told apart by its response to a fixed picture, recorded
    with the dictionary (``probe``): another layer's correlates far less than 0.99.

    Raises:
        ConfigError, LayerError: naming the dictionary, what it was learned on and what this is.
    """
    recipe = dictionary.recipe
    network = facts.network
    if recipe.get("network") != network:
        raise ConfigError(f"concept dictionary {shown!r} was learned on network {recipe.get('network')!r}, not "
                          f"{network!r}; use --model {recipe.get('network')} or learn one for {network}",
                          field="dictionary")
    theirs = recipe.get("weights_sha256")
    if theirs != facts.weights_sha256:
        raise ConfigError(f"concept dictionary {shown!r} was learned on other weights of {network} "
                          f"({str(theirs)[:12]}, these are {str(facts.weights_sha256)[:12]}); learn one for these",
                          field="dictionary")
    channels = facts.channels()
    if channels != dictionary.channels:
        raise LayerError(f"concept dictionary {shown!r} has {dictionary.channels}-channel atoms; layer "
                         f"{dictionary.layer!r} has {channels} channels", field="dictionary")
    recorded = recipe.get("probe")
    if recorded is not None:
        here = facts.probe().float().cpu()
        there = torch.tensor(recorded, dtype=torch.float32)
        if len(there) != len(here):
            fit = 0.0
        elif float(here.std()) < 1e-8 or float(there.std()) < 1e-8:  # a layer that answers flat: the values agree?
            fit = 1.0 if torch.allclose(here, there, rtol=1e-3, atol=1e-5) else 0.0
        else:
            fit = float(torch.corrcoef(torch.stack([here, there]))[0, 1])
        if not fit > 0.99:
            raise LayerError(f"concept dictionary {shown!r} was not learned on layer {dictionary.layer!r} of "
                             f"{network} (the layer answers a fixed picture otherwise: correlation {fit:.2f}); "
                             "learn one for it", field="dictionary")
