"""Where the work of ``batch``, ``video``, ``gallery`` and the studio runs: one seam, two sides.

:func:`runner_for` gives a :class:`Runner`: this process (:class:`LocalRunner`), or a Ray
cluster's dreamers (:class:`inceptionism.cluster.runner.RayRunner`) when an address is
given. Both run the same per-item functions (:func:`~inceptionism.motion.batch.dream_bytes`,
:class:`~inceptionism.motion.video.FrameDreamer`, :func:`~inceptionism.gallery.channel_pictures`,
:func:`~inceptionism.jobs.dream_job`), so a cluster's output equals the local one for the
same seed, device type and thread count. A front door picks the side once and calls the
same methods either way::

    with runner_for(cluster, warm=cfg, threads=cfg.threads) as runner:
        runner.check(cfg)
        runner.dream_video("clip.mp4", "dream.mp4", cfg, VideoConfig())

Without an address, Ray is never imported.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from .config import DreamConfig
from .featurevis import FeatureVisConfig
from .jobs import Dreamed, JobEvents, dream_job
from .models.loaded import LoadedModel
from .motion.batch import BatchItem, dream_here
from .motion.video import VideoResult, dream_video
from .command_config import VideoConfig

__all__ = ["Runner", "LocalRunner", "runner_for"]

FrameReport = Callable[[int, int, bool], None]  # on_frame(done, total, resumed)


class Runner(Protocol):
    """The interface both sides keep."""

    where: str  # "here", or the cluster's address

    def check(self, cfg: DreamConfig) -> None:
        """The configuration's checks against its network (``api.check_config``), before any work."""

    def dream_files(self, items: list[BatchItem], cfg: DreamConfig) -> Iterator[tuple[BatchItem, Any, str]]:
        """A batch's files: (item, output bytes or its error, who dreamed it) as each finishes."""

    def dream_video(self, source: str | Path, output: str | Path, cfg: DreamConfig, video: VideoConfig, *,
                    on_frame: FrameReport | None = None) -> VideoResult:
        """A whole video, resumable (:func:`~inceptionism.motion.video.dream_video`)."""

    def render_channels(self, network: DreamConfig, layer: str, chunks: list[list[int]], vis: FeatureVisConfig,
                        batch: int, *, on_step: Callable[[int, object], None] | None = None
                        ) -> Iterator[list[tuple[int, bytes]]]:
        """Each chunk's gallery pictures, (channel, PNG bytes), as the chunk is done (``on_step``: the
        passes' steps, where they run here)."""

    def dream_job(self, image: bytes | None, name: str, cfg: DreamConfig, events: JobEvents) -> Dreamed:
        """A studio job (:func:`~inceptionism.jobs.dream_job`); may raise JobCancelled."""


class LocalRunner:
    """The work in this process, on the process's copy of each network; with ``per_thread``
    (the studio's workers), each thread that uses it keeps its own copy instead: forward
    hooks live on the modules, so two dreams at once never share one."""

    where = "here"

    def __init__(self, *, per_thread: bool = False) -> None:
        self.per_thread = per_thread
        self._own = threading.local()

    def model(self, cfg: DreamConfig) -> LoadedModel:
        """This thread's copy of the network ``cfg`` names, loaded on first use."""
        from .api import load_model_for
        from .device import resolve_device
        from .models import load_model

        if not self.per_thread:
            return load_model_for(cfg)
        device = str(resolve_device(cfg.device))
        models = self._own.__dict__.setdefault("models", {})
        if (cfg.model, cfg.weights, device) not in models:
            models[cfg.model, cfg.weights, device] = load_model(cfg.model, device=device, weights=cfg.weights, cache=False)
        return models[cfg.model, cfg.weights, device]

    def check(self, cfg: DreamConfig) -> None:
        from .api import check_config

        check_config(cfg, self.model(cfg))

    def dream_files(self, items: list[BatchItem], cfg: DreamConfig) -> Iterator[tuple[BatchItem, Any, str]]:
        return dream_here(items, cfg, self.model(cfg))

    def dream_video(self, source: str | Path, output: str | Path, cfg: DreamConfig, video: VideoConfig, *,
                    on_frame: FrameReport | None = None) -> VideoResult:
        return dream_video(source, output, cfg, video, model=self.model(cfg), on_frame=on_frame)

    def render_channels(self, network: DreamConfig, layer: str, chunks: list[list[int]], vis: FeatureVisConfig,
                        batch: int, *, on_step: Callable[[int, object], None] | None = None
                        ) -> Iterator[list[tuple[int, bytes]]]:
        from .gallery import channel_pictures

        model = self.model(network)
        for chunk in chunks:
            yield list(channel_pictures(model, layer, chunk, vis, batch=batch, on_step=on_step))

    def dream_job(self, image: bytes | None, name: str, cfg: DreamConfig, events: JobEvents) -> Dreamed:
        return dream_job(image, name, cfg, self.model(cfg), events)

    def close(self) -> None:
        self._own = threading.local()


@contextmanager
def runner_for(cluster: str | None, *, warm: DreamConfig | None = None, threads: int | None = None,
               per_thread: bool = False) -> Iterator[Runner]:
    """The runner for ``cluster`` (None: this process; else a Ray address, see docs/cluster.md),
    closed at the end of the block. A cluster's dreamers load ``warm``'s network as they start
    and use ``threads`` CPU threads each (None: their node's cores); ``per_thread``: see
    :class:`LocalRunner` (a cluster's dreamers are processes, one dream at a time each)."""
    if cluster is None:
        local = LocalRunner(per_thread=per_thread)
        try:
            yield local
        finally:
            local.close()
        return
    from .cluster.runner import RayRunner

    with RayRunner.connect(cluster, warm=warm, threads=threads) as remote:
        yield remote
