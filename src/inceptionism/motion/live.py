"""Live dreaming: frames dreamed as they come, each from the previous dream carried along the
optical flow into it (as a video's frames are, occlusions included), then a few gradient steps
at the frame's own size. Where the scene is still the dream deepens frame by frame; where it
moves the dream follows. A dreamer slower than its source always takes the latest frame
(:class:`Latest`): frames that came while it worked replace each other, so the delay stays
bounded.

Examples:
    >>> import numpy as np
    >>> still = [np.full((96, 128, 3), 120, np.uint8)] * 3
    >>> dreams = [dream for _, dream in live_frames(still, seed=0)]
    >>> len(dreams), dreams[0].shape
    (3, (96, 128, 3))
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import torch

from ..config import DreamConfig
from ..engine import Callbacks
from ..errors import ImageError, InceptionismError, cause
from ..models.loaded import LoadedModel
from ..command_config import LIVE_DREAM_DEFAULTS, LiveConfig
from ..declare import declared
from .video import coherent_start, fit_frame

__all__ = ["Latest", "LiveDreamer", "live_frames", "is_stream", "source_rate", "LIVE_FLOW_SIDE"]

LIVE_FLOW_SIDE = 120  # px: a live frame's flow is measured this small (47 ms at 320x240 full size, 2 CPUs)


class Latest:
    """A one-frame mailbox between a source and a dreamer: :meth:`put` replaces a frame not yet
    taken (counted in ``dropped``), :meth:`take` waits for the next one."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._item: Any = None
        self._closed = False
        self.dropped = 0

    def put(self, item: Any) -> None:
        with self._ready:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._ready.notify()

    def close(self, *, drop: bool = False) -> None:
        """No more frames: :meth:`take` returns None once the last one is taken (at once with
        ``drop``: a frame waiting is dropped, as when the client has gone)."""
        with self._ready:
            self._closed = True
            if drop:
                self._item = None
            self._ready.notify_all()

    @property
    def closed(self) -> bool:
        """Closed, and nothing left to take."""
        with self._ready:
            return self._closed and self._item is None

    def take(self, timeout: float | None = None) -> Any:
        """The latest frame, waiting up to ``timeout`` s for one; None when closed and empty (or
        on time-out)."""
        with self._ready:
            self._ready.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return item


class LiveDreamer:
    """Dreams frames one after another (:meth:`dream`), each from the last dream carried along
    the flow. ``cfg`` must be resolved (its layers and seed set); frame k is dreamed with seed
    ``cfg.seed + k``, at one octave (the frame's own size) with ``live.frame_steps`` steps, fewer
    while ``live.target_fps`` is missed."""

    def __init__(self, cfg: DreamConfig, live: LiveConfig, *, model: LoadedModel,
                 callbacks: Callbacks | None = None) -> None:
        from ..api import resolve_machine_choices

        self.cfg = resolve_machine_choices(cfg, model).replace(octave_range=(0, 0))
        self.live, self.model, self.callbacks = live, model, callbacks
        self.steps = live.frame_steps
        self.count = 0
        self._sizes: dict[tuple[int, int], tuple[DreamConfig, Any, int, torch.Tensor | None]] = {}
        self._prev: tuple[np.ndarray, np.ndarray] | None = None  # (source, dream) of the last frame
        self.timings: dict[str, float] = {}  # the last frame's: ms carrying the dream along the flow, ms of steps

    def _prepared(self, height: int, width: int) -> tuple[DreamConfig, Any, int, torch.Tensor | None]:
        """The checked config, objective, tile size and mask for frames of this size (once each)."""
        if (height, width) not in self._sizes:
            if len(self._sizes) >= 2:  # a source that changes size keeps only its last sizes
                self._sizes.pop(next(iter(self._sizes)))
            from ..api import check_config
            from ..engine import auto_tile_size
            from ..steering import build_objective, load_mask

            cfg = check_config(self.cfg, self.model, width, height)
            objective = build_objective(self.model, cfg, (height, width))
            tile = cfg.tile_size or auto_tile_size(self.model, objective.layers, height, width)
            mask = load_mask(cfg.mask, width, height, self.model.device) if cfg.mask else None
            self._sizes[(height, width)] = (cfg, objective, tile, mask)
        return self._sizes[(height, width)]

    def dream(self, frame: np.ndarray) -> np.ndarray:
        """``frame`` (H, W, 3) uint8, shrunk to ``max_size``, dreamed: (h, w, 3) uint8."""
        from ..engine import run_dream
        from ..runtime import cpu_threads

        began = time.perf_counter()
        source = fit_frame(np.ascontiguousarray(frame[..., :3]), self.cfg.max_size)
        if self._prev is not None and self._prev[0].shape == source.shape:
            start, _ = coherent_start(self._prev[0], source, self._prev[1], self.live.blend, flow_side=LIVE_FLOW_SIDE)
        else:  # the first frame, or the source changed size
            start = source.astype(np.float32) / 255.0
        carried = time.perf_counter()
        height, width = source.shape[:2]
        cfg, objective, tile, mask = self._prepared(height, width)
        ascent = dataclasses.replace(cfg.ascent, steps=self.steps, seed=cfg.seed + self.count)
        x = torch.from_numpy(np.ascontiguousarray(start, np.float32)).permute(2, 0, 1)[None].to(self.model.device)
        with cpu_threads(cfg.threads):
            result = run_dream(self.model, x, objective, ascent, tile_size=tile, callbacks=self.callbacks, mask=mask,
                               score=False)
        dream = (result.image[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)
        self._prev = (source, dream)
        self.count += 1
        done = time.perf_counter()
        self.timings = {"flow": round((carried - began) * 1000, 1), "steps": round((done - carried) * 1000, 1)}
        self._pace(done - began)
        return dream

    def _pace(self, seconds: float) -> None:
        """Fewer steps after a frame slower than the target rate allows, more after a quick one."""
        if self.live.target_fps is None:
            return
        share = 1.0 / self.live.target_fps
        if seconds > share and self.steps > 1:
            self.steps -= 1
        elif seconds < 0.6 * share * self.steps / (self.steps + 1) and self.steps < self.live.frame_steps:
            self.steps += 1


def _open_capture(source: int | str) -> Any:
    """OpenCV's capture of a camera (its index) or a stream (its URL), opened.

    Raises:
        ImageError: there is no such camera or stream, or it cannot be opened.
    """
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # its warnings would stand before our one line
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        what = f"camera {source} cannot be opened (is there one, and may this user use it?)" if isinstance(source, int) \
            else f"stream {str(source)[:200]!r} cannot be opened"
        raise ImageError(f"{what}; a video file works too", field="source")
    return capture


def source_rate(source: int | str | Path) -> float:
    """Frames per second ``source`` delivers: a file's own rate, a camera's or stream's as it
    says (30 where it says nothing)."""
    if not is_stream(source):
        from .videoio import probe

        return probe(source).fps
    import cv2

    capture = _open_capture(source)  # type: ignore[arg-type]
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0)
    finally:
        capture.release()
    return fps if 1 <= fps <= 240 else 30.0


