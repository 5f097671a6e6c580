"""Where the project keeps things on disk, and its version: the lowest floor.

Everything may import this module; it imports nothing from the package.

- the cache (weights, channel galleries): ``$INCEPTIONISM_HOME``, else
  ``$XDG_CACHE_HOME/inceptionism``, else ``~/.cache/inceptionism``;
- the studio's data (jobs, uploads, results): ``$INCEPTIONISM_DATA``, else
  ``$XDG_DATA_HOME/inceptionism``, else ``~/.local/share/inceptionism``.

Nothing here creates a folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["__version__", "cache_root", "weights_cache_dir", "gallery_cache_dir", "default_data_dir"]

__version__ = "0.1.0"


def cache_root() -> Path:
    """The project's cache directory."""
    if os.environ.get("INCEPTIONISM_HOME"):
        return Path(os.environ["INCEPTIONISM_HOME"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "inceptionism"


def weights_cache_dir() -> Path:
    """Where fetched and converted weights are kept."""
    return cache_root() / "weights"


def gallery_cache_dir() -> Path:
    """Where channel-gallery thumbnails are kept."""
    return cache_root() / "gallery"


def default_data_dir() -> Path:
    """The studio's data folder."""
    if os.environ.get("INCEPTIONISM_DATA"):
        return Path(os.environ["INCEPTIONISM_DATA"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "inceptionism"
