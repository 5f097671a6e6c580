"""One objective over several networks: an ensemble named ``A+B+...`` is one network to the rest
of the package.

``efficientnet-lite0+efficientnet-lite1`` is a network whose output is the mean of its members'
class logits, each member seeing the picture at its own input size (the picture scaled by the
member's ``input_size`` over the first member's) and preprocessed its own way; its layers are its
members' layers under ``net0.``, ``net1.``, ... (``net1.blocks.5.0.bn1``), and it dreams every
member's default layers (a member without tuned ones its own blocks: ``taps.auto_layers``). So a
class term (``class:zebra``) climbs the class in
every member at once, a dream on the default layers dreams each member's favourite layers
together, and nothing else in the package needs to know: the capture, the folds, the octave plan
and the metadata treat it as any network (its name is written in every recipe and loads it
again). Members take their own weights (``--weights`` is refused), must share their classes, and
must take every input size as it is (no transformers: their token layouts belong to one network).

Importing this module imports no torch; building an ensemble does.
"""

from __future__ import annotations

import hashlib
import math
from functools import cache, partial
from typing import TYPE_CHECKING, Callable

from ..errors import ModelError
from .spec import Measured, ModelSpec, Shape
from .trained import PREFIX as TRAINED

if TYPE_CHECKING:
    from torch import nn

__all__ = ["SEPARATOR", "MAX_MEMBERS", "is_ensemble", "ensemble_spec", "member_prefix"]

SEPARATOR = "+"
MAX_MEMBERS = 4  # each member is a whole network's forward and backward pass per step


def is_ensemble(name: str) -> bool:
    """Whether ``name`` names an ensemble (``A+B``)."""
    return SEPARATOR in name


def member_prefix(k: int) -> str:
    """Member ``k``'s layers are its own under this prefix: ``net1.blocks.5.0.bn1``."""
    return f"net{k}."


def _members(name: str, get_spec: Callable[[str], ModelSpec]) -> list[ModelSpec]:
    names = [n.strip() for n in name.split(SEPARATOR)]
    if any(not n for n in names):
        raise ModelError(f"model {name!r}: an ensemble is network names joined by '+', none empty "
                         "(e.g. efficientnet-lite0+efficientnet-lite1)", field="model")
    if len(names) > MAX_MEMBERS:
        raise ModelError(f"model {name!r} joins {len(names)} networks; an ensemble takes 2 to {MAX_MEMBERS}",
                         field="model")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ModelError(f"model {name!r} names {', '.join(twice)} twice; each network of an ensemble once",
                         field="model")
    trained = next((n for n in names if n.startswith(TRAINED)), None)
    if trained is not None:
        raise ModelError(f"model {name!r}: {trained} cannot be in an ensemble (a trained network brings classes of "
                         "its own); join registered, timm/ or torchvision/ networks", field="model")
    specs = []
    for member in names:
        try:
            specs.append(get_spec(member))
        except ModelError as error:
            raise ModelError(f"in the ensemble {name!r}: {error}", field="model") from error
    first = specs[0]
    for spec in specs:
        if spec.labels is None or spec.labels != first.labels:
            raise ModelError(f"model {name!r}: the networks of an ensemble must share their classes ({first.name}: "
                             f"{_labels(first)}, {spec.name}: {_labels(spec)})", field="model")
    return specs


def _labels(spec: ModelSpec) -> str:
    if spec.labels is None:
        return "no classes"
    return spec.labels if isinstance(spec.labels, str) else f"{len(spec.labels)} classes of its own"


def _scale(spec: ModelSpec, first: ModelSpec) -> float:
    return spec.input_size / first.input_size


def _measure(specs: list[ModelSpec]) -> Measured:
    """The ensemble's size facts: every member takes any size (checked), and the smallest side
    is the one at which every member, at its own scale, gets its own smallest input."""
    for spec in specs:
        if spec.tokens is not None or not spec.inputs.plain:
            raise ModelError(f"{spec.name} cannot be in an ensemble: it takes only some input sizes or lays its "
                             "layers out as tokens (an ensemble's members take every size as it is)", field="model")
    smallest = max(math.ceil(spec.min_size / _scale(spec, specs[0])) for spec in specs)
    return Measured(min_size=smallest)


