"""inceptionism: DeepDream for Python.

Example:
    >>> import inceptionism
    >>> out = inceptionism.dream("examples/chelsea.png", preset="deep", seed=0)
    >>> out.save("dream.png")
"""

from .api import Dream, dream, render, visualize
from .config import DreamConfig
from .errors import InceptionismError
from .models import list_models, load_model
from .taps import list_layers

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Dream",
    "DreamConfig",
    "InceptionismError",
    "dream",
    "list_layers",
    "list_models",
    "load_model",
    "render",
    "visualize",
]
