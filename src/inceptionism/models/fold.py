"""Batch-norm folding: a convolution followed by an eval-mode batch norm is one convolution.

In eval mode a batch norm is a per-channel affine map, so it can be folded into the
weights and bias of the convolution that feeds it, and its own pass over memory (forward
and backward) disappears: on EfficientNet-Lite0 batch norm is about a quarter of a
gradient step on a CPU (docs/performance.md).

Folding is applied only while a dream runs (``folded``) and only to pairs whose
convolution is not itself a requested layer, so every layer's activation stays exactly
what the unfolded network computes. Pairs are found by running the network once and
matching each batch norm's input to a convolution's output; the fold is then checked
numerically and dropped altogether if the network's output moves.

On a CPU a folded convolution whose batch norm ends in ReLU or ReLU6 also takes the
activation into the convolution (oneDNN's fused post-op): the activation's own pass over
a freshly allocated tensor costs as much as a depthwise convolution at high resolution,
and the fused result is bit-identical. The backward pass masks the gradient with the
saved output and runs the convolution's input gradient, as autograd would.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import torch
from torch import nn

__all__ = ["Fold", "find_folds", "folded", "flop_counter"]


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


def _folded_params(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    weight = (conv.weight * scale.view(-1, 1, 1, 1)).to(memory_format=_layout(conv.weight))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    return weight.detach(), ((bias - bn.running_mean) * scale + bn.bias).detach()


def _layout(t: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format


def _fused_activation(bn: nn.Module) -> tuple[str, list[float]] | None:
    """The oneDNN post-op for what ``bn`` does after normalizing, or None if it has none."""
    act, drop = getattr(bn, "act", None), getattr(bn, "drop", None)
    if not isinstance(drop, (nn.Identity, nn.Dropout)):
        return None
    if type(act) is nn.ReLU:
        return "relu", []
    if type(act) in (nn.ReLU6, nn.Hardtanh):
        return "hardtanh", [float(act.min_val), float(act.max_val)]
    return None


def _can_fuse(conv: nn.Module, weight: torch.Tensor) -> bool:
    return (
        type(conv) is nn.Conv2d  # not timm's Conv2dSame, which pads in its own forward
        and conv.padding_mode == "zeros"
        and not isinstance(conv.padding, str)
        and weight.device.type == "cpu"
        and weight.dtype == torch.float32
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
    )


class _ConvAct(torch.autograd.Function):
    """Convolution with a fused ReLU/ReLU6 (oneDNN); input gradient only."""

    @staticmethod
    def forward(ctx, x, weight, bias, conv, attr, scalars):  # noqa: D102
        out = torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups, attr, scalars, ""
        )
        ctx.save_for_backward(x, weight, out)
        ctx.conv, ctx.attr, ctx.scalars = conv, attr, scalars
        return out

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        x, weight, out = ctx.saved_tensors
        conv = ctx.conv
        # The output is inside (low, high) exactly where the pre-activation was.
        if ctx.attr == "relu":
            grad = torch.ops.aten.threshold_backward(grad, out, 0.0)
        else:
            grad = torch.ops.aten.hardtanh_backward(grad, out, *ctx.scalars)
        grad_x, _, _ = torch.ops.aten.convolution_backward(
            grad, x, weight, None, list(conv.stride), list(conv.padding), list(conv.dilation),
            False, [0, 0], conv.groups, [True, False, False],
        )
        return grad_x, None, None, None, None, None


def flop_counter() -> "torch.utils.flop_counter.FlopCounterMode":
    """PyTorch's FLOP counter, also counting the fused convolutions (an op it does not know)."""
    from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

    def fused_conv_flop(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
        return conv_flop_count(x_shape, w_shape, out_shape)

    op = getattr(torch.ops.mkldnn, "_convolution_pointwise", None) if torch.backends.mkldnn.is_available() else None
    return FlopCounterMode(display=False, custom_mapping={op: fused_conv_flop} if op is not None else {})


def _fused_forward(
    conv: nn.Conv2d, attr: str, scalars: list[float], activation: Callable[[torch.Tensor], torch.Tensor]
) -> Callable[[torch.Tensor], torch.Tensor]:
    def forward(x: torch.Tensor) -> torch.Tensor:
        if torch.is_autocast_enabled(x.device.type):  # autocast picks each operation's precision
            return activation(nn.Conv2d.forward(conv, x))
        return _ConvAct.apply(x, conv.weight, conv.bias, conv, attr, scalars)

    return forward


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
def folded(net: nn.Module, folds: Iterable[Fold], keep: Iterable[str], *, fuse: bool = True) -> Iterator[None]:
    """Run ``net`` with ``folds`` applied, except pairs whose convolution is in ``keep``.

    ``fuse``: on a CPU, also fuse a following ReLU/ReLU6 into the convolution.
    """
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
            fused = _fused_activation(bn) if fuse and _can_fuse(conv, fold.weight) else None
            if fused is not None:
                conv.forward = _fused_forward(conv, *fused, _after_norm(bn))
                bn.forward = _identity
            else:
                bn.forward = _after_norm(bn)
        yield
    finally:
        for conv, weight, bias, bn in saved:
            conv.weight, conv.bias = weight, bias
            vars(conv).pop("forward", None)
            del bn.forward


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x
