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

__all__ = [
    "OUTPUT",
    "split_terms",
    "Objective",
    "layer",
    "channel",
    "neuron",
    "class_logit",
    "avoid_classes",
    "guide",
    "per_item_channels",
    "per_item_classes",
    "parse",
    "parse_terms",
    "LayerTerm",
    "total",
    "MAX_TERMS",
]

Activations = Mapping[str, torch.Tensor]
OUTPUT = "@output"  # capture key of the network's final output (class logits)
MAX_TERMS = 256  # terms in one objective (layers, chosen channels): beyond, a request only costs time
MAX_WEIGHT = 1e6  # |weight| of a term: larger ones overflow float32 in the sum
_TERM = re.compile(
    r"^(?P<layer>[^:*@\s]+)(?::(?P<channel>[^*@\s]+))?(?:@(?P<pos>[^*\s]+))?(?:\*(?P<weight>\S+))?$"
)


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


def per_item_channels(name: str, channels: list[int]) -> Objective:
    """For a batch: item k maximizes the mean of channel ``channels[k]``."""
    idx = torch.tensor(channels)

    def fn(acts: Activations) -> torch.Tensor:
        a = acts[name]
        rows = torch.arange(a.shape[0], device=a.device)
        return a[rows, idx.to(a.device)].flatten(1).mean(1)

    return Objective(fn, frozenset([name]), f"{name}:{','.join(map(str, channels))}")


def per_item_classes(indices: list[int]) -> Objective:
    """For a batch: item k maximizes the logit of class ``indices[k]``."""
    idx = torch.tensor(indices)

    def fn(acts: Activations) -> torch.Tensor:
        logits = acts[OUTPUT]
        return logits[torch.arange(logits.shape[0], device=logits.device), idx.to(logits.device)]

    return Objective(fn, frozenset([OUTPUT]), f"classes:{','.join(map(str, indices))}")


@dataclass(frozen=True)
class LayerTerm:
    """One parsed ``LAYER[:CHANNEL][*WEIGHT]`` term."""

    layer: str  # module path, or "class" for a class logit
    channel: int | None = None  # channel, or the class index for "class" terms
    weight: float = 1.0
    position: tuple[int, int] | None = None  # (y, x) of a single neuron
    class_name: str | None = None  # a "class" term's class as typed, when given by name

    @property
    def whole(self) -> bool:
        """A whole layer (no channel, not a class): what guides match at and --channels picks from."""
        return self.layer != "class" and self.channel is None


def split_terms(text: str) -> list[str]:
    """Split on commas, except the one inside a neuron position ``@Y,X``."""
    items: list[str] = []
    for piece in text.split(","):
        if items and "@" in items[-1] and "," not in items[-1].split("@", 1)[1]:
            items[-1] += "," + piece
        else:
            items.append(piece)
    return items


def parse_terms(text: str) -> list[LayerTerm]:
    """Parse a comma list of ``LAYER[:CHANNEL[@Y,X]][*WEIGHT]`` and ``class:CLASS[*WEIGHT]`` terms.

    Example:
        >>> parse_terms("blocks.5.0.bn1:12*0.5")
        [LayerTerm(layer='blocks.5.0.bn1', channel=12, weight=0.5, position=None, class_name=None)]
    """
    terms = []
    for raw in split_terms(text):
        item = raw.strip()
        match = _TERM.match(item)
        if not match:
            raise ConfigError(f"layer term {item!r} is not of the form LAYER[:CHANNEL[@Y,X]][*WEIGHT] or class:CLASS")
        chan_text, weight_text, pos_text = match["channel"], match["weight"], match["pos"]
        weight = _weight(item, weight_text)
        if match["layer"] == "class":
            terms.append(_class_term(item, chan_text, weight))
            continue
        try:
            chan = int(chan_text) if chan_text is not None else None
        except ValueError:
            raise ConfigError(f"channel {chan_text!r} in {item!r} is not a whole number") from None
        if chan is not None and chan < 0:
            raise LayerError(f"channel {chan} in {item!r} is negative; channels count from 0")
        terms.append(LayerTerm(match["layer"], chan, weight, _position(item, pos_text, chan)))
    if len(terms) > MAX_TERMS:
        raise ConfigError(f"layers has {len(terms)} terms; at most {MAX_TERMS}", field="layers")
    return terms


def _weight(item: str, text: str | None) -> float:
    if text is None:
        return 1.0
    try:
        weight = float(text)
    except ValueError:
        raise ConfigError(f"weight {text!r} in {item!r} is not a number") from None
    if not abs(weight) <= MAX_WEIGHT:  # NaN fails this too
        raise ConfigError(f"weight {text!r} in {item!r} must be a finite number from {-MAX_WEIGHT:g} to {MAX_WEIGHT:g}")
    return weight


def _class_term(item: str, class_text: str | None, weight: float) -> LayerTerm:
    if not class_text:
        raise ConfigError(f"class term {item!r} needs a class: class:INDEX or class:NAME")
    if class_text.isdigit():
        return LayerTerm("class", int(class_text), weight)
    return LayerTerm("class", None, weight, class_name=class_text.replace("_", " "))


def _position(item: str, text: str | None, chan: int | None) -> tuple[int, int] | None:
    if text is None:
        return None
    if chan is None:
        raise ConfigError(f"neuron {item!r} needs a channel: LAYER:CHANNEL@Y,X")
    try:
        y_text, x_text = text.split(",")
        y, x = int(y_text), int(x_text)
    except ValueError:
        raise ConfigError(f"position {text!r} in {item!r} is not of the form Y,X with whole numbers") from None
    if y < 0 or x < 0:
        raise LayerError(f"position {y},{x} in {item!r} is outside the layer; positions count from 0")
    return y, x


def parse(
    text: str,
    *,
    kind: str = "l2",
    classes: Callable[[str], int] | None = None,
    make: Callable[[LayerTerm], Objective] | None = None,
) -> Objective:
    """Turn a ``--layers`` string into one summed objective.

    ``classes`` turns a class name into its index (needed only for ``class:NAME``);
    ``make`` builds each term's unweighted objective instead of :func:`term_objective`
    (the dream's steering uses it for guides and neuron positions).
    """
    make = make or (lambda term: term_objective(term, kind=kind, classes=classes))
    parts = [make(term) * term.weight if term.weight != 1.0 else make(term) for term in parse_terms(text)]
    if not parts:
        raise ConfigError("no layers given; expected LAYER[:CHANNEL][*WEIGHT],...", field="layers")
    return total(parts)


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


def term_objective(
    term: LayerTerm,
    *,
    kind: str = "l2",
    classes: Callable[[str], int] | None = None,
    reference: tuple[int, int] | None = None,
) -> Objective:
    """The unweighted objective of one parsed term."""
    if term.layer == "class":
        index = term.channel
        if index is None:
            if classes is None:
                raise ConfigError(f"class name {term.class_name!r} needs a model with class names")
            index = classes(term.class_name or "")
        return class_logit(index)
    if term.channel is None:
        return layer(term.layer, kind=kind)
    if term.position is not None:
        return neuron(term.layer, term.channel, *term.position, reference=reference)
    return channel(term.layer, term.channel, kind=kind)
