"""Loading a registered network: built, its weights in, readied for dreaming (imports torch)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..config import DEFAULT_DEVICE, DEFAULT_MODEL
from .registry import CACHE_LOCK, spec_for
from .ensemble import is_ensemble
from .fold import find_folds
from .loaded import LoadedModel
from .spec import ModelSpec
from .uninit import NoRandomFills
from .weights import load_file

__all__ = ["load_model", "without_inplace"]

_CACHE: dict[tuple[str, str, str], LoadedModel] = {}


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
    key = (spec.name if is_ensemble(name) else name, str(torch.device(device)), weights or "")  # " a + b " is "a+b"
    with CACHE_LOCK:
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


def as_loaded(model: "str | LoadedModel", device: str = DEFAULT_DEVICE) -> LoadedModel:
    """``model`` as a loaded network: a name is loaded onto ``device`` (auto, cpu, cuda...), a
    network already loaded is taken as it is (it runs where it is).

    Raises:
        ConfigError: ``model`` is neither.
    """
    from ..device import resolve_device
    from ..errors import ConfigError

    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, str):
        return load_model(model, device=resolve_device(device))
    raise ConfigError(f"model must be a model name or a loaded model, not {type(model).__name__}", field="model")


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
