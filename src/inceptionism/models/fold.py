"""Batch-norm folding: a convolution followed by an eval-mode batch norm is one convolution.

In eval mode a batch norm is a per-channel affine map, so it can be folded into the
weights and bias of the convolution that feeds it, and its own pass over memory (forward
and backward) disappears: on EfficientNet-Lite0 batch norm is about a quarter of a
gradient step on a CPU (docs/performance.md).

Folding is applied only while a dream runs (``folded``) and only to pairs whose
convolution is not itself a requested layer, so every layer's activation stays exactly
what the unfolded network computes. Pairs are found by running the network once and
matching each batch norm's input to a convolution's output; the fold is then checked
numerically and dropped altogether if the network's output moves. Where the norm's
activation is ReLU6, the convolution and the activation then run as one call (:mod:`.fuse`).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import torch
from torch import nn

from .fuse import fusable, fused_forward

__all__ = ["Fold", "find_folds", "folded"]


@dataclass(frozen=True)
class Fold:
    """One convolution/batch-norm pair and the convolution's folded parameters."""

    conv: str  # module path of the convolution
    bn: str  # module path of the batch norm that reads only its output
    weight: torch.Tensor
    bias: torch.Tensor


def _after_norm(bn: nn.Module) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """What a batch-norm module does after normalizing; None for kinds not known to fold."""
    if type(bn) is nn.BatchNorm2d:
        return lambda x: x
    # timm's BatchNormAct2d: normalize, then dropout, then the activation.
    if isinstance(bn, nn.BatchNorm2d) and isinstance(getattr(bn, "act", None), nn.Module) and hasattr(bn, "drop"):
        return lambda x: bn.act(bn.drop(x))
    return None


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _folded_params(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    weight = (conv.weight * scale.view(-1, 1, 1, 1)).to(memory_format=_layout(conv.weight))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    return weight.detach(), ((bias - bn.running_mean) * scale + bn.bias).detach()


def _layout(t: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format


@torch.no_grad()
def find_folds(net: nn.Module, probe: torch.Tensor, forward: Callable[[torch.Tensor], torch.Tensor]) -> list[Fold]:
    """Conv/batch-norm pairs of ``net`` (eval mode), verified on ``probe`` through ``forward``."""
    modules = dict(net.named_modules())
    conv_out: dict[int, tuple[str, torch.Tensor]] = {}  # tensors kept alive, so ids stay unique
    pairs: list[tuple[str, str]] = []
    handles = []
    for name, module in modules.items():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(lambda m, i, o, name=name: conv_out.__setitem__(id(o), (name, o))))
        elif isinstance(module, nn.BatchNorm2d) and _after_norm(module) is not None and module.track_running_stats:
            def pre(m, inputs, name=name):
                found = conv_out.get(id(inputs[0]))
                if found is not None:
                    pairs.append((found[0], name))
            handles.append(module.register_forward_pre_hook(pre))
    try:
        reference = forward(probe)
    finally:
        for handle in handles:
            handle.remove()
    convs = [conv for conv, _ in pairs]
    folds = [
        Fold(conv, bn, *_folded_params(modules[conv], modules[bn]))
        for conv, bn in pairs
        if convs.count(conv) == 1  # a convolution read by two norms cannot carry both
    ]
    if folds:
        with folded(net, folds, keep=()):
            moved = (forward(probe) - reference).abs().max() / reference.abs().max().clamp_min(1e-12)
        if not moved < 1e-3:  # some convolution output is also read elsewhere: do not fold at all
            return []
    return folds


@contextmanager
def folded(net: nn.Module, folds: Iterable[Fold], keep: Iterable[str]) -> Iterator[None]:
    """Run ``net`` with ``folds`` applied, except pairs whose convolution is in ``keep``."""
    keep = set(keep)
    modules = dict(net.named_modules())
    saved = []
    try:
        for fold in folds:
            if fold.conv in keep:
                continue
            conv, bn = modules[fold.conv], modules[fold.bn]
            saved.append((conv, conv.weight, conv.bias, bn))
            conv.weight = nn.Parameter(fold.weight, requires_grad=False)
            conv.bias = nn.Parameter(fold.bias, requires_grad=False)
            act = getattr(bn, "act", None)
            if (type(getattr(bn, "drop", None)) is nn.Identity and isinstance(act, nn.Module) and fusable(conv, act)
                    and not any(name.startswith(fold.bn + ".") for name in keep)):  # its act is no requested layer
                conv.forward = fused_forward(conv, act)  # the activation runs in the convolution's call
                bn.forward = _identity
            else:
                bn.forward = _after_norm(bn)
        yield
    finally:
        for conv, weight, bias, bn in saved:
            conv.weight, conv.bias = weight, bias
            conv.__dict__.pop("forward", None)
            bn.__dict__.pop("forward", None)  # absent if an interrupt came before it was set
