"""Capture activations by module path, running a model only as far as needed.

``capture(model, layers)`` registers forward hooks on the requested modules. Once the
last of them has produced its output, the hook stops the forward pass by raising a
private exception, so layers after the deepest requested one never run: dreaming on
an early layer costs only the early part of the network. Hooks are removed when the
context exits, also on error.
"""

from __future__ import annotations

import difflib
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Sequence

import torch
from torch import nn

from .errors import LayerError
from .models.fold import folded
from .models.spec import LoadedModel
from .objectives import OUTPUT

__all__ = ["LayerInfo", "auto_layers", "capture", "list_layers", "layer_info"]

_SKIP_TYPES = (nn.Identity, nn.Dropout, nn.Dropout2d)


class _StopForward(Exception):
    """Raised inside a hook once every requested activation has been captured."""


@dataclass(frozen=True)
class LayerInfo:
    """One dreamable layer: module path, channels and spatial size for a probe input."""

    name: str
    channels: int
    height: int
    width: int
    kind: str  # the module's class name

    def check_channel(self, channel: int) -> None:
        """Raise a LayerError giving the valid range unless ``channel`` exists in this layer."""
        if not 0 <= channel < self.channels:
            raise LayerError(f"channel {channel} is out of range for layer {self.name!r}: 0 to {self.channels - 1}")


class Capture:
    """Runs the model and returns ``{layer: activation}`` for the captured layers."""

    def __init__(self, model: LoadedModel, layers: Sequence[str]) -> None:
        self._model = model
        self._layers = list(dict.fromkeys(layers))
        self._store: dict[str, torch.Tensor] = {}
        self._remaining: set[str] = set()

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs, output) -> None:
            if name not in self._remaining:
                return  # a module called twice: keep its first output
            self._remaining.discard(name)
            if not isinstance(output, torch.Tensor):
                raise LayerError(f"layer {name!r} does not output a single tensor and cannot be dreamed on")
            if not self._remaining:
                self._store[name] = output
                raise _StopForward
            # Later layers may still modify this tensor in place (e.g. a residual "+=").
            self._store[name] = output.clone()

        return hook

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self._store = {}
        self._remaining = set(self._layers)
        try:
            self._model(x)
        except _StopForward:
            pass
        if self._remaining:
            missing = ", ".join(sorted(self._remaining))
            raise LayerError(f"layer(s) {missing} produced no output in the forward pass")
        return self._store


@contextmanager
def capture(model: LoadedModel, layers: Sequence[str]) -> Iterator[Capture]:
    """Hook ``layers`` (module paths inside ``model.net``) for the duration of the block.

    Example:
        >>> with capture(model, ["blocks.4.1.bn1"]) as run:
        ...     acts = run(torch.rand(1, 3, 64, 64))
        >>> acts["blocks.4.1.bn1"].shape[1]
        672
    """
    modules = dict(model.net.named_modules())
    modules[OUTPUT] = model.net  # the final output: class logits
    for name in layers:
        if name not in modules or name == "":
            raise unknown_layer_error(model, name)
    cap = Capture(model, layers)
    handles = [modules[name].register_forward_hook(cap._hook(name)) for name in cap._layers]
    try:
        # Batch norms folded into their convolutions, except where a convolution is itself
        # requested: every requested activation is what the unfolded network computes.
        with folded(model.net, model.folds, keep=cap._layers):
            yield cap
    finally:
        for handle in handles:
            handle.remove()


def unknown_layer_error(model: LoadedModel, name: str) -> LayerError:
    names = [info.name for info in list_layers(model, model.spec.probe_size)]
    near = difflib.get_close_matches(name, names, n=4, cutoff=0.5)
    hint = f"nearest: {', '.join(near)}" if near else f"for example {', '.join(names[len(names) // 2:][:3])}"
    return LayerError(
        f"unknown layer {name!r} in {model.spec.name}; {hint} (see 'inceptionism layers --model {model.spec.name}')"
    )


def list_layers(model: LoadedModel, size: int = 224) -> list[LayerInfo]:
    """Every dreamable layer in the order data flows, with channels and resolution.

    A layer is dreamable when its output is a (B, C, H, W) tensor. Pass-through
    wrappers (Identity, Dropout) and leaf modules that merely return their parent's
    output tensor are left out; they add names, not activations.
    """
    return list(_list_layers_cached(model, size))


@lru_cache(maxsize=16)
def _list_layers_cached(model: LoadedModel, size: int) -> tuple[LayerInfo, ...]:
    records: list[tuple[str, nn.Module, torch.Tensor]] = []
    handles = []
    for name, module in model.net.named_modules():
        if name and not isinstance(module, _SKIP_TYPES):
            handles.append(
                module.register_forward_hook(
                    lambda m, i, o, name=name: records.append((name, m, o)) if isinstance(o, torch.Tensor) else None
                )
            )
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, device=model.device))
    finally:
        for handle in handles:
            handle.remove()
    by_name = {name: out for name, _, out in records}
    infos = []
    for name, module, out in records:
        if out.dim() != 4:
            continue
        parent = name.rpartition(".")[0]
        is_leaf = next(module.children(), None) is None
        if is_leaf and parent in by_name and by_name[parent] is out:
            continue
        infos.append(LayerInfo(name, out.shape[1], out.shape[2], out.shape[3], type(module).__name__))
    return tuple(infos)


def layer_info(model: LoadedModel, name: str, size: int = 224) -> LayerInfo:
    """Info about one layer by module path, its height and width for a ``size`` px square;
    unknown names list the nearest valid ones."""
    for info in list_layers(model, size):
        if info.name == name:
            return info
    # A valid module hidden from the listing (e.g. an activation leaf) is still allowed.
    modules = dict(model.net.named_modules())
    if name and name in modules:
        with capture(model, [name]) as run, torch.no_grad():
            out = run(torch.zeros(1, 3, size, size, device=model.device))[name]
        if out.dim() == 4:
            return LayerInfo(name, out.shape[1], out.shape[2], out.shape[3], type(modules[name]).__name__)
        raise LayerError(f"layer {name!r} outputs shape {tuple(out.shape)}; dreamable layers output (B, C, H, W)")
    raise unknown_layer_error(model, name)


def auto_layers(model: LoadedModel) -> str:
    """Two dream layers for a network without tuned ones: blocks at 60% and 75% of its depth.

    Mid-to-late blocks give the classic DeepDream look (eyes, animal parts); the
    earliest give textures and the last ones are too specific. Modules with children
    (blocks, stages, Inception mixes) are preferred over single convolutions.
    """
    layers = list_layers(model, model.spec.probe_size)  # names and order: the same at any size
    modules = dict(model.net.named_modules())
    blocks = [info for info in layers if next(modules[info.name].children(), None) is not None]
    top = min((info.name.count(".") for info in blocks), default=0)
    shallow = [info for info in blocks if info.name.count(".") == top]  # Mixed_6a, inception4c, layer3
    pool = shallow if len(shallow) >= 4 else blocks if len(blocks) >= 4 else layers
    picks = dict.fromkeys(pool[min(len(pool) - 1, int(len(pool) * f))].name for f in (0.6, 0.75))
    return ",".join(picks)
