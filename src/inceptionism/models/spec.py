"""The spec of a dreamable network: everything model-specific the generic engine needs.

Importing this module does not import torch (``inceptionism models`` lists the networks
without it); the loaded model the engine works with is :class:`~inceptionism.models.loaded.LoadedModel`."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

if TYPE_CHECKING:
    import torch
    from torch import nn


__all__ = ["ModelSpec", "Source", "InputRule", "Tokens", "Shape", "Measured", "CROP"]

CROP = 0.875  # classifying: the centre input_size square of the picture scaled to input_size / CROP (ImageNet's habit)


@dataclass(frozen=True)
class Source:
    """Where a network's weights can be downloaded from, and their pinned checksum."""

    url: str
    filename: str  # name in the cache folder
    sha256: str | None  # full hex digest, or a prefix of it; None = not pinned

    def hint(self, name: str) -> str:
        """The first thing a missing-weights error offers: the one command that gets them."""
        if self.sha256:
            return f"get them with 'inceptionism models fetch {name}' (a download verified against a pinned SHA-256)"
        return (f"download them with 'inceptionism models fetch {name} --sha256 HEX' (no checksum is pinned for it: "
                "give the one you trust)")


class Placement(NamedTuple):
    """A picture inside the input the network is given: the fitted size, the padding before
    it, and the picture's own size there."""

    height: int
    width: int
    top: int
    left: int
    inner_height: int
    inner_width: int


