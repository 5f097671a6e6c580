"""Model registry: ``list_models()``, ``get_spec(name)``, ``load_model(name)``."""

from __future__ import annotations

import difflib
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from ..config import DEFAULT_MODEL
from ..errors import ModelError, WeightsMissingError
from .efficientnet import LITE0, LITE1, LITE2
from .fold import find_folds
from .families import FAMILIES, family_spec
from .inception5h import INCEPTION5H
from .weights import load_file
from .uninit import NoRandomFills
from .spec import LoadedModel, ModelSpec
from .trained import PREFIX as TRAINED, TrainedInfo, read_info, trained_spec

__all__ = [
    "ModelSpec",
    "LoadedModel",
    "register",
    "add_trained_folder",
    "only_trained_from",
    "list_models",
    "get_spec",
    "spec_for",
    "load_model",
    "weights_path",
    "without_inplace",
]

_REGISTRY: dict[str, ModelSpec] = {}
_CACHE: dict[tuple[str, str, str], LoadedModel] = {}
_FAMILY_SPECS: dict[str, ModelSpec] = {}
_CACHE_LOCK = threading.Lock()
_TRAINED_FOLDERS: list[Path] = []  # besides the default data folder's "networks"
_ONLY_FOLDERS: list[tuple[Path, ...]] = []  # while a studio serves: the folders it offers, instead of all of the above


def register(spec: ModelSpec) -> ModelSpec:
    """Add a network to the registry; a name can be registered only once."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


# The networks of the classic tutorials, listed by name; any other timm/NAME or
# torchvision/NAME works too.
CLASSICS = (
    "timm/inception_v3",
    "timm/inception_resnet_v2",
    "timm/vgg16",
    "torchvision/googlenet",
    "torchvision/vgg16",
    "torchvision/vgg19",
    "torchvision/inception_v3",
    "torchvision/resnet50",
)


def add_trained_folder(folder: str | Path) -> None:
    """Offer the trained networks (``inceptionism train``) in ``folder`` as ``trained/NAME``,
    as those in the default data folder's ``networks`` are (the studio adds its own)."""
    folder = Path(folder)
    with _CACHE_LOCK:
        if folder not in _TRAINED_FOLDERS:
            _TRAINED_FOLDERS.append(folder)


@contextmanager
def only_trained_from(*folders: str | Path) -> Iterator[None]:
    """Inside the block, offer the trained networks of ``folders`` alone: a studio offers those in
    its own data folder, never the private ones of the user who started it."""
    with _CACHE_LOCK:
        _ONLY_FOLDERS.append(tuple(Path(f) for f in folders))
    try:
        yield
    finally:
        with _CACHE_LOCK:
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
    architecture of those libraries.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name.startswith(TRAINED):
        trained = _trained_files().get(name)
        if trained is not None:
            path, info = trained
            return trained_spec(get_spec(info.base), path, info, name=name)
    elif "/" in name and name.split("/", 1)[0] in FAMILIES:
        with _CACHE_LOCK:
            if name not in _FAMILY_SPECS:
                _FAMILY_SPECS[name] = family_spec(name)
            return _FAMILY_SPECS[name]
    near = difflib.get_close_matches(name, list_models(), n=3, cutoff=0.4)
    hint = f"did you mean {', '.join(near)}?" if near else f"available: {', '.join(list_models())}"
    raise ModelError(f"unknown model {name!r}; {hint} (or timm/ARCH, torchvision/ARCH)")


def spec_for(name: str, weights: str | None) -> ModelSpec:
    """The spec of ``name`` with ``weights``: a trained file (``inceptionism train``) brings its
    own classes and preprocessing, on the network it was trained from. ``name`` must be that
    network or the default one (which then stands for it).

    Raises:
        ModelError: the trained file was made from another network than ``name``.
        WeightsMissingError: ``weights`` names no file (checked here, so that commands which
            only need the spec, such as ``classes``, do not pass over a wrong path).
    """
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


