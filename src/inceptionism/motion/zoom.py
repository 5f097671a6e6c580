"""Zoom animations: dream on the previous frame, then zoom, rotate and pan about the centre."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..config import DreamConfig
from ..engine import Callbacks
from ..command_config import ZOOM_DREAM_DEFAULTS, ZoomConfig
from ..images import Picture
from ..models.loaded import LoadedModel
from .loop import loop_frames, loop_plan

if TYPE_CHECKING:
    from ..api import ImageInput

__all__ = ["transform_frame", "zoom_frames", "zoom", "dream_count"]

FRAME_FIELDS = ("frames", "zoom", "rotate", "pan", "interpolate", "loop")  # what of ZoomConfig shapes the frames


def transform_frame(frame: np.ndarray, zoom: float, rotate: float, pan: tuple[float, float]) -> np.ndarray:
    """Zoom in by ``zoom``, rotate by ``rotate`` degrees and pan by (dx, dy) pixels about the centre.

    ``frame`` is (H, W, 3) float in [0, 1]; the result has the same shape.
    """
    height, width = frame.shape[:2]
    x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None]
    angle = math.radians(rotate)
    cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
    # Normalized coordinates: the aspect ratio enters the rotation so circles stay round.
    aspect = width / height
    theta = torch.tensor(
        [[cos, -sin / aspect, 2 * pan[0] / width], [sin * aspect, cos, 2 * pan[1] / height]], dtype=x.dtype
    )
    grid = F.affine_grid(theta[None], [1, 3, height, width], align_corners=False)
    out = F.grid_sample(x, grid, mode="bicubic", padding_mode="reflection", align_corners=False)
    return out[0].permute(1, 2, 0).clamp(0, 1).numpy()


def zoom_frames(
    start: Picture,
    cfg: DreamConfig,
    *,
    frames: int = ZoomConfig.frames,
    zoom: float = ZoomConfig.zoom,
    rotate: float = ZoomConfig.rotate,
    pan: tuple[float, float] = ZoomConfig.pan,
    interpolate: int = ZoomConfig.interpolate,
    loop: bool = ZoomConfig.loop,
    model: LoadedModel | None = None,
    callbacks: Callbacks | None = None,
    on_frame: Callable[[int, int], None] | None = None,
    progress: bool = False,
) -> Iterator[np.ndarray]:
    """Yield ``frames`` RGB frames (H, W, 3) uint8 of an endless zoom into a dream.

    Every (``interpolate`` + 1)-th frame is dreamed; the ``interpolate`` frames between
    apply a fraction of the zoom/rotation/pan to the last dreamed one, which is smooth
    and costs no dreaming. ``cfg`` must be resolved; frame k is dreamed with seed
    ``cfg.seed + k``. ``progress`` shows a bar over the frames.

    ``loop``: the last frame continues into the first (see :mod:`.loop`; ``on_frame``
    then counts the levels' dreams and the frames in one total). ``callbacks`` go to every
    dream (a host's progress and cancel within a step).
    """
    from ..api import render, resolve_machine_choices
    from ..notebook import counted_progress

    cfg = resolve_machine_choices(cfg, model)  # once, for every frame
    if loop:
        ZoomConfig(frames=frames, zoom=zoom, rotate=rotate, pan=pan, interpolate=interpolate, loop=loop)  # checked
        with counted_progress("zoom", "frame", on_frame, shown=progress) as on_frame:
            yield from loop_frames(start, cfg, loop_plan(frames, zoom, rotate=rotate, interpolate=interpolate), model=model,
                                   callbacks=callbacks, on_frame=on_frame)
        return
    current = start.rgb
    produced, dreamed = 0, 0
    with counted_progress("zoom", "frame", on_frame, shown=progress) as on_frame:
        while produced < frames:
            result = render(Picture(current), cfg.replace(seed=cfg.seed + dreamed), model=model, callbacks=callbacks)
            dream = np.asarray(result.image.convert("RGB"), np.float32) / 255.0
            dreamed += 1
            for j in range(interpolate + 1):
                if produced >= frames:
                    break
                part = j / (interpolate + 1)
                frame = dream if j == 0 else transform_frame(dream, zoom**part, rotate * part,
                                                             (pan[0] * part, pan[1] * part))
                yield (frame * 255 + 0.5).astype(np.uint8)
                produced += 1
                if on_frame is not None:
                    on_frame(produced, frames)
            current = transform_frame(dream, zoom, rotate, pan)


def dream_count(*, frames: int, zoom: float, rotate: float, pan: tuple[float, float], interpolate: int,
                loop: bool) -> int:
    """How many dreams :func:`zoom_frames` makes for these frame-shaping values: every
    (``interpolate`` + 1)-th frame, or a loop's levels' dreams."""
    if loop:
        return loop_plan(frames, zoom, rotate=rotate, interpolate=interpolate).dreams
    return math.ceil(frames / (interpolate + 1))


def zoom(
    image: ImageInput,
    config: DreamConfig | None = None,
    *,
    model: LoadedModel | None = None,
    progress: bool = False,
    **params: Any,
) -> list[Image.Image]:
    """A zoom into a dream, as the frames ``inceptionism zoom`` writes: the library's door to it.

    Args:
        image: what :func:`inceptionism.dream` takes (a path, ``"noise"``, a PIL image, an array).
        config: a :class:`~inceptionism.DreamConfig`; dream ``params`` override its fields.
            Without one, the zoom's light touch (preset subtle, 2 octaves of 5 steps) is the
            start, as on the command line.
        model: a loaded network to reuse.
        progress: a bar over the frames.
        **params: the zoom's own (``frames``, ``zoom``, ``rotate``, ``pan``, ``interpolate``,
            ``loop``: :class:`~inceptionism.command_config.ZoomConfig`; ``loop=True`` makes the last
            frame continue into the first) and any dream parameter, e.g. ``max_size=320``.

    Returns:
        The frames as RGB pictures; save them with ``frames[0].save("zoom.webp", save_all=True,
        append_images=frames[1:], duration=80, loop=0)``.

    Examples:
        >>> frames = zoom("examples/chelsea.jpg", frames=3, max_size=64, seed=0)
        >>> len(frames), frames[0].size
        (3, (64, 43))
    """
    from ..api import as_picture, load_model_for, resolve_config

    motion = ZoomConfig(**{name: params.pop(name) for name in FRAME_FIELDS if name in params})
    cfg = resolve_config(config, command=ZOOM_DREAM_DEFAULTS, loaded=model, **params)
    model = model if model is not None else load_model_for(cfg)
    start, _ = as_picture(image, cfg)
    shown = zoom_frames(start, cfg, model=model, progress=progress,
                        **{name: getattr(motion, name) for name in FRAME_FIELDS})
    return [Image.fromarray(frame) for frame in shown]
