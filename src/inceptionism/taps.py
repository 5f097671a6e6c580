"""Capture activations by module path, running a model only as far as needed.

``capture(model, layers)`` registers forward hooks on the requested modules. Once the
last of them has produced its output, the hook stops the forward pass by raising a
private exception, so layers after the deepest requested one never run: dreaming on
an early layer costs only the early part of the network. Hooks are removed when the
context exits, also on error.

Every activation is handed on as a feature map (B, C, H, W), whatever the layer's own
layout: a transformer's token sequence (B, N, C) becomes its grid of patches (its prefix
tokens dropped; the grid's shape from the network's patch size and the input's, see
``ModelSpec.tokens``), and a channels-last output (B, H, W, C), as in Swin, is turned
round. Which layout a layer has is measured once per network, by running it at two
sizes and seeing which dimensions follow the input (:func:`layouts`). Where the input
was padded to a size the network takes (``ModelSpec.inputs``), the map is cropped back
to the picture's own area.
"""

from __future__ import annotations

import difflib
import math
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import nn

from .errors import LayerError
from .models.fold import folded
from .models.loaded import LoadedModel
from .objectives import OUTPUT

__all__ = ["LayerInfo", "auto_layers", "capture", "edited", "probe_means", "list_layers", "layer_info", "layouts", "as_map"]

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


def _probe_sizes(model: LoadedModel) -> tuple[tuple[int, int], tuple[int, int]]:
    """Two inputs of different heights, large enough that every stage's windows differ."""
    side = max(model.spec.probe_size, model.spec.input_size)
    side = -(-side // model.spec.inputs.multiple) * model.spec.inputs.multiple
    return (side, side), (2 * side, side)


def _outputs(model: LoadedModel, height: int, width: int) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """Every module's tensor output, in the order they ran, for a ``height`` x ``width`` input."""
    records: list[tuple[str, nn.Module, torch.Tensor]] = []
    handles = [module.register_forward_hook(lambda m, i, o, name=name: records.append((name, m, o))
                                            if isinstance(o, torch.Tensor) else None)
               for name, module in model.net.named_modules() if name and not isinstance(module, _SKIP_TYPES)]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, height, width, device=model.device))
    finally:
        for handle in handles:
            handle.remove()
    return records


def layouts(model: LoadedModel) -> dict[str, str]:
    """Each module's output layout: "nchw", "nhwc" (channels last) or "tokens:P" (B, N, C), its
    first P tokens not patches;
    modules whose output is none of these are left out. Measured, not guessed: the network
    runs at two sizes, and the dimensions that follow the input's height are the spatial ones."""
    return dict(_layouts_cached(model))


@lru_cache(maxsize=16)
def _layouts_cached(model: LoadedModel) -> tuple[tuple[str, str], ...]:
    small, tall = _probe_sizes(model)
    first = {name: out.shape for name, _, out in _outputs(model, *small)}
    second = {name: out.shape for name, _, out in _outputs(model, *tall)}
    found = []
    for name, shape in first.items():
        other = second.get(name, shape)
        if shape[0] != 1 or len(other) != len(shape):  # not one map per picture (attention's windows, heads)
            continue
        if len(shape) == 4:
            if shape == other and model.spec.inputs.fixed is not None:  # one size: (B, C, H, W), unless token by token
                if model.spec.tokens is None or not _grid(model, shape[-1] - model.spec.tokens.prefix, *small) \
                        and not _grid(model, shape[-1], *small):
                    found.append((name, "nchw"))
            elif shape[1] == other[1] and shape[2] != other[2]:  # the height follows the input's
                found.append((name, "nchw"))
            elif shape[3] == other[3] and shape[1] != other[1]:
                found.append((name, "nhwc"))
            elif model.spec.tokens is None:  # its size does not follow the input's (a pooled map): (B, C, H, W)
                found.append((name, "nchw"))
        elif len(shape) == 3 and model.spec.tokens is not None:
            prefix = next((p for p in (model.spec.tokens.prefix, 0) if _grid(model, shape[1] - p, *small)), None)
            if prefix is not None:  # one token a patch, after the prefix (CaiT's patch blocks carry none)
                found.append((name, f"tokens:{prefix}"))
    return tuple(found)


def _known_layouts(model: LoadedModel) -> dict[str, str] | None:
    """:func:`layouts`, or None for one of this package's own networks whose maps are all
    (B, C, H, W) (no tokens, every size taken): it is not probed. Any other architecture is:
    a network without tokens may still lay its maps out channels last (torchvision's Swin)."""
    plain = model.spec.tokens is None and model.spec.inputs.plain and model.spec.shape.given
    return None if plain else layouts(model)


