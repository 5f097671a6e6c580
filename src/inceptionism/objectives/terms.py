"""The objective type and the terms that read one picture at a time: a layer, a channel,
a neuron, a class, a guide."""

from __future__ import annotations

from typing import Callable, Mapping

import torch

from ..errors import ConfigError, LayerError

__all__ = ["OUTPUT", "Activations", "Objective", "layer", "channel", "neuron", "class_logit", "avoid_classes",
           "guide", "total", "MAX_TERMS", "MAX_WEIGHT"]

Activations = Mapping[str, torch.Tensor]
OUTPUT = "@output"  # capture key of the network's final output (class logits)
MAX_TERMS = 256  # terms in one objective (layers, chosen channels): beyond, a request only costs time
MAX_WEIGHT = 1e6  # |weight| of a term: larger ones overflow float32 in the sum


class Objective:
    """A scalar function of activations that records the layers it reads.

    Calling it returns the value per image in the batch, shape (B,).
    """

    def __init__(self, fn: Callable[[Activations], torch.Tensor], layers: frozenset[str], text: str) -> None:
        self._fn = fn
        self.layers = layers
        self.text = text

    def __call__(self, acts: Activations) -> torch.Tensor:
        return self._fn(acts)

    def __add__(self, other: "Objective") -> "Objective":
        return Objective(lambda a: self(a) + other(a), self.layers | other.layers, f"{self.text},{other.text}")

    def __sub__(self, other: "Objective") -> "Objective":
        return self + (-other)

    def __mul__(self, weight: float) -> "Objective":
        weight = float(weight)
        return Objective(lambda a: self(a) * weight, self.layers, f"{self.text}*{weight:g}")

    __rmul__ = __mul__

    def __neg__(self) -> "Objective":
        return self * -1.0

    def __repr__(self) -> str:
        return f"Objective({self.text!r})"


def _reduce(x: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "l2":
        return x.square().flatten(1).mean(1)
    if kind == "mean":
        return x.flatten(1).mean(1)
    raise ConfigError(f"objective {kind!r} is not one of l2, mean")


def layer(name: str, *, kind: str = "l2") -> Objective:
    """All channels of a layer: mean of squared activations (``l2``) or plain mean."""
    return Objective(lambda a: _reduce(a[name], kind), frozenset([name]), name)


def channel(name: str, index: int, *, kind: str = "l2") -> Objective:
    """One channel of a layer."""

    def fn(acts: Activations) -> torch.Tensor:
        x = acts[name]
        if not 0 <= index < x.shape[1]:
            raise LayerError(f"channel {index} is out of range for layer {name!r}: 0 to {x.shape[1] - 1}")
        return _reduce(x[:, index], kind)

    return Objective(fn, frozenset([name]), f"{name}:{index}")


def neuron(name: str, index: int, y: int, x: int, *, reference: tuple[int, int] | None = None) -> Objective:
    """One channel at one position (y, x) of a layer.

    ``reference`` is the layer's (height, width) for which (y, x) was given; at other
    image sizes (octaves) the position is scaled to match.
    """

    def fn(acts: Activations) -> torch.Tensor:
        a = acts[name]
        height, width = a.shape[-2:]
        ref_h, ref_w = reference or (height, width)
        yy = min(height - 1, round(y * height / ref_h))
        xx = min(width - 1, round(x * width / ref_w))
        return a[:, index, yy, xx]

    return Objective(fn, frozenset([name]), f"{name}:{index}@{y},{x}")


def class_logit(index: int) -> Objective:
    """The network's logit for one class: dream that class into the picture."""
    return Objective(lambda a: a[OUTPUT][:, index], frozenset([OUTPUT]), f"class:{index}")


def avoid_classes(indices: list[int]) -> Objective:
    """Log of the summed probability of ``indices``; weight it negatively to suppress them."""
    idx = torch.tensor(sorted(set(indices)))

    def fn(acts: Activations) -> torch.Tensor:
        logits = acts[OUTPUT].float()
        return torch.logsumexp(logits[:, idx.to(logits.device)], 1) - torch.logsumexp(logits, 1)

    return Objective(fn, frozenset([OUTPUT]), f"classes:{len(idx)}")


def guide(name: str, features: torch.Tensor) -> Objective:
    """Guided dream: match each position to its best guide feature (the classic guide).

    Args:
        name: the layer.
        features: the guide's activations at that layer, shape (C, M): M feature
            vectors, from one or several guide images.

    At every position of the dream's activations, the guide vector with the largest
    dot product is chosen (held fixed for the gradient) and that dot product is
    maximized, so each region grows towards what it already most resembles in the guide.
    """

    def fn(acts: Activations) -> torch.Tensor:
        x = acts[name].flatten(2)  # (B, C, N)
        g = features.to(x.device, x.dtype)
        with torch.no_grad():
            best = torch.einsum("bcn,cm->bnm", x, g).argmax(-1)  # (B, N)
        matched = g[:, best].permute(1, 0, 2)  # (B, C, N)
        return (x * matched).sum(1).mean(1)

    return Objective(fn, frozenset([name]), f"guide:{name}")


def total(parts: list[Objective]) -> Objective:
    """The sum of ``parts``, as one flat sum (``a + b + c ...`` nests a call per term: a few
    hundred of them exhaust Python's recursion limit)."""
    if len(parts) == 1:
        return parts[0]

    def summed(acts: Activations) -> torch.Tensor:
        value = parts[0](acts)
        for part in parts[1:]:  # in order, as (a + b) + c adds
            value = value + part(acts)
        return value

    return Objective(summed, frozenset().union(*(p.layers for p in parts)), ",".join(p.text for p in parts))
