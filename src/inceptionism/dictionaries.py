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
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from .errors import ConfigError, LayerError

__all__ = ["ConceptDictionary", "METHODS", "load_dictionary", "save_dictionary", "check_for", "nnls"]

METHODS = ("nmf", "sae")
_KEY = "inceptionism_dictionary"  # the metadata key that marks a file as a dictionary
_NNLS_STEPS = 60  # multiplicative updates per encoding (the codes change by < 0.1% after ~40)


@dataclass(frozen=True)
class ConceptDictionary:
    """A layer's K concepts: unit atoms (K, C) and the encoder of ``method``."""

    atoms: torch.Tensor  # (K, C) unit rows: each concept's direction in the layer's channel space
    method: str  # nmf or sae
    recipe: dict[str, Any]  # network, weights_sha256, layer, k, seed, photos, ... (see concepts.learn)
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
        atoms = self.atoms.to(vectors.device, torch.float32)
        x = vectors.float()
        if self.method == "sae":
            enc = {name: t.to(x.device, torch.float32) for name, t in self.encoder.items()}
            scale = enc["scale"]
            pre = torch.relu((x / scale - enc["center"]) @ enc["weight"].T + enc["bias"])
            top = int(self.recipe["topk"])
            best = pre.topk(min(top, pre.shape[1]), 1)
            kept = torch.zeros_like(pre).scatter_(1, best.indices, best.values)
            return kept * scale  # atoms are unit rows: a code is the concept's length in activation units
        return nnls(x.clamp_min(0), atoms)

    def reconstruct(self, codes: torch.Tensor) -> torch.Tensor:
        """Activation vectors (N, C) from codes (N, K)."""
        out = codes.float() @ self.atoms.to(codes.device, torch.float32)
        if self.method == "sae":
            out = out + self.encoder["center"].to(codes.device) * self.encoder["scale"].to(codes.device)
        return out


def nnls(x: torch.Tensor, atoms: torch.Tensor, steps: int = _NNLS_STEPS) -> torch.Tensor:
    """Non-negative codes W (N, K) with ``W @ atoms`` close to ``x`` (N, C), both non-negative:
    Lee and Seung's multiplicative updates with the atoms held fixed (NMF's own code step)."""
    gram = atoms @ atoms.T  # (K, K)
    xa = x @ atoms.T  # (N, K)
    w = xa.clamp_min(0) / gram.diagonal().clamp_min(1e-12) / atoms.shape[0] + 1e-6
    for _ in range(steps):
        w = w * xa / (w @ gram).clamp_min(1e-12)
    return w


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
    return _load(str(p.resolve()), stat.st_mtime_ns, stat.st_size, str(path))


@lru_cache(maxsize=16)
def _load(resolved: str, mtime: int, size: int, shown: str) -> ConceptDictionary:
    from safetensors import SafetensorError, safe_open

    def refuse(why: str) -> ConfigError:
        return ConfigError(f"concept dictionary {shown!r} {why}", field="dictionary")

    try:
        with safe_open(resolved, framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {name: fh.get_tensor(name) for name in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise refuse(f"is not a dictionary (not a safetensors file: {str(exc).splitlines()[0][:120]})") from None
    if _KEY not in meta:
        raise refuse("is a safetensors file but no concept dictionary (no recipe); inceptionism concepts writes them")
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
    norms = atoms.norm(dim=1)
    if not bool(((norms - 1).abs() < 1e-3).all()):
        raise refuse("has atoms that are not unit directions")
    encoder = {}
    if method == "sae":
        c = atoms.shape[1]
        want = {"weight": (k, c), "bias": (k,), "center": (c,), "scale": ()}
        for name, shape in want.items():
            t = tensors.get(f"encoder.{name}")
            if t is None or tuple(t.shape) != shape:
                raise refuse(f"has an SAE encoder.{name} of shape {None if t is None else tuple(t.shape)}; "
                             f"expected {shape}")
            if not bool(torch.isfinite(t.float()).all()):
                raise refuse(f"has an SAE encoder.{name} that is not finite")
            encoder[name] = t.float()
        if not float(encoder["scale"]) > 0 or int(recipe.get("topk", 0)) < 1:
            raise refuse("has an SAE scale or topk out of range")
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
    if facts.channels != dictionary.channels:
        raise LayerError(f"concept dictionary {shown!r} has {dictionary.channels}-channel atoms; layer "
                         f"{dictionary.layer!r} has {facts.channels} channels", field="dictionary")
    recorded = recipe.get("probe")
    if recorded is not None:
        here = facts.probe().float().cpu()
        there = torch.tensor(recorded, dtype=torch.float32)
        fit = float(torch.corrcoef(torch.stack([here, there]))[0, 1]) if len(there) == len(here) else 0.0
        if not fit > 0.99:
            raise LayerError(f"concept dictionary {shown!r} was not learned on layer {dictionary.layer!r} of "
                             f"{network} (the layer answers a fixed picture otherwise: correlation {fit:.2f}); "
                             "learn one for it", field="dictionary")
