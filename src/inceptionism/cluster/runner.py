"""The cluster's side of the seam (:class:`inceptionism.runners.Runner`): batch files, video
segments, gallery chunks and studio jobs on a :class:`~inceptionism.cluster.pool.DreamerPool`'s
dreamers, each running the same per-item function as this process would."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

from ..config import DreamConfig
from ..featurevis import FeatureVisConfig
from ..jobs import Dreamed, JobCancelled, JobEvents
from ..motion.batch import BatchItem
from ..motion.video import VideoResult
from ..command_config import VideoConfig
from . import dreamers
from .pool import DreamerPool
from .video import dream_video_on
from .worker import ship

__all__ = ["RayRunner"]


class RayRunner:
    """Work on the dreamers of ``pool``; outputs come back to this process, which writes them."""

    def __init__(self, pool: DreamerPool) -> None:
        self.pool = pool
        self.where = pool.cluster.address

    @classmethod
    @contextmanager
    def connect(cls, address: str, *, warm: DreamConfig | None = None, threads: int | None = None) -> Iterator["RayRunner"]:
        """A runner on the cluster at ``address``, its dreamers stopped and the cluster left (a
        ``local`` runtime stopped) at the end of the block."""
        with dreamers(address, threads=threads, warm=warm) as pool:
            yield cls(pool)

    def check(self, cfg: DreamConfig) -> None:
        """Made by a dreamer that has the network loaded, so this process need not build one:
        it would compete with the dreamers starting beside it. Raises the check's own error."""
        files = ship(cfg)
        self.pool.call(lambda actor: self.pool.get(actor.check.remote(cfg, files)), what="checking the configuration")

    def dream_files(self, items: list[BatchItem], cfg: DreamConfig) -> Iterator[tuple[BatchItem, Any, str]]:
        """Each file's bytes go to an idle dreamer through the object store; the output's bytes come back."""
        files = self.pool.cluster.ray.put(ship(cfg))  # once, not once per file

        def work(actor: Any, item: BatchItem) -> bytes:
            return self.pool.get(actor.dream_file.remote(item.read(), item.name, item.out.suffix, cfg, files))

        yield from self.pool.map(items, work, name=lambda item: f"dreaming {item.name}")

    def dream_video(self, source: str | Path, output: str | Path, cfg: DreamConfig, video: VideoConfig, *,
                    on_frame: Callable[[int, int, bool], None] | None = None) -> VideoResult:
        """The clip in segments, one dreamer each (:func:`~inceptionism.cluster.video.dream_video_on`)."""
        return dream_video_on(self.pool, source, output, cfg, video, on_frame=on_frame)

    def render_channels(self, network: DreamConfig, layer: str, chunks: list[list[int]], vis: FeatureVisConfig,
                        batch: int, *, on_step: Callable[[int, object], None] | None = None
                        ) -> Iterator[list[tuple[int, bytes]]]:
        """Each chunk on an idle dreamer; no step is reported from there (``on_step`` is not called)."""
        files = self.pool.cluster.ray.put(ship(network))

        def work(actor: Any, chunk: list[int]) -> list[tuple[int, bytes]]:
            return self.pool.get(actor.render_channels.remote(network, files, layer, chunk, vis, batch))

        for _chunk, outcome, _node in self.pool.map(chunks, work, name=lambda chunk: f"channels {chunk[0]}-{chunk[-1]}"):
            if isinstance(outcome, BaseException):
                raise outcome
            yield outcome

    def dream_job(self, image: bytes | None, name: str, cfg: DreamConfig, events: JobEvents) -> Dreamed:
        """The job on a dreamer, its progress and previews streamed back; a dreamer lost
        mid-dream: the job starts again on another (see :meth:`DreamerPool.call`)."""
        shipped = ship(cfg)

        def attempt(actor: Any) -> Dreamed:
            stream = actor.dream_job.options(num_returns="streaming").remote(image, name, cfg, shipped,
                                                                              events.preview_side, events.recorded)
            for ref in stream:
                kind, value = self.pool.get(ref)
                if kind == "step" and events.on_step is not None:
                    try:
                        events.on_step(SimpleNamespace(**value))
                    except JobCancelled:
                        self.pool.cancel(stream)  # the dream stops at its next step
                        raise
                elif kind == "preview" and events.on_preview is not None:
                    events.on_preview(*value)
                elif kind == "cancelled":
                    raise JobCancelled
                elif kind == "done":
                    return value
            raise JobCancelled  # the stream ended without a result: the dreamer stopped

        return self.pool.call(attempt, what=f"dream {name}")[0]
