"""Objectives: small composable callables over captured activations.

An objective maps ``{layer: activation}`` to one scalar per image and knows which
layers it needs. Objectives add, scale and negate::

    obj = layer("blocks.4.1.bn1") + 0.5 * channel("blocks.5.0.bn1", 12)

The string form used by ``--layers`` parses into the same thing::

    parse("blocks.4.1.bn1,blocks.5.0.bn1:12*0.5")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping

import torch

from .errors import ConfigError, LayerError

__all__ = ["Objective", "layer", "channel", "parse", "parse_terms", "LayerTerm"]

Activations = Mapping[str, torch.Tensor]
_TERM = re.compile(r"^(?P<layer>[^:*\s]+)(?::(?P<channel>[^*\s]+))?(?:\*(?P<weight>\S+))?$")


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


@dataclass(frozen=True)
class LayerTerm:
    """One parsed ``LAYER[:CHANNEL][*WEIGHT]`` term."""

    layer: str
    channel: int | None = None
    weight: float = 1.0


def parse_terms(text: str) -> list[LayerTerm]:
    """Parse a comma list of ``LAYER[:CHANNEL][*WEIGHT]`` terms.

    Example:
        >>> parse_terms("blocks.5.0.bn1:12*0.5")
        [LayerTerm(layer='blocks.5.0.bn1', channel=12, weight=0.5)]
    """
    terms = []
    for raw in text.split(","):
        item = raw.strip()
        match = _TERM.match(item)
        if not match:
            raise ConfigError(f"layer term {item!r} is not of the form LAYER[:CHANNEL][*WEIGHT]")
        chan_text, weight_text = match["channel"], match["weight"]
        try:
            chan = int(chan_text) if chan_text is not None else None
        except ValueError:
            raise ConfigError(f"channel {chan_text!r} in {item!r} is not a whole number") from None
        try:
            weight = float(weight_text) if weight_text is not None else 1.0
        except ValueError:
            raise ConfigError(f"weight {weight_text!r} in {item!r} is not a number") from None
        if chan is not None and chan < 0:
            raise LayerError(f"channel {chan} in {item!r} is negative; channels count from 0")
        terms.append(LayerTerm(match["layer"], chan, weight))
    return terms


def parse(text: str, *, kind: str = "l2") -> Objective:
    """Turn a ``--layers`` string into one summed objective."""
    total: Objective | None = None
    for term in parse_terms(text):
        part = layer(term.layer, kind=kind) if term.channel is None else channel(term.layer, term.channel, kind=kind)
        if term.weight != 1.0:
            part = part * term.weight
        total = part if total is None else total + part
    if total is None:
        raise ConfigError("no layers given; expected LAYER[:CHANNEL][*WEIGHT],...")
    return total
