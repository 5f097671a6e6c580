"""A studio job's one per-job function: a dream of an uploaded picture (or of noise), its
progress and per-octave previews handed to callbacks, the result as PNG bytes. The studio's
workers run it in their own threads, a cluster's dreamer in its process
(:mod:`inceptionism.runners`), so both give the same picture for the same seed, device type
and thread count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .config import DreamConfig
from .models.loaded import LoadedModel

__all__ = ["Dreamed", "JobCancelled", "JobEvents", "dream_job"]


class JobCancelled(Exception):
    """Raised from a job's callback when it is to stop (cancelled, or the server stopping)."""


@dataclass(frozen=True)
class Dreamed:
    """A finished job: the picture as PNG bytes (parameters embedded) and what is recorded."""

    png: bytes
    config: dict  # the used configuration, as recorded
    score_start: float
    score_end: float


@dataclass(frozen=True)
class JobEvents:
    """Where a job's news goes. ``on_step(info)`` gets the engine's StepInfo after each step and
    ``on_tile()`` is called after every tile (either may raise :class:`JobCancelled`);
    ``on_preview(octave, jpeg)`` gets each octave's preview, its longer side ``preview_side``;
    ``recorded(metadata)`` gives the metadata as it is to be written (a server takes its
    folders out)."""

    on_step: Callable[[Any], None] | None = None
    on_tile: Callable[[], None] | None = None
    on_preview: Callable[[int, bytes], None] | None = None
    recorded: Callable[[dict], dict] = lambda metadata: metadata
    preview_side: int = 256


def dream_job(image: bytes | None, name: str, cfg: DreamConfig, model: LoadedModel, events: JobEvents) -> Dreamed:
    """Dream ``image`` (the bytes of an uploaded picture named ``name``; None: noise) as ``cfg`` says."""
    from .api import render
    from .engine import Callbacks, resize
    from .images import encode_image, fit_longest_side, picture_from_bytes, to_pil

    def on_octave(info: Any) -> None:
        if events.on_preview is None:
            return
        height, width = info.image.shape[-2:]
        small = to_pil(resize(info.image, fit_longest_side(width, height, events.preview_side)[::-1]).clamp(0, 1))
        events.on_preview(info.octave, encode_image(small, ".jpg"))

    start: Any = picture_from_bytes(image, max_side=cfg.max_size, role="image") if image is not None else "noise"
    callbacks = Callbacks(on_step=events.on_step, on_octave=on_octave, on_tile=events.on_tile)
    result = render(start, cfg, model=model, callbacks=callbacks, source=name)
    metadata = events.recorded(result.metadata)
    return Dreamed(encode_image(result.image, ".png", metadata), metadata["config"], result.score_start,
                   result.score_end)
