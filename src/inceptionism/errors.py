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
    "ServiceError",
    "cause",
]


class InceptionismError(Exception):
    """Base class of every user-facing error.

    ``field`` names the parameter at fault, where there is one, so a front door can
    point at it (the service answers it as JSON) without reading the message.
    """

    exit_code = 1

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        if "\n" in message or "\r" in message:  # one line, whatever text a cause brought in
            message = " ".join(line.strip() for line in message.splitlines() if line.strip())
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


class ServiceError(InceptionismError):
    """The studio cannot start: its address cannot be listened on, or its data directory is in use."""

    exit_code = 7


def cause(exc: BaseException, limit: int = 160) -> str:
    """Another library's exception as a short cause for one of ours: one line, at most
    ``limit`` characters.

    Library messages can run over many lines and give advice that is not the user's to
    follow; torch.load's refusal, for one, says to pass ``weights_only=False`` and to file
    an issue. Where a message names its reason after a heading ("WeightsUnpickler
    error: ..."), that reason is the cause; otherwise the first line is. Of either, the
    first sentence.
    """
    text = str(exc).strip()
    head, found, reason = text.partition("WeightsUnpickler error:")
    if found and reason.strip():
        text = reason.strip()
    line = next((part.strip() for part in text.splitlines() if part.strip()), "") or type(exc).__name__
    first, stop, rest = line.partition(". ")
    if stop and rest:  # the first sentence: what follows is advice ("If you are seeing this error, ...")
        line = first
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."
