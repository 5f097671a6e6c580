"""Building a network without drawing its random initialization: for weights that replace
it, or for an architecture built only to be read (models/families.py)."""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["NoRandomFills"]


class NoRandomFills(TorchFunctionMode):
    """Random initialization draws nothing. torch's initializers that hand their tensor to the
    mode whole are skipped, the tensor untouched (a large network's memory is never written:
    VGG-16's 550 MB). The raw in-place fills, which timm's initializers and torch's own
    trunc_normal_ (which does not hand its tensor over) call directly, leave zeros, not the
    memory's old contents: a freed buffer reused (runtime.keep_freed_memory) holds any
    values, and trunc_normal_ redraws values outside its bounds until none is left, forever
    if the draw were skipped."""

    INITIALIZERS = frozenset({
        torch.nn.init.uniform_, torch.nn.init.normal_, torch.nn.init.trunc_normal_, torch.nn.init.xavier_uniform_,
        torch.nn.init.xavier_normal_, torch.nn.init.kaiming_uniform_, torch.nn.init.kaiming_normal_,
        torch.nn.init.orthogonal_, torch.nn.init.sparse_,
    })
    FILLS = frozenset({
        torch.Tensor.uniform_, torch.Tensor.normal_, torch.Tensor.erfinv_, torch.Tensor.bernoulli_,
        torch.Tensor.exponential_, torch.Tensor.geometric_, torch.Tensor.log_normal_, torch.Tensor.cauchy_,
        torch.Tensor.random_,
    })

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        if func in self.INITIALIZERS:
            return args[0] if args else kwargs["tensor"]
        if func in self.FILLS:
            with torch.no_grad():
                return args[0].zero_()
        return func(*args, **(kwargs or {}))
