"""The one place where ``--device auto`` and friends become a ``torch.device``."""

from __future__ import annotations

import re

import torch

from .errors import ConfigError

__all__ = ["resolve_device"]

_PATTERN = re.compile(r"auto|cpu|mps|cuda(:[0-9]+)?")  # digits 0-9 only: int() took "cuda:٣" too


def resolve_device(name: str) -> torch.device:
    """Turn ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` into an available device.

    ``auto`` picks CUDA, then Apple's MPS, then the CPU.
    """
    if not isinstance(name, str) or not _PATTERN.fullmatch(name):
        raise ConfigError(f"device {name!r} is not one of auto, cpu, cuda, cuda:N, mps")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} was asked for but CUDA is not available here; use --device cpu or auto")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {name!r} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device 'mps' was asked for but Apple's MPS is not available here; use --device cpu or auto")
    return torch.device(name)
