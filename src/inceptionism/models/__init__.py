"""Model registry: ``list_models()``, ``get_spec(name)``, ``load_model(name)``."""

from __future__ import annotations

import difflib
import threading

import torch

from ..errors import ModelError
from .efficientnet import LITE0
from .spec import LoadedModel, ModelSpec

__all__ = ["ModelSpec", "LoadedModel", "register", "list_models", "get_spec", "load_model"]

_REGISTRY: dict[str, ModelSpec] = {}
_CACHE: dict[tuple[str, str, bool], LoadedModel] = {}
_CACHE_LOCK = threading.Lock()


def register(spec: ModelSpec) -> ModelSpec:
    """Add a network to the registry; a name can be registered only once."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def list_models() -> list[str]:
    """Names of every registered network, the default first."""
    return list(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    """The spec of a registered network; an unknown name lists the nearest valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        near = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.4)
        hint = f"did you mean {', '.join(near)}?" if near else f"available: {', '.join(_REGISTRY)}"
        raise ModelError(f"unknown model {name!r}; {hint}") from None


def load_model(
    name: str = "efficientnet-lite0",
    *,
    device: str | torch.device = "cpu",
    pretrained: bool = True,
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
        cache: reuse a model already loaded in this process with the same arguments.

    Example:
        >>> model = load_model("efficientnet-lite0")
        >>> model.spec.min_size
        32
    """
    spec = get_spec(name)
    key = (name, str(torch.device(device)), pretrained)
    with _CACHE_LOCK:
        if cache and key in _CACHE:
            return _CACHE[key]
        net = spec.build()
        sha = spec.load_weights(net) if pretrained else "random"
        for module in net.modules():
            if hasattr(module, "inplace"):
                module.inplace = False
        net.eval().requires_grad_(False)
        model = LoadedModel(spec, net, sha).to(device)
        if cache:
            _CACHE[key] = model
        return model


register(LITE0)
