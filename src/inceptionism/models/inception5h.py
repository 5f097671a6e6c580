"""inception5h: the TensorFlow GoogLeNet of the classic DeepDream notebooks, in PyTorch.

Layer names are the graph's own (``conv2d0``, ``mixed4b_1x1_pre_relu``, ...), so the
notebooks' recipes work unchanged. TensorFlow's SAME padding (extra pixel at the
bottom/right) and its local response normalization are reproduced. The original
``tensorflow_inception_graph.pb`` (or ``inception5h.zip`` holding it) is read without
TensorFlow and converted once to a cached safetensors file.

Input: RGB in 0..255 with 117 subtracted from every channel.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError
from ..paths import weights_cache_dir
from .graphdef import GRAPH_NAME, parse_graph
from .weights import sha256_file, write_cache_file

__all__ = ["Inception5h", "MIXED", "convert_graph", "graph_weights", "load_graph_file"]

# (1x1, 3x3 bottleneck, 3x3, 5x5 bottleneck, 5x5, pool reduce) channels, as in the graph.
MIXED = {
    "mixed3a": (64, 96, 128, 16, 32, 32),
    "mixed3b": (128, 128, 192, 32, 96, 64),
    "mixed4a": (192, 96, 204, 16, 48, 64),
    "mixed4b": (160, 112, 224, 24, 64, 64),
    "mixed4c": (128, 128, 256, 24, 64, 64),
    "mixed4d": (112, 144, 288, 32, 64, 64),
    "mixed4e": (256, 160, 320, 32, 128, 128),
    "mixed5a": (256, 160, 320, 48, 128, 128),
    "mixed5b": (384, 192, 384, 48, 128, 128),
}


def same_pad(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    """TensorFlow's SAME padding: output = ceil(input / stride), extra pixel at the end."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max(kernel - (size % stride if size % stride else stride), 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


class ConvSame(nn.Conv2d):
    """A convolution with TensorFlow SAME padding."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(same_pad(x, self.kernel_size[0], self.stride[0]))


class MaxPoolSame(nn.Module):
    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(same_pad(x, self.kernel, self.stride, value=-math.inf), self.kernel, self.stride)


class LRN(nn.Module):
    """TensorFlow's local response normalization: x / (bias + alpha * sum of squares)**beta."""

    def __init__(self, radius: int = 5, bias: float = 1.0, alpha: float = 1e-4, beta: float = 0.75) -> None:
        super().__init__()
        self.radius, self.bias, self.alpha, self.beta = radius, bias, alpha, beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = 2 * self.radius + 1
        sq = F.avg_pool3d(x.square().unsqueeze(1), (size, 1, 1), 1, (self.radius, 0, 0), count_include_pad=True)
        return x / (self.bias + self.alpha * size * sq.squeeze(1)) ** self.beta


