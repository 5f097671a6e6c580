"""A convolution and its ReLU6 as one oneDNN call, for the gradient step on a CPU.

Once a batch norm is folded into its convolution (:mod:`.fold`), what is left between the
convolution and the next is the norm's activation; in EfficientNet-Lite (and timm's
``BatchNormAct2d`` networks) that is ReLU6, a clamp to [0, 6]. On a CPU a clamp is a
whole pass over the widest activations of the network, forward and again backward: about
a fifth of a gradient step of the default network (docs/performance.md, "W1"). oneDNN
applies it as the convolution writes its output (PyTorch's
``mkldnn::_convolution_pointwise``, the kernel inductor uses for the same fusion), so the
forward pass loses it. The backward pass needs only the output: ReLU6 lets the gradient
through where 0 < y < 6, which holds exactly where it holds for the input.

The fused path is taken only where it gives what the plain one does, to the bit: fp32 on a
CPU, no autocast, weights that need no gradient (dreaming, not training), and a
convolution that PyTorch itself would hand to oneDNN (for a small 1x1 convolution it uses
its own kernel, which rounds otherwise); anything else runs the convolution and the
activation as before. Outputs keep their bytes (tests/test_recorded.py). Tried and not
kept: a stride-1 depthwise backward by the flipped kernel (a forward convolution, 3% of a
step faster) rounds differently.
"""

from __future__ import annotations

import platform
from typing import Callable

import torch
from torch import nn

from .same import Conv2dSameByTaps

__all__ = ["fusable", "fused_forward"]

_CHECKED = ("x86_64", "amd64")  # where the fused call was seen to round as the plain one (tests/test_fold.py)
_POINTWISE = getattr(torch.ops.mkldnn, "_convolution_pointwise", None) if hasattr(torch.ops, "mkldnn") else None


def fusable(conv: nn.Module, after: nn.Module) -> bool:
    """True where ``conv``'s output goes through ``after`` alone and ``after`` is ReLU6, so
    the pair can run as one call: a plain zero-padded 2-D convolution (or TensorFlow's
    "same" one) without dilation, and a ReLU6 (or a Hardtanh to [0, 6])."""
    if _POINTWISE is None or not torch.backends.mkldnn.is_available() or platform.machine().lower() not in _CHECKED:
        return False
    relu6 = type(after) is nn.ReLU6 or (type(after) is nn.Hardtanh and (after.min_val, after.max_val) == (0.0, 6.0))
    plain = (type(conv) is Conv2dSameByTaps or (type(conv) is nn.Conv2d and not isinstance(conv.padding, str)))
    return relu6 and plain and conv.padding_mode == "zeros" and conv.dilation == (1, 1)


class _ConvReLU6(torch.autograd.Function):
    """relu6(conv2d(x, weight, bias)) in one oneDNN call; the gradient for ``x`` only."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, groups):  # noqa: ANN001, ANN205
        y = _POINTWISE(x, weight, bias, list(padding), list(stride), [1, 1], groups, "hardtanh", [0.0, 6.0], "")
        ctx.save_for_backward(x, weight, y)
        ctx.conv = (stride, padding, groups)
        return y

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        x, weight, y = ctx.saved_tensors
        stride, padding, groups = ctx.conv
        grad = torch.ops.aten.hardtanh_backward(grad, y, 0.0, 6.0)  # y in (0, 6) exactly where x was
        dx = torch.ops.aten.convolution_backward(grad, x, weight, None, list(stride), list(padding), [1, 1], False,
                                                 [0, 0], groups, [True, False, False])[0]
        return dx, None, None, None, None, None


def _onednn_runs(x: torch.Tensor, weight: torch.Tensor, stride: tuple[int, ...], groups: int) -> bool:
    """Whether PyTorch's own fp32 CPU convolution takes oneDNN for this call (its
    ``ConvParams::use_mkldnn``): not where oneDNN is turned off (``torch.backends.mkldnn.flags``),
    nor for a small unstrided 1x1 convolution of one picture."""
    if not torch._C._get_mkldnn_enabled():
        return False
    pointwise = weight.shape[-1] == 1 and weight.shape[-2] == 1
    strided = any(s != 1 for s in stride)
    return ((strided or x.shape[0] >= 16 or not pointwise or torch.get_num_threads() > 1)
            and (groups > 1 or (weight.shape[-1] > 3 and weight.shape[-2] > 3) or x.shape[0] > 1 or x.numel() > 20480))


def fused_forward(conv: nn.Conv2d, after: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``conv``'s forward followed by ``after`` (see :func:`fusable`), fused where the fused
    call computes the same thing and run as two calls everywhere else."""
    plain = type(conv).forward

    def forward(x: torch.Tensor) -> torch.Tensor:
        weight, padding = conv.weight, conv.padding
        fast = (x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32 and not weight.requires_grad
                and not torch.is_autocast_enabled("cpu") and x.dim() == 4)
        if fast and type(conv) is Conv2dSameByTaps:
            taps = conv.taps(x)
            fast = taps is not None
            if fast:
                weight, padding = taps
        if not fast or not _onednn_runs(x, weight, conv.stride, conv.groups):
            return after(plain(conv, x))
        return _ConvReLU6.apply(x, weight, conv.bias, conv.stride, padding, conv.groups)

    return forward