def _grid(model: LoadedModel, count: int, height: int, width: int) -> tuple[int, int] | None:
    """The patch grid of ``count`` tokens (the prefix taken off) for a ``height`` x ``width``
    input, or None when they are not one token per patch."""
    patch = model.spec.tokens.patch
    place = model.spec.inputs.place(height, width)
    rows, cols = place.height // patch, place.width // patch
    return (rows, cols) if count == rows * cols else None


def as_map(model: LoadedModel, layout: str, out: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``out``, a layer's output for a ``height`` x ``width`` input, as (B, C, H, W) over the
    picture's own area (see the module's docstring)."""
    if layout == "nhwc":
        out = out.permute(0, 3, 1, 2)
    elif layout.startswith("tokens:"):
        prefix = int(layout.partition(":")[2])
        grid = _grid(model, out.shape[1] - prefix, height, width)
        if grid is None:
            raise LayerError(f"a layer of {model.spec.name} gave {out.shape[1]} tokens, not one a patch")
        out = out[:, prefix:].unflatten(1, grid).permute(0, 3, 1, 2)
    place = model.spec.inputs.place(height, width)
    if (place.height, place.width) == (height, width):
        return out
    rows, cols = out.shape[-2:]
    r0, c0 = place.top * rows // place.height, place.left * cols // place.width
    r1 = max(r0 + 1, math.ceil((place.top + place.inner_height) * rows / place.height))
    c1 = max(c0 + 1, math.ceil((place.left + place.inner_width) * cols / place.width))
    return out[:, :, r0:r1, c0:c1]


class Capture:
    """Runs the model and returns ``{layer: activation}`` for the captured layers, each a
    feature map (B, C, H, W)."""

    def __init__(self, model: LoadedModel, layers: Sequence[str], kinds: dict[str, str]) -> None:
        self._model = model
        self.network = model.spec.name
        self._kinds = kinds  # each layer's layout
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
        height, width = x.shape[-2:]
        return {name: as_map(self._model, self._kinds.get(name, "nchw"), out, height, width)
                for name, out in self._store.items()}


@contextmanager
def capture(model: LoadedModel, layers: Sequence[str]) -> Iterator[Capture]:
    """Hook ``layers`` (module paths inside ``model.net``) for the duration of the block.

    Examples:
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
    kinds = _known_layouts(model)
    if kinds is not None:
        for name in layers:
            if name != OUTPUT and name not in kinds:
                raise LayerError(f"layer {name!r} of {model.spec.name} outputs no feature map or token grid and "
                                 "cannot be dreamed on")
    cap = Capture(model, layers, kinds or {})
    handles = [modules[name].register_forward_hook(cap._hook(name)) for name in cap._layers]
    try:
        # Batch norms folded into their convolutions, except where a convolution is itself
        # requested: every requested activation is what the unfolded network computes.
        with folded(model.net, model.folds, keep=cap._layers):
            yield cap
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def edited(model: LoadedModel, layer: str) -> Iterator[Callable[..., torch.Tensor]]:
    """Run the whole network with a change added to ``layer``'s output: ``run(x, change)``
    returns the logits, where ``change(map)`` takes the layer's map (B, C, H, W) as
    :func:`capture` gives it (detached) and returns what to add to it, of the same shape (it
    may carry gradients: a change scaled by a tensor that requires them gives the logits'
    gradient with respect to that scale). ``change`` None runs the network unchanged.

    Examples:
        >>> with edited(model, "blocks.5.0.bn1") as run:
        ...     ablated = run(x, lambda a: -a)  # the layer silenced
    """
    modules = dict(model.net.named_modules())
    if layer not in modules or layer == "":
        raise unknown_layer_error(model, layer)
    kinds = _known_layouts(model)
    if kinds is not None and layer not in kinds:
        raise LayerError(f"layer {layer!r} of {model.spec.name} outputs no feature map or token grid and cannot be "
                         "changed as one")
    layout = (kinds or {}).get(layer, "nchw")
    state: dict[str, Any] = {}

    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor | None:
        change = state.pop("change", None)  # a module called again in one pass keeps its first change alone,
        if change is None:  # as capture keeps its first output
            return None
        height, width = state["size"]
        delta = change(as_map(model, layout, output.detach(), height, width))
        full = torch.zeros_like(output, dtype=delta.dtype)
        as_map(model, layout, full, height, width).copy_(delta)  # the map is a view of the output's layout
        return output + full.to(output.dtype)

    def run(x: torch.Tensor, change: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        state.update(change=change, size=tuple(x.shape[-2:]))
        try:
            return model(x)
        finally:
            state.clear()

    handle = modules[layer].register_forward_hook(hook)
    try:
        with folded(model.net, model.folds, keep=[layer]):
            yield run
    finally:
        handle.remove()


@torch.no_grad()
def probe_means(model: LoadedModel, layer: str) -> torch.Tensor:
    """``layer``'s channel means (C,) on one fixed picture (smooth colour ramps and rings at the
    network's probe size): how that layer, and no other, answers it. A file learned on a layer
    records these to be told apart from another layer of the same width."""
    side = model.spec.probe_size
    axis = torch.linspace(0, 1, side)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    rings = (torch.sin(((x - 0.5) ** 2 + (y - 0.3) ** 2).sqrt() * 40) + 1) / 2
    picture = torch.stack([x, y * rings, (1 - x) * (1 - y) + 0.3 * rings]).clamp(0, 1)[None]
    with capture(model, [layer]) as run:
        return run(picture.to(model.device))[layer][0].float().mean((1, 2)).cpu()


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
    records = _outputs(model, size, size)
    kinds = _known_layouts(model)
    by_name = {name: out for name, _, out in records}
    infos = []
    for name, module, out in records:
        kind = kinds.get(name) if kinds is not None else ("nchw" if out.dim() == 4 else None)
        if kind is None:
            continue
        parent = name.rpartition(".")[0]
        is_leaf = next(module.children(), None) is None
        if is_leaf and parent in by_name and by_name[parent] is out:
            continue
        shape = as_map(model, kind, out, size, size).shape
        infos.append(LayerInfo(name, shape[1], shape[2], shape[3], type(module).__name__))
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
        raise LayerError(f"layer {name!r} outputs shape {tuple(out.shape)}; dreamable layers output (B, C, H, W), "
                         "(B, H, W, C) or a token grid (B, N, C)")
    raise unknown_layer_error(model, name)


def auto_layers(model: LoadedModel) -> str:
    """Two dream layers for a network without tuned ones: blocks at 60% and 75% of its depth.

    Mid-to-late blocks give the classic DeepDream look (eyes, animal parts); the
    earliest give textures and the last ones are too specific. Modules with children
    (blocks, stages, Inception mixes) are preferred over single convolutions. An ensemble
    (``models.ensemble``) dreams each member's: its tuned layers, or its own such blocks.
    """
    layers = list_layers(model, model.spec.probe_size)  # names and order: the same at any size
    modules = dict(model.net.named_modules())
    members = getattr(model.net, "members", None)  # an ensemble (models.ensemble): each member's own
    if members is None:
        return _picks(layers, modules, "")
    chosen = []
    for prefix, spec in members:  # its tuned layers, or its own blocks at 60% and 75% of its depth
        tuned = [prefix + layer for layer in spec.default_layers.split(",") if layer]
        chosen.append(",".join(tuned) or _picks([info for info in layers if info.name.startswith(prefix)], modules, prefix))
    return ",".join(chosen)


def _picks(layers: list[LayerInfo], modules: dict[str, nn.Module], prefix: str) -> str:
    """auto_layers' choice among ``layers`` (all under ``prefix``, a member of an ensemble)."""
    blocks = [info for info in layers if next(modules[info.name].children(), None) is not None
              and not isinstance(modules[info.name], (nn.Sequential, nn.ModuleList))]  # a Sequential only groups
    levels: dict[int, list[LayerInfo]] = {}
    for info in blocks:  # Mixed_6a and inception4c at depth 0; layer3.2, blocks.7 (a ViT's) at depth 1
        levels.setdefault(info.name[len(prefix):].count("."), []).append(info)
    # The shallowest level of at least 6 blocks (a ViT's blocks, not its 2 top modules; a Swin's
    # or a ConvNeXt's blocks, not its 3 downsamplings), else of at least 4.
    pool = next((level for _, level in sorted(levels.items()) if len(level) >= 6), None) or next(
        (level for _, level in sorted(levels.items()) if len(level) >= 4), None) or (blocks if len(blocks) >= 4 else layers)
    picks = dict.fromkeys(pool[min(len(pool) - 1, int(len(pool) * f))].name for f in (0.6, 0.75))
    return ",".join(picks)
