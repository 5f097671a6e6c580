"""Networks: ``list_models()``, ``get_spec(name)``, ``load_model(name)``.

The registry (``models.registry``) and the specs import no torch (``inceptionism models`` lists
the networks without it); :func:`load_model`, ``without_inplace`` and ``LoadedModel`` come from
``models.loading`` and ``models.loaded``, imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .registry import (Listing, add_trained_folder, describe, get_spec, list_models, only_trained_from, register,
                       spec_for, weights_path)
from .spec import ModelSpec

if TYPE_CHECKING:
    from .loaded import LoadedModel
    from .loading import as_loaded, load_model, without_inplace

__all__ = ["ModelSpec", "LoadedModel", "register", "add_trained_folder", "only_trained_from", "list_models", "get_spec",
           "spec_for", "load_model", "as_loaded", "weights_path", "Listing", "describe", "without_inplace"]


def __getattr__(name: str) -> Any:
    """``load_model``, ``as_loaded``, ``without_inplace`` and ``LoadedModel``, whose modules import torch: on
    first use."""
    if name in ("load_model", "as_loaded", "without_inplace"):
        from . import loading

        return getattr(loading, name)
    if name == "LoadedModel":
        from .loaded import LoadedModel

        return LoadedModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