class Concat(nn.Module):
    def forward(self, parts: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(parts, 1)


class Inception5h(nn.Module):
    """GoogLeNet as in ``tensorflow_inception_graph.pb``; every graph layer is a module."""

    def __init__(self, num_classes: int = 1008) -> None:
        super().__init__()
        self._conv("conv2d0", 3, 64, 7, 2)
        self.maxpool0 = MaxPoolSame(3, 2)
        self.localresponsenorm0 = LRN()
        self._conv("conv2d1", 64, 64, 1)
        self._conv("conv2d2", 64, 192, 3)
        self.localresponsenorm1 = LRN()
        self.maxpool1 = MaxPoolSame(3, 2)
        cin = 192
        for name, widths in MIXED.items():
            cin = self._mixed(name, cin, widths)
            if name == "mixed3b":
                self.maxpool4 = MaxPoolSame(3, 2)
            if name == "mixed4e":
                self.maxpool10 = MaxPoolSame(3, 2)
        for head, width in (("head0", 508), ("head1", 528)):
            setattr(self, f"{head}_pool", nn.AvgPool2d(5, 3))
            self._conv(f"{head}_bottleneck", width, 128, 1)
        self.avgpool0 = nn.AdaptiveAvgPool2d(1)
        self.softmax2_pre_activation = nn.Linear(1024, num_classes)

    def _conv(self, name: str, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        setattr(self, f"{name}_pre_relu", ConvSame(cin, cout, kernel, stride))
        setattr(self, name, nn.ReLU())

    def _mixed(self, name: str, cin: int, widths: tuple[int, ...]) -> int:
        c1, c3b, c3, c5b, c5, cp = widths
        self._conv(f"{name}_1x1", cin, c1, 1)
        self._conv(f"{name}_3x3_bottleneck", cin, c3b, 1)
        self._conv(f"{name}_3x3", c3b, c3, 3)
        self._conv(f"{name}_5x5_bottleneck", cin, c5b, 1)
        self._conv(f"{name}_5x5", c5b, c5, 5)
        setattr(self, f"{name}_pool", MaxPoolSame(3, 1))
        self._conv(f"{name}_pool_reduce", cin, cp, 1)
        setattr(self, name, Concat())
        return c1 + c3 + c5 + cp

    def _run(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, name)(getattr(self, f"{name}_pre_relu")(x))

    def _block(self, name: str, x: torch.Tensor) -> torch.Tensor:
        a = self._run(f"{name}_1x1", x)
        b = self._run(f"{name}_3x3", self._run(f"{name}_3x3_bottleneck", x))
        c = self._run(f"{name}_5x5", self._run(f"{name}_5x5_bottleneck", x))
        d = self._run(f"{name}_pool_reduce", getattr(self, f"{name}_pool")(x))
        return getattr(self, name)([a, b, c, d])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.localresponsenorm0(self.maxpool0(self._run("conv2d0", x)))
        x = self.maxpool1(self.localresponsenorm1(self._run("conv2d2", self._run("conv2d1", x))))
        for name in MIXED:
            x = self._block(name, x)
            if name == "mixed3b":
                x = self.maxpool4(x)
            elif name in ("mixed4a", "mixed4d") and min(x.shape[-2:]) >= 5:
                head = "head0" if name == "mixed4a" else "head1"
                self._run(f"{head}_bottleneck", getattr(self, f"{head}_pool")(x))  # auxiliary branch
            elif name == "mixed4e":
                x = self.maxpool10(x)
        return self.softmax2_pre_activation(self.avgpool0(x).flatten(1))


def graph_weights(data: bytes) -> dict[str, np.ndarray]:
    """The float constants of a serialized graph, by node name."""
    return {n.name: value for n in parse_graph(data) if n.op == "Const"
            and isinstance(value := n.attr.get("value"), np.ndarray) and value.dtype == np.float32 and value.size}


def convert_graph(data: bytes, net: Inception5h) -> dict[str, torch.Tensor]:
    """Map the graph's ``NAME_w``/``NAME_b`` constants onto ``net``'s state dict, shapes checked."""
    consts = graph_weights(data)
    state = {}
    for key, target in net.state_dict().items():
        module, _, kind = key.rpartition(".")
        graph_name = module.removesuffix("_pre_relu").removesuffix("_pre_activation") + ("_w" if kind == "weight" else "_b")
        if graph_name not in consts:
            raise ModelError(f"the graph has no constant {graph_name!r} for {key!r}; is it tensorflow_inception_graph.pb?")
        value = consts[graph_name]
        value = value.transpose(3, 2, 0, 1) if value.ndim == 4 else value.T if value.ndim == 2 else value
        if tuple(value.shape) != tuple(target.shape):
            raise ModelError(f"graph constant {graph_name!r} has shape {value.shape}, {key!r} needs {tuple(target.shape)}")
        state[key] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    return state


def _read_graph_bytes(path: Path) -> bytes:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(GRAPH_NAME)]
            if not names:
                raise ModelError(f"{str(path)!r} holds no {GRAPH_NAME}")
            return archive.read(names[0])
    return path.read_bytes()


def load_graph_file(net: nn.Module, path: Path) -> str:
    """Load weights from a .pb/.zip (converted once, cached as safetensors) or a converted file."""
    from safetensors.torch import load_file, save

    if path.suffix not in (".pb", ".zip"):
        from .weights import load_file as load_state_file

        return load_state_file(net, path, "inception5h")  # an already converted state dict
    sha = sha256_file(path)
    cached = weights_cache_dir() / f"inception5h-{sha[:16]}.safetensors"
    if cached.is_file():
        net.load_state_dict(load_file(str(cached)))
        return sha
    state = convert_graph(_read_graph_bytes(path), net)
    net.load_state_dict(state)
    write_cache_file(cached, save(state))  # whole or not at all; a read-only cache costs a conversion next time
    return sha
