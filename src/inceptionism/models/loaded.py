"""The loaded model the engine works with: a network with its spec, taking RGB in [0, 1]."""

from __future__ import annotations

import torch
from torch import nn

from .spec import ModelSpec

__all__ = ["LoadedModel"]


class LoadedModel(nn.Module):
    """A network with its spec: takes RGB in [0, 1] and runs the network on it.

    Attributes:
        spec: the model's :class:`ModelSpec`.
        net: the underlying ``nn.Module`` (layer names are module paths inside it).
        weights_sha256: checksum of the weights that were loaded, or ``"random"``.
    """

    def __init__(
        self, spec: ModelSpec, net: nn.Module, weights_sha256: str, memory_format: torch.memory_format = torch.contiguous_format
    ) -> None:
        super().__init__()
        self.spec = spec
        self.net = net
        self.weights_sha256 = weights_sha256
        self.memory_format = memory_format  # inputs are laid out like this before the forward pass
        self.folds: list = []  # conv/batch-norm pairs folded while dreaming (models.fold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.spec.inputs.fit(x)  # a size the network takes (a no-op for most)
        return self.net(self.spec.preprocess(x.contiguous(memory_format=self.memory_format)))

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device