@dataclass(frozen=True)
class InputRule:
    """The input sizes a network takes. Every picture, tile and octave is fitted to the rule
    inside the forward pass (:meth:`LoadedModel.forward`), so the engine needs no case per
    network: a side is padded up to a ``multiple`` (a patch size), or, for a network that
    takes one size only (``fixed``), a piece smaller than it is padded to it; the engine's
    tiles are never larger (``engine.tiles.auto_tile_size``), and anything larger (a whole
    picture classified, a large visualization) is seen shrunk to it. The padding mirrors the picture
    (or repeats its edge, for a pad wider than the picture); activations are cropped back to
    the picture's own area (``taps``)."""

    multiple: int = 1
    fixed: int | None = None

    def place(self, height: int, width: int) -> Placement:
        """Where a ``height`` x ``width`` input goes in the fitted one (an input larger than a
        ``fixed`` size is first shrunk to fit it)."""
        if self.fixed is not None:
            scale = min(1.0, self.fixed / max(height, width))
            height, width = max(1, round(height * scale)), max(1, round(width * scale))
            fitted = (self.fixed, self.fixed)
        else:
            fitted = (-(-height // self.multiple) * self.multiple, -(-width // self.multiple) * self.multiple)
        return Placement(fitted[0], fitted[1], (fitted[0] - height) // 2, (fitted[1] - width) // 2, height, width)

    def fit(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, 3, H, W) shrunk and padded as :meth:`place` says (differentiable)."""
        import torch

        place = self.place(*x.shape[-2:])
        inner = (place.inner_height, place.inner_width)
        if inner != tuple(x.shape[-2:]):  # larger than the one size: not a dream's tile, seen smaller
            x = torch.nn.functional.interpolate(x, size=inner, mode="bilinear", align_corners=False, antialias=True)
        if (place.height, place.width) == inner:
            return x
        pads = (place.left, place.width - inner[1] - place.left, place.top, place.height - inner[0] - place.top)
        mode = "reflect" if max(pads[:2]) < inner[1] and max(pads[2:]) < inner[0] else "replicate"
        return torch.nn.functional.pad(x, pads, mode=mode)

    @property
    def plain(self) -> bool:
        """Whether every size is taken as it is (most convolutional networks)."""
        return self == InputRule()


@dataclass(frozen=True)
class Tokens:
    """A transformer's token sequences (B, N, C): N is ``prefix`` tokens (class, register,
    distillation) then one token per ``patch`` x ``patch`` square of the input, row by row.
    Read from the network itself (its patch embedding and prefix count)."""

    patch: int
    prefix: int = 0


class Measured(NamedTuple):
    """A network's size facts: the input sizes it takes, how its token layers lie, the smallest
    side it dreams on, and the options it must be built with for them (timm's
    ``dynamic_img_size``)."""

    inputs: InputRule = InputRule()
    tokens: Tokens | None = None
    min_size: int = 32
    options: dict[str, Any] = {}


class Shape:
    """:class:`Measured` facts, given (``Shape(min_size=75)``) or read from the architecture on
    first use (``Shape(measure=fn)``), once, whichever thread asks first. A timm or torchvision
    architecture is built (and, for some, run at small sizes) to read them: listing the
    networks built eight of them, 1.1 GB and a second more, to show none of these facts."""

    def __init__(self, inputs: InputRule = InputRule(), tokens: Tokens | None = None, min_size: int = 32, *,
                 measure: Callable[[], Measured] | None = None) -> None:
        self._facts = None if measure is not None else Measured(inputs, tokens, min_size)
        self._measure = measure
        self._lock = threading.Lock()

    @property
    def facts(self) -> Measured:
        if self._facts is None:
            with self._lock:
                if self._facts is None:
                    self._facts = self._measure()  # type: ignore[misc]
        return self._facts

    @property
    def measured(self) -> bool:
        """Whether the facts are known yet (without reading them)."""
        return self._facts is not None

    @property
    def given(self) -> bool:
        """Whether the facts were given with the network (this package's own networks, whose
        layers it knows), not read from an architecture."""
        return self._measure is None


@dataclass(frozen=True)
class ModelSpec:
    """Everything model-specific the generic engine needs, in one place.

    The engine always works on RGB images with values in [0, 1]; ``preprocess`` maps
    such a batch into what the network was trained on (colour order, value range,
    mean/std), inside the differentiable forward pass.
    """

    name: str  # registry name, e.g. "efficientnet-lite0"
    build: Callable[[], nn.Module]  # architecture with random weights
    load_weights: Callable[[nn.Module], str]  # loads the weights in place; returns their SHA-256
    weights_source: str  # one line: where the weights come from
    mean: tuple[float, float, float]  # per-channel mean in the network's value range and colour order
    std: tuple[float, float, float]  # per-channel std, likewise
    value_scale: float = 1.0  # 1.0: inputs in 0..1 before mean/std; 255.0: inputs in 0..255
    bgr: bool = False  # True when the network expects BGR channel order
    default_layers: str = ""  # layers used when a preset names none for this model
    preset_layers: dict[str, str] = field(default_factory=dict)  # preset name -> layers
    description: str = ""  # one line for listings
    load_file: Callable[[nn.Module, Path], str] | None = None  # reads a user's weights file (default: state dicts)
    weights_file: Callable[[], Path] | None = None  # where the weights are, without building the model
    labels: str | tuple[str, ...] | None = None  # label set ("imagenet-1k") or the class names; None: not a classifier
    download: Source | None = None  # official download of the weights; None = they ship with a package or a file
    input_size: int = 224  # square side the network classifies best at (centre crop of the picture, see CROP)
    # Hardware classes (precision.CLASSES) where bf16 was measured faster than fp32 and as good for
    # this network (benchmarks/bench_precision.py networks): precision "auto" picks bf16 there only.
    bf16_faster: frozenset[str] = frozenset()
    shape: Shape = field(default_factory=Shape)  # input sizes, tokens, smallest side: given or measured on first use

    @property
    def min_size(self) -> int:
        """The smallest image side the network can dream on."""
        return self.shape.facts.min_size

    @property
    def inputs(self) -> InputRule:
        """The input sizes it takes (patch multiples, one fixed size)."""
        return self.shape.facts.inputs

    @property
    def tokens(self) -> Tokens | None:
        """How its token layers map onto the input (transformers); None for a plain network."""
        return self.shape.facts.tokens

    @property
    def probe_size(self) -> int:
        """The side of the small square the network is probed on when the answer does not
        depend on the size (which convolutions fold, which layers there are and their
        channels): a pass at it costs a fraction of one at ``input_size``."""
        return max(64, self.min_size)

    def layers_for(self, preset: str | None) -> str:
        """The layer list a preset dreams on with this model."""
        return self.preset_layers.get(preset or "", self.default_layers)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Map RGB in [0, 1], shape (B, 3, H, W), into the network's input space."""
        import torch

        if self.bgr:
            x = x.flip(1)
        mean = torch.tensor(self.mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x * self.value_scale - mean) / std

