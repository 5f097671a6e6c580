"""TensorFlow's "same" padding without copying the input.

timm's ``Conv2dSame`` (used by the ``tf_`` networks, EfficientNet-Lite among them, for
their stride-2 convolutions) pads its input with ``F.pad`` before every convolution:
a full copy of the input going in, and another of its gradient coming back. On
EfficientNet-Lite0 those copies are about 11% of a gradient step's memory traffic
(``benchmarks/bench_roofline.py``), and the stride-2 depthwise convolutions take the
widest activations of the network.

TensorFlow pads a stride-2 convolution of an even-sized input one pixel more after than
before. The same sums come out of a symmetric padding (which the convolution does
itself, without a copy) with one zero tap added at the start of the kernel: the window
is one pixel longer, starts one pixel earlier, and the extra pixel is multiplied by 0.
Where the padding is already symmetric it is simply passed to the convolution. The
results equal ``Conv2dSame``'s up to the order of float additions (relative 1e-7 on a
step's gradient), and the module keeps ``Conv2dSame``'s parameters and state dict.

This module does not import timm (the default network is built without it, for a fast
start); :func:`without_pad_copies` converts the convolutions of a network timm built.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Conv2dSameByTaps", "same_padding", "without_pad_copies"]


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's "same" padding (before, after) of one dimension."""
    total = max((-(-size // stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class Conv2dSameByTaps(nn.Conv2d):
    """A convolution with TensorFlow's "same" padding, at no copy of the input (see above).

    Built directly it takes ``nn.Conv2d``'s arguments less ``padding`` (which is computed
    per input, as ``Conv2dSame`` does).
    """

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, padding=0, **kwargs)

    def _pads(self, x: torch.Tensor) -> tuple[int, int, int, int]:
        """TensorFlow's "same" padding of ``x``: (left, right, top, bottom), as ``F.pad`` takes it."""
        kh, kw = self.weight.shape[-2:]
        top, bottom = same_padding(x.shape[-2], kh, self.stride[0], self.dilation[0])
        left, right = same_padding(x.shape[-1], kw, self.stride[1], self.dilation[1])
        return left, right, top, bottom

    def taps(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]] | None:
        """The kernel (a zero tap added where TensorFlow pads one more after) and the symmetric
        padding that give "same" padding on ``x``; None where only a padded copy of ``x`` will do."""
        left, right, top, bottom = self._pads(x)
        if self.dilation != (1, 1) or bottom - top > 1 or right - left > 1:  # not in these networks
            return None
        weight = self.weight
        if bottom > top or right > left:  # one pixel more after: a zero tap before the kernel, then symmetric
            weight = F.pad(weight, (right - left, 0, bottom - top, 0))
        return weight, (bottom, right)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        taps = self.taps(x)
        if taps is None:  # copy as timm does
            return F.conv2d(F.pad(x, self._pads(x)), self.weight, self.bias, self.stride, 0, self.dilation,
                            self.groups)
        weight, padding = taps
        return F.conv2d(x, weight, self.bias, self.stride, padding, self.dilation, self.groups)


def without_pad_copies(net: nn.Module) -> nn.Module:
    """Make every timm ``Conv2dSame`` in ``net`` a :class:`Conv2dSameByTaps` (same parameters)."""
    from timm.layers.conv2d_same import Conv2dSame  # the network came from timm: it is imported already

    for module in net.modules():
        if type(module) is Conv2dSame:
            module.__class__ = Conv2dSameByTaps
    return net