# Built outside inference mode whatever the caller's mode: parameters made under
# torch.inference_mode() are inference tensors, which no gradient can pass through later.
@torch.inference_mode(False)
def load_model(
    name: str = DEFAULT_MODEL,
    *,
    device: str | torch.device = "cpu",
    pretrained: bool = True,
    weights: str | None = None,
    cache: bool = True,
) -> LoadedModel:
    """Build a registered network, load its weights, and ready it for dreaming.

    The model is put in eval mode, its parameters frozen (dreaming needs gradients for
    the image only) and in-place activations turned off, so captured activations
    are never overwritten by later layers.

    Args:
        name: registry name, see :func:`list_models`.
        device: where to put it (already resolved: "cpu", "cuda:0", ...).
        pretrained: load the real weights; ``False`` keeps random weights (tests, timing).
        weights: ``None`` for the model's own weights, ``"random"``, or a checkpoint file; a
            file made by ``inceptionism train`` brings its classes (see :func:`spec_for`).
        cache: reuse a model already loaded in this process with the same arguments.

    Examples:
        >>> model = load_model("efficientnet-lite0")
        >>> model.spec.min_size
        32
    """
    if not pretrained:
        weights = "random"
    spec = spec_for(name, weights)
    own_file = weights != "random" and isinstance(spec.labels, tuple)  # a trained file's spec loads the file itself
    key = (name, str(torch.device(device)), weights or "")
    with _CACHE_LOCK:
        if cache and key in _CACHE:
            return _CACHE[key]
        net, sha = _build_with_weights(spec, None if own_file else weights)
        without_inplace(net)
        net.eval().requires_grad_(False)
        # channels_last is 1.2-1.3x faster per step on a CPU (docs/performance.md); on other
        # devices it stays off until measured there.
        layout = torch.channels_last if torch.device(device).type == "cpu" else torch.contiguous_format
        model = LoadedModel(spec, net.to(memory_format=layout), sha, layout).to(device)
        probe = torch.rand(1, 3, spec.probe_size, spec.probe_size, generator=torch.Generator().manual_seed(0))
        model.folds = find_folds(net, probe.to(model.device), model)
        if cache:
            _CACHE[key] = model
        return model


def without_inplace(net: torch.nn.Module) -> torch.nn.Module:
    """Turn off in-place activations, so captured activations are never overwritten by later layers."""
    for module in net.modules():
        if hasattr(module, "inplace"):
            module.inplace = False
    return net


def _build_with_weights(spec: ModelSpec, weights: str | None) -> tuple[torch.nn.Module, str]:
    """The network with its weights, and their checksum ("random" for random weights)."""
    if weights == "random":
        with torch.random.fork_rng():  # the same random weights every time: reproducible runs
            torch.manual_seed(0)
            return spec.build(), "random"
    net = _build_uninitialized(spec)
    if weights is not None:
        return net, spec.load_file(net, Path(weights)) if spec.load_file else load_file(net, weights, spec.name)
    return net, spec.load_weights(net)


def _build_uninitialized(spec: ModelSpec) -> torch.nn.Module:
    """The network without its random initialization, for weights that replace every
    parameter and buffer of its state dict (the loaders load strictly). Initializing is
    wasted work there: 1.3 s for VGG-16, 0.3 s for Inception-v3 (docs/performance.md).

    A network that keeps tensors no weights file restores (buffers outside its state dict,
    plain tensor attributes), or whose construction fails without random values, is built
    the usual way. (Building on the meta device would also skip the work, but its
    ``erfinv_``, in timm's truncated-normal initializer, imports ``torch._dynamo``.)
    """
    rng = torch.random.get_rng_state()  # the usual build, where it comes to that, draws as it would have
    try:
        with NoRandomFills():
            net = spec.build()
    except Exception:  # construction that computes with the values it did not get; a real error shows again
        torch.random.set_rng_state(rng)
        return spec.build()
    loaded = set(net.state_dict())
    if any(name not in loaded for name, _ in net.named_buffers()) or any(
        isinstance(value, torch.Tensor) for module in net.modules() for value in vars(module).values()
    ):
        torch.random.set_rng_state(rng)
        return spec.build()
    return net


for _spec in (LITE0, LITE1, LITE2, INCEPTION5H):
    register(_spec)