def _build(specs: list[ModelSpec]) -> "nn.Module":
    return Ensemble([spec.build() for spec in specs], specs)


def _load_weights(specs: list[ModelSpec], net: "nn.Module") -> str:
    """Each member's own weights; the ensemble's checksum is that of its members' checksums."""
    shas = [spec.load_weights(getattr(net, member_prefix(k)[:-1])) for k, spec in enumerate(specs)]
    return hashlib.sha256(SEPARATOR.join(shas).encode()).hexdigest()


def ensemble_spec(name: str, get_spec: Callable[[str], ModelSpec]) -> ModelSpec:
    """The spec of the ensemble ``name`` (``A+B+...``), its members' specs read with ``get_spec``.

    Raises:
        ModelError: a member unknown, named twice, trained, more than :data:`MAX_MEMBERS`,
            members with different classes or one that takes only some sizes.
    """
    specs = _members(name, get_spec)

    def layers(pick: Callable[[ModelSpec], str]) -> str:
        return ",".join(member_prefix(k) + layer for k, spec in enumerate(specs)
                        for layer in pick(spec).split(",") if layer)

    # Every member's own layers where each has tuned ones; else none, and taps.auto_layers picks
    # each member's (its tuned ones, or blocks at 60% and 75% of its own depth).
    tuned = all(spec.default_layers for spec in specs)
    presets = sorted({preset for spec in specs for preset in spec.preset_layers}) if tuned else []
    facts = _measure(specs)  # refused here, before the ensemble is built (a timm member's architecture may be)
    # Members whose layers this package knows have (B, C, H, W) maps all through; any other's
    # layouts are measured by the capture (a Shape given says they need not be).
    shape = Shape(min_size=facts.min_size) if all(spec.shape.given for spec in specs) else Shape(measure=lambda: facts)
    first = specs[0]
    return ModelSpec(
        name=SEPARATOR.join(spec.name for spec in specs),
        build=partial(_build, specs),
        load_weights=partial(_load_weights, specs),
        weights_source="each network's own: " + "; ".join(f"{spec.name}: {spec.weights_source}" for spec in specs),
        mean=(0.0, 0.0, 0.0),  # each member preprocesses the picture its own way
        std=(1.0, 1.0, 1.0),
        default_layers=layers(lambda spec: spec.default_layers) if tuned else "",
        preset_layers={preset: layers(lambda spec: spec.layers_for(preset)) for preset in presets},
        description="the mean of " + ", ".join(f"{spec.name} at {spec.input_size} px" for spec in specs)
                    + ": one objective over several networks",
        labels=first.labels,
        input_size=first.input_size,
        bf16_faster=frozenset.intersection(*(spec.bf16_faster for spec in specs)),
        shape=shape,
    )


@cache
def _ensemble_class() -> type:
    import torch
    from torch import nn

    class _Ensemble(nn.Module):
        """The members' networks as ``net0``, ``net1``...; the output is the mean of their
        outputs, each member seeing the picture (RGB in [0, 1]) at its own scale, preprocessed
        its own way."""

        def __init__(self, nets: list[nn.Module], specs: list[ModelSpec]) -> None:
            super().__init__()
            for k, net in enumerate(nets):
                self.add_module(member_prefix(k)[:-1], net)
            self._scales = [_scale(spec, specs[0]) for spec in specs]
            self.members = [(member_prefix(k), spec) for k, spec in enumerate(specs)]  # (prefix, spec) in order

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            height, width = x.shape[-2:]
            total = None
            for (prefix, spec), scale in zip(self.members, self._scales):
                seen = x
                if scale != 1.0:
                    size = (max(1, round(height * scale)), max(1, round(width * scale)))
                    seen = torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False,
                                                           antialias=scale < 1)
                out = getattr(self, prefix[:-1])(spec.preprocess(seen))
                total = out if total is None else total + out
            return total / len(self.members)

    return _Ensemble


def Ensemble(nets: list["nn.Module"], specs: list[ModelSpec]) -> "nn.Module":
    """The ensemble's network (see the module's docstring); torch imported on first use."""
    return _ensemble_class()(nets, specs)
