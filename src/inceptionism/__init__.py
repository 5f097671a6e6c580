"""inceptionism: DeepDream for Python.

Examples:
    >>> import inceptionism
    >>> out = inceptionism.dream("examples/chelsea.png", preset="deep", seed=0)
    >>> out.save("dream.png")

The names below are imported on first use, so ``import inceptionism`` (and the command
line, before it knows what it will do) does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .paths import __version__

_EXPORTS = {
    "Dream": "api",
    "dream": "api",
    "render": "api",
    "visualize": "unit_pictures",
    "concepts": "concept_report",
    "zoom": "motion.zoom",
    "DreamConfig": "config",
    "InceptionismError": "errors",
    "list_models": "models",
    "load_model": "models",
    "list_layers": "taps",
    "train": "training",
    "TrainConfig": "command_config",
    "top_classes": "api",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'inceptionism' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from .api import Dream, dream, render, top_classes
    from .command_config import TrainConfig
    from .training import train
    from .unit_pictures import visualize
    from .concept_report import concepts
    from .motion.zoom import zoom
    from .config import DreamConfig
    from .errors import InceptionismError
    from .models import list_models, load_model
    from .taps import list_layers