def is_stream(source: Any) -> bool:
    """A camera's index or a URL: read as it delivers, not at a file's own rate."""
    return isinstance(source, int) or (isinstance(source, str) and "://" in source)


def _source_frames(source: Any, into: Latest, stop: threading.Event, failed: list) -> None:
    """Read ``source`` in real time into ``into``: an opened camera or stream as it delivers,
    a file at its own frame rate (a camera's stand-in), then close the mailbox; what went wrong
    goes into ``failed`` for the dreamer to raise."""
    try:
        if not isinstance(source, (str, Path)):  # an opened camera
            import cv2

            camera = source
            try:
                while not stop.is_set():
                    ok, frame = camera.read()
                    if not ok:
                        break
                    into.put(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            finally:
                camera.release()
            return
        from .videoio import probe, read_frames

        fps = probe(source).fps or 25.0
        began = time.monotonic()
        for index, frame in enumerate(read_frames(source)):
            if stop.is_set():
                break
            wait = began + index / fps - time.monotonic()
            if wait > 0 and stop.wait(wait):
                break
            into.put(frame)
    except Exception as exc:  # noqa: BLE001 - handed to the dreamer, which raises it
        failed.append(exc)
    finally:
        into.close()


def live_frames(
    source: int | str | Path | Iterable[np.ndarray],
    config: DreamConfig | None = None,
    *,
    model: LoadedModel | None = None,
    callbacks: Callbacks | None = None,
    stop: threading.Event | None = None,
    **params: Any,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Dream ``source`` live: yields (frame, dream), both (h, w, 3) uint8 at the dream's size.

    Args:
        source: a camera's index, a video file or a stream URL (read in real time: a slow
            dreamer takes the latest frame, and the others are dropped), or any iterable of
            (H, W, 3) uint8 frames (each one dreamed, in order: notebooks, tests).
        config: a :class:`~inceptionism.DreamConfig`; ``params`` override its fields. Without
            one, live's start: the classic preset at ``max_size=320`` with ``step_size=0.03``.
        model: a loaded network to reuse.
        callbacks: the engine's, for every frame's steps.
        stop: set it (from a signal handler, another thread) to end a camera or stream, even
            one that has stopped delivering.
        **params: the live ones (``frame_steps``, ``blend``, ``target_fps``:
            :class:`~inceptionism.command_config.LiveConfig`) and any dream parameter.
    """
    from ..api import load_model_for, resolve_config

    own = [p.name for p in declared(LiveConfig) if p.name in params]
    live = LiveConfig(**{name: params.pop(name) for name in own})
    cfg = resolve_config(config, command=LIVE_DREAM_DEFAULTS, loaded=model, **params)
    dreamer = LiveDreamer(cfg, live, model=model if model is not None else load_model_for(cfg), callbacks=callbacks)
    if not isinstance(source, (int, str, Path)):
        for frame in source:
            yield fit_frame(np.ascontiguousarray(frame[..., :3]), cfg.max_size), dreamer.dream(frame)
        return
    latest, stop, failed = Latest(), stop or threading.Event(), []
    opened = _open_capture(source) if is_stream(source) else source
    reader = threading.Thread(target=_source_frames, args=(opened, latest, stop, failed), name="live-source",
                              daemon=True)
    reader.start()
    try:
        while not stop.is_set():
            frame = latest.take(timeout=0.25)  # a stalled source still lets a stop through
            if frame is None and (latest.closed or stop.is_set()):
                break
            if frame is not None:
                yield fit_frame(frame, cfg.max_size), dreamer.dream(frame)
    finally:
        stop.set()
        reader.join(10)
    if failed:
        exc = failed[0]
        raise exc if isinstance(exc, InceptionismError) else ImageError(f"{source}: {cause(exc)}", field="source")
