"""The dreamer: a Ray actor that holds its networks once and runs the same per-item
functions the local commands run (:func:`~inceptionism.motion.batch.dream_bytes`,
:class:`~inceptionism.motion.video.FrameDreamer`, the gallery's channel pictures, a
studio job's :func:`~inceptionism.api.render`), so a cluster's output equals the local one
for the same seed, device type and thread count.

Files a configuration names (guide pictures, a mask, custom weights) live on the machine
that gave the command; they travel with the call (:func:`ship`), are written once into
this machine's temporary folder by content (:func:`land`), and are recorded in results by
their original names.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..config import DreamConfig

__all__ = ["Dreamer", "ship", "land"]


def ship(cfg: DreamConfig) -> dict[str, bytes]:
    """The contents of the files ``cfg`` names, by the names it gives them (``--weights random`` names none)."""
    paths = [*(cfg.guide or ()), *([cfg.mask] if cfg.mask else []), *([cfg.weights_file()] if cfg.weights_file() else [])]
    return {str(path): Path(path).read_bytes() for path in paths}


def land(cfg: DreamConfig, files: dict[str, bytes]) -> DreamConfig:
    """``cfg`` with the shipped files written here (once per content) and named by their copies."""
    if not files:
        return cfg
    folder = Path(tempfile.gettempdir()) / "inceptionism-shipped"
    folder.mkdir(exist_ok=True)
    local: dict[str, str] = {}
    for name, data in files.items():
        path = folder / (hashlib.sha256(data).hexdigest()[:32] + Path(name).suffix.lower())
        if not path.is_file():
            from ..outputs import write_atomic

            write_atomic(path, lambda fh, data=data: fh.write(data))
        local[name] = str(path)
    return cfg.replace(
        guide=tuple(local.get(str(g), g) for g in cfg.guide) if cfg.guide else cfg.guide,
        mask=local.get(str(cfg.mask), cfg.mask) if cfg.mask else cfg.mask,
        weights=local.get(str(cfg.weights), cfg.weights) if cfg.weights else cfg.weights,
    )


def _as_shipped(value: Any, original: DreamConfig, landed: DreamConfig) -> Any:
    """``value`` (metadata) with the landed copies' paths replaced by the original names."""
    import json

    text = json.dumps(value)
    pairs = [*zip(landed.guide or (), original.guide or ()), (landed.mask, original.mask),
             (landed.weights, original.weights)]  # fmt: skip
    for here, there in pairs:
        if here and there and here != there:
            text = text.replace(json.dumps(str(here))[1:-1], json.dumps(str(there))[1:-1])
    return json.loads(text)


class Dreamer:
    """One worker of a cluster (made a Ray actor by :class:`~inceptionism.cluster.pool.DreamerPool`)."""

    def __init__(self, threads: int, warm: DreamConfig | None = None) -> None:
        import torch

        from ..runtime import keep_freed_memory

        keep_freed_memory()
        torch.set_num_threads(threads)
        self._cancel = threading.Event()
        self._busy = threading.Lock()  # one dream at a time: a call its caller gave up may still be finishing
        if warm is not None:
            self._model(warm)

    def _model(self, cfg: DreamConfig) -> Any:
        from ..api import load_model_for

        return load_model_for(cfg)  # cached per process: each network is loaded once

    def ready(self) -> str:
        """Answers once the actor has started: its node's id."""
        import ray

        return ray.get_runtime_context().get_node_id()

    def check(self, cfg: DreamConfig, files: dict[str, bytes]) -> None:
        """``api.check_config`` with this worker's network: the driver need not load one."""
        from ..api import check_config

        here = land(cfg, files)
        check_config(here, self._model(here))

    # --- batch -------------------------------------------------------------------------

    def dream_file(self, data: bytes, name: str, suffix: str, cfg: DreamConfig, files: dict[str, bytes]) -> bytes:
        from ..motion.batch import dream_bytes

        here = land(cfg, files)
        with self._busy:
            return dream_bytes(data, name, suffix, here, self._model(here), recorded=lambda m: _as_shipped(m, cfg, here))

    # --- video -------------------------------------------------------------------------

    def dream_segment(
        self,
        frames: np.ndarray,
        first: int,
        cfg: DreamConfig,
        files: dict[str, bytes],
        video: Any,
        resume: list[tuple[np.ndarray, np.ndarray]],
    ) -> Iterator[np.ndarray]:
        """Dream ``frames`` (N, H, W, 3) uint8, which are frames ``first``.. of the clip, one after
        another as the local video does, with ``video`` (a VideoConfig, whole); yields each
        dreamed frame as it is done. ``resume``:
        (source, dream) pairs of frames finished before (the segment's first, for its colour
        cast, and the last one, whose detail is carried on), oldest first."""
        from ..motion.video import FrameDreamer

        here = land(cfg, files)
        with self._busy:  # a cancelled call (ray.cancel) stops at a yield
            stepper = FrameDreamer(here, video, model=self._model(here))
            for source, dream in resume:
                stepper.resume(source, dream)
            for offset, frame in enumerate(frames):
                yield stepper.dream(first + offset, frame)

    # --- gallery -----------------------------------------------------------------------

    def render_channels(self, cfg: DreamConfig, files: dict[str, bytes], layer: str, channels: list[int],
                        vis: Any, batch: int) -> list[tuple[int, bytes]]:
        """The gallery pictures of ``channels`` of ``layer``, as PNG files."""
        from ..gallery import channel_pictures

        here = land(cfg, files)
        with self._busy:
            return list(channel_pictures(self._model(here), layer, channels, vis, batch=batch))

    # --- studio ------------------------------------------------------------------------

    def dream_job(self, image: bytes | None, name: str, cfg: DreamConfig, files: dict[str, bytes],
                  preview_side: int, recorded: Callable[[dict], dict]) -> Iterator[tuple[str, Any]]:
        """A studio job (:func:`~inceptionism.jobs.dream_job`): yields ("step", StepInfo fields),
        ("preview", (octave, JPEG bytes)) as the dream goes, then ("done", Dreamed); the metadata
        is passed through ``recorded`` (the server takes its folders out)."""
        import queue as queues

        from ..jobs import JobCancelled, JobEvents, dream_job

        here = land(cfg, files)
        events: queues.Queue = queues.Queue()

        def on_tile() -> None:  # a cancel takes effect within a step of many tiles
            if self._cancel.is_set():
                raise JobCancelled

        def on_step(info: Any) -> None:
            on_tile()
            events.put(("step", {k: getattr(info, k) for k in ("octave", "octaves", "step", "steps", "width", "height")}))

        news = JobEvents(on_step=on_step, on_tile=on_tile, on_preview=lambda octave, jpeg: events.put(("preview", (octave, jpeg))),
                         recorded=lambda metadata: recorded(_as_shipped(metadata, cfg, here)), preview_side=preview_side)

        def run() -> None:
            try:
                events.put(("done", dream_job(image, name, here, self._model(here), news)))
            except JobCancelled:
                events.put(("cancelled", None))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                events.put(("error", exc))
            finally:
                self._busy.release()

        self._busy.acquire()  # released by run(), whatever happens
        self._cancel.clear()
        # The dream runs on a thread so this generator can stream its progress; cancelled
        # (ray.cancel stops the generator at a yield), it tells the dream to stop at its next step.
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            while True:
                kind, value = events.get()
                if kind == "error":
                    raise value
                yield kind, value
                if kind in ("done", "cancelled"):
                    return
        finally:
            self._cancel.set()
            thread.join()
