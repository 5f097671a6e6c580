"""Networks fine-tuned on a user's own motifs (``inceptionism train``): the file format,
and the spec that makes such a file a network like any other.

A trained file is a ``.safetensors`` state dict of the whole network (the base network
with a new classifier) whose metadata, under :data:`META_KEY`, holds what is needed to
use it anywhere: the base network, the class names in output order, the preprocessing
and the size it was trained at. Everything that takes ``--weights`` reads it; files in
a trained-networks folder are offered by name as ``trained/NAME`` (the studio does
this with its data folder's ``networks``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from torch import nn

from ..errors import ModelError, cause
from .spec import ModelSpec
from .weights import load_file

__all__ = ["META_KEY", "TrainedInfo", "read_info", "trained_spec", "trained_source", "replace_head", "encode_trained",
           "PREFIX"]

META_KEY = "inceptionism.trained"  # safetensors metadata key of the JSON description
PREFIX = "trained/"  # model names of trained files found in a trained-networks folder
FORMAT = 1


@dataclass(frozen=True)
class TrainedInfo:
    """What a trained file says about itself."""

    base: str  # registry name of the network it was fine-tuned from
    classes: tuple[str, ...]  # class names, in output order
    image_size: int  # square side it was trained and is best classified at
    mean: tuple[float, float, float]  # preprocessing, as the base network's spec
    std: tuple[float, float, float]
    value_scale: float = 1.0
    bgr: bool = False
    head: str = "classifier"  # module path of the new classifier
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # training summary: epochs, accuracy, ...

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **dataclasses.asdict(self)})


def read_info(path: str | Path) -> TrainedInfo | None:
    """The description in a trained file; None for any other weights file (or no file)."""
    path = Path(path)
    if path.suffix != ".safetensors" or not path.is_file():
        return None
    try:
        text = _safetensors_metadata(path).get(META_KEY)
    except Exception as exc:  # not a safetensors file at all: say which one
        raise ModelError(f"cannot read weights file {str(path)!r}: it is not a .safetensors file ({cause(exc)})") from None
    if text is None:
        return None
    try:
        data = json.loads(text)
        data.pop("format", None)
        return TrainedInfo(**{**data, "classes": tuple(data["classes"]), "mean": tuple(data["mean"]),
                              "std": tuple(data["std"])})
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"weights file {str(path)!r} has a damaged description of its training: {cause(exc)}") from None


MAX_HEADER = 100_000_000  # safetensors' own bound on its JSON header


def _safetensors_metadata(path: Path) -> dict[str, str]:
    """A .safetensors file's ``__metadata__`` (its header: 8 bytes of length, then JSON), read
    without torch or the tensors, as listing the trained networks needs.

    Raises:
        ValueError: the file is not a safetensors file.
    """
    with open(path, "rb") as fh:
        size = int.from_bytes(fh.read(8), "little")
        if not 2 <= size <= MAX_HEADER:
            raise ValueError(f"header of {size} bytes")
        text = fh.read(size)
    if len(text) != size:
        raise ValueError("file cut short in its header")
    header = json.loads(text)
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError("metadata is not text")
    return metadata


def replace_head(net: nn.Module, classes: int) -> str:
    """Give ``net`` a new, untrained classifier with ``classes`` outputs; returns its module path.

    timm networks have their own ``reset_classifier``; for others the last ``nn.Linear``
    is replaced.

    Raises:
        ModelError: the network has no classifier to replace.
    """
    if hasattr(net, "reset_classifier") and hasattr(net, "get_classifier"):
        net.reset_classifier(classes)
        head = net.get_classifier()
        return next(name for name, module in net.named_modules() if module is head)
    from torch import nn

    linears = [(name, m) for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ModelError(f"{type(net).__name__} has no classifier layer (nn.Linear) to train")
    name, old = linears[-1]
    parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
    setattr(parent, name.rpartition(".")[2], nn.Linear(old.in_features, classes))
    return name


def _build(base_build: Callable[[], nn.Module], classes: int) -> nn.Module:
    net = base_build()
    replace_head(net, classes)
    return net


def trained_source(info: TrainedInfo, path: Path) -> str:
    """A trained network's weights source, as listings show it."""
    return f"trained from {info.base} on {len(info.classes)} classes ({Path(path).name})"


def trained_spec(base: ModelSpec, path: Path, info: TrainedInfo, name: str | None = None) -> ModelSpec:
    """The spec of the network in ``path``: ``base``'s layers and sizes, the file's weights,
    classes and preprocessing. ``name`` defaults to the base's (``--model`` stays valid)."""
    path = Path(path)
    return dataclasses.replace(
        base,
        name=name or base.name,
        build=partial(_build, base.build, len(info.classes)),
        load_weights=lambda net: load_file(net, path, name or base.name),
        weights_file=lambda: path,
        weights_source=trained_source(info, path),
        mean=info.mean,
        std=info.std,
        value_scale=info.value_scale,
        bgr=info.bgr,
        description=f"{info.base} fine-tuned on {', '.join(info.classes)}",
        load_file=None,
        labels=info.classes,
        download=None,
        input_size=info.image_size,
    )


def encode_trained(net: nn.Module, info: TrainedInfo) -> bytes:
    """The bytes of a trained file: ``net``'s weights with ``info`` as metadata."""
    from safetensors.torch import save

    state = {key: value.detach().contiguous().cpu() for key, value in net.state_dict().items()}
    return save(state, metadata={META_KEY: info.to_json()})
