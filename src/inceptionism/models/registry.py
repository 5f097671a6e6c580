"""The registry of networks: names, specs, trained files, and what a listing shows (no torch)."""

from __future__ import annotations

import difflib
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..config import DEFAULT_MODEL
from ..errors import ModelError, WeightsMissingError
from .ensemble import ensemble_spec, is_ensemble
from .families import CLASSICS, FAMILIES, classic_weights, family_spec
from .registered import INCEPTION5H, LITE0, LITE1, LITE2
from .spec import ModelSpec
from .trained import PREFIX as TRAINED, TrainedInfo, read_info, trained_source, trained_spec

__all__ = ["register", "add_trained_folder", "only_trained_from", "list_models", "get_spec", "spec_for",
           "weights_path", "Listing", "describe", "CACHE_LOCK"]

_REGISTRY: dict[str, ModelSpec] = {}
_FAMILY_SPECS: dict[str, ModelSpec] = {}
CACHE_LOCK = threading.Lock()
_TRAINED_FOLDERS: list[Path] = []  # besides the default data folder's "networks"
_ONLY_FOLDERS: list[tuple[Path, ...]] = []  # while a studio serves: the folders it offers, instead of all of the above


def register(spec: ModelSpec) -> ModelSpec:
    """Add a network to the registry; a name can be registered only once."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def add_trained_folder(folder: str | Path) -> None:
    """Offer the trained networks (``inceptionism train``) in ``folder`` as ``trained/NAME``,
    as those in the default data folder's ``networks`` are (the studio adds its own)."""
    folder = Path(folder)
    with CACHE_LOCK:
        if folder not in _TRAINED_FOLDERS:
            _TRAINED_FOLDERS.append(folder)


@contextmanager
def only_trained_from(*folders: str | Path) -> Iterator[None]:
    """Inside the block, offer the trained networks of ``folders`` alone: a studio offers those in
    its own data folder, never the private ones of the user who started it."""
    with CACHE_LOCK:
        _ONLY_FOLDERS.append(tuple(Path(f) for f in folders))
    try:
        yield
    finally:
        with CACHE_LOCK:
            _ONLY_FOLDERS.pop()


def _trained_files() -> dict[str, tuple[Path, TrainedInfo]]:
    """``trained/NAME`` -> (file, its description), for the trained networks in the trained
    folders (first folder wins)."""
    from ..paths import default_data_dir

    found: dict[str, tuple[Path, TrainedInfo]] = {}
    folders = _ONLY_FOLDERS[-1] if _ONLY_FOLDERS else [default_data_dir() / "networks", *_TRAINED_FOLDERS]
    for folder in folders:
        for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else ():
            try:
                info = read_info(path)
            except ModelError:
                continue  # a damaged file is not offered; naming it with --weights says why
            if info is not None:
                found.setdefault(TRAINED + path.stem, (path, info))
    return found


def list_models() -> list[str]:
    """Names of the registered networks (the default first), the classic architectures,
    then the trained networks found in the trained folders."""
    return [*_REGISTRY, *CLASSICS, *_trained_files()]


def get_spec(name: str) -> ModelSpec:
    """The spec of a network; an unknown name lists the nearest valid ones.

    Besides registered names, ``timm/ARCH`` and ``torchvision/ARCH`` name any
    architecture of those libraries, and ``A+B`` an ensemble of networks (``models.ensemble``).
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    if is_ensemble(name):
        with CACHE_LOCK:
            known = _FAMILY_SPECS.get(name)
        if known is None:  # its members' specs are read outside the lock (a family's may take it)
            known = ensemble_spec(name, get_spec)
            with CACHE_LOCK:  # kept under its own name and its written one (" a + b " is "a+b")
                known = _FAMILY_SPECS.setdefault(known.name, known)
                _FAMILY_SPECS.setdefault(name, known)
        return known
    if name.startswith(TRAINED):
        trained = _trained_files().get(name)
        if trained is not None:
            path, info = trained
            return trained_spec(get_spec(info.base), path, info, name=name)
    elif "/" in name and name.split("/", 1)[0] in FAMILIES:
        with CACHE_LOCK:
            if name not in _FAMILY_SPECS:
                _FAMILY_SPECS[name] = family_spec(name)
            return _FAMILY_SPECS[name]
    near = difflib.get_close_matches(name, list_models(), n=3, cutoff=0.4)
    hint = f"did you mean {', '.join(near)}?" if near else f"available: {', '.join(list_models())}"
    raise ModelError(f"unknown model {name!r}; {hint} (or timm/ARCH, torchvision/ARCH, or networks joined by '+')")


def spec_for(name: str, weights: str | None) -> ModelSpec:
    """The spec of ``name`` with ``weights``: a trained file (``inceptionism train``) brings its
    own classes and preprocessing, on the network it was trained from. ``name`` must be that
    network or the default one (which then stands for it).

    Raises:
        ModelError: the trained file was made from another network than ``name``.
        WeightsMissingError: ``weights`` names no file (checked here, so that commands which
            only need the spec, such as ``classes``, do not pass over a wrong path).
    """
    if is_ensemble(name) and weights not in (None, "random"):
        raise ModelError(f"model {name} is an ensemble: each of its networks takes its own weights; leave --weights out",
                         field="weights")
    if name.startswith(TRAINED) and weights not in (None, "random"):
        raise ModelError(f"model {name} brings its own weights; leave --weights out", field="weights")
    if weights not in (None, "random") and not Path(weights).is_file():
        raise WeightsMissingError(f"weights file {str(weights)!r} does not exist or is not a file", field="weights")
    info = read_info(weights) if weights not in (None, "random") else None
    if info is None:
        return get_spec(name)
    if name not in (info.base, DEFAULT_MODEL):
        raise ModelError(
            f"weights file {str(weights)!r} was trained from {info.base}, not {name}; use --model {info.base} "
            "or leave --model out", field="weights"
        )
    return trained_spec(get_spec(info.base), Path(weights), info)


def weights_path(spec: ModelSpec) -> Path | None:
    """Where a network's own weights are on this machine, without loading it; None when absent."""
    if spec.weights_file is None:
        return None
    try:
        return spec.weights_file()
    except WeightsMissingError:
        return None




@dataclass(frozen=True)
class Listing:
    """What ``inceptionism models`` shows of a network."""

    name: str
    weights_source: str  # one line: where the weights come from
    weights: Path | None  # the weights file on this machine; None when absent
    dream_layers: str  # the default dream layers; "" = chosen by depth when it is loaded


def describe(name: str) -> Listing:
    """``name`` as ``inceptionism models`` lists it, without building it, and for the classic
    networks without importing timm or torchvision (so a listing imports no torch: 1.4 s and
    0.75 GB less)."""
    if name in CLASSICS and name not in _FAMILY_SPECS:
        source, found = classic_weights(name)
        return Listing(name, source, found, "")
    trained = _trained_files().get(name) if name.startswith(TRAINED) else None
    if trained is not None and "/" in trained[1].base:  # trained from a timm or torchvision network: no spec of it
        path, info = trained
        return Listing(name, trained_source(info, path), path, "")  # its layers are chosen by depth, as its base's
    spec = get_spec(name)
    return Listing(name, spec.weights_source, weights_path(spec), spec.default_layers)


for _spec in (LITE0, LITE1, LITE2, INCEPTION5H):
    register(_spec)
