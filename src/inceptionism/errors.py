"""Exceptions of inceptionism.

Every error a user can cause is an :class:`InceptionismError` whose message is one
line naming the bad value, what is allowed, and (where there is one) the fix. Each
family carries the exit code the command line returns for it, so scripts can tell a
bad image from a missing weights file without parsing text.
"""

from __future__ import annotations

__all__ = [
    "InceptionismError",
    "ConfigError",
    "ImageError",
    "ModelError",
    "LayerError",
    "WeightsMissingError",
    "OutputError",
]


class InceptionismError(Exception):
    """Base class of every user-facing error.

    ``field`` names the parameter at fault, where there is one, so a front door can
    point at it (the service answers it as JSON) without reading the message.
    """

    exit_code = 1

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConfigError(InceptionismError, ValueError):
    """A parameter is out of range, of the wrong kind, or unknown."""

    exit_code = 2


class ImageError(InceptionismError):
    """An input image cannot be read: not an image, truncated, or too large."""

    exit_code = 3


class ModelError(InceptionismError, ValueError):
    """Unknown model name or a model that cannot be built."""

    exit_code = 4


class LayerError(ModelError):
    """Unknown layer, or a channel/position outside the layer."""

    exit_code = 4


class WeightsMissingError(InceptionismError):
    """A model's weights are not on this machine."""

    exit_code = 5


class OutputError(InceptionismError):
    """An output cannot be written where it was asked for."""

    exit_code = 6
