"""A video on a cluster: the clip cut into segments, each dreamed coherently by one worker.

Segment k keeps frames ``[k * N, (k + 1) * N)`` and starts ``overlap`` frames early, from
the source, so its carried detail has settled by its first kept frame; over those
warm-up frames it is cross-faded with the previous segment's (see
:class:`Segment`). The driver reads the clip once, hands each
segment's frames to an idle worker through the object store (reading at most one
segment ahead of the workers), and writes every dreamed frame as it streams back, into
``.NAME.frames/seg-KKKK/``: after a crash of the driver or of a worker, the same command
dreams only the frames that are missing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from PIL import Image

from ..api import resolve_machine_choices
from ..config import DreamConfig
from ..images import save_image
from ..errors import ConfigError
from ..motion.video import (VideoJob, VideoResult, dropped_if_unstarted, finish_job, fit_frame, keep_manifest, load_frame,
                            prepare_job)  # fmt: skip
from ..motion.videoio import read_frames
from ..command_config import VideoConfig
from .pool import DreamerPool
from .worker import ship

__all__ = ["dream_video_on", "compose", "Segment", "plan_segments", "segment_at", "segment_frames"]


@dataclass(frozen=True)
class Segment:
    """A run of frames dreamed coherently by one worker: from ``first`` (the warm-up's start)
    to ``end`` (exclusive); its frames are kept from ``keep`` on, and the frames from
    ``first`` to ``keep`` are cross-faded with the previous segment's."""

    index: int
    first: int
    keep: int
    end: int

    def weight(self, t: int) -> float:
        """This segment's share of frame ``t`` of its warm-up (rising smoothly from 0 to 1)."""
        if t >= self.keep:
            return 1.0
        x = (t - self.first + 1) / (self.keep - self.first + 1)
        return x * x * (3 - 2 * x)


def plan_segments(total: int, per: int, overlap: int) -> list[Segment]:
    """Segments of ``per`` kept frames for a clip of ``total``, each after the first starting
    ``overlap`` frames early; ``overlap`` must be less than ``per``."""
    return [segment_at(index, per, overlap, total) for index in range(-(-total // per))]


def segment_at(index: int, per: int, overlap: int, total: int | None = None) -> Segment:
    """Segment ``index`` of :func:`plan_segments` (its end not cut short when ``total`` is None)."""
    if not 0 < overlap < per:
        raise ConfigError(f"segment_frames {per} must be more than segment_overlap {overlap} (at least 1)",
                          field="segment_frames")
    keep = index * per
    return Segment(index, max(0, keep - overlap), keep, keep + per if total is None else min(total, keep + per))


def segment_frames(total: int, workers: int) -> int:
    """The default segment length: the clip shared evenly among the workers, at least 24 frames."""
    return max(24, -(-total // max(1, workers)))


def _frame_path(work: Path, segment: Segment, t: int) -> Path:
    return work / f"seg-{segment.index:04d}" / f"{t:06d}.png"


def _finished(work: Path, segment: Segment) -> int:
    """How many of the segment's frames are finished (the unbroken run from its first)."""
    done = 0
    while segment.first + done < segment.end and _frame_path(work, segment, segment.first + done).is_file():
        done += 1
    return done


def compose(work: Path, segments: list[Segment], count: int) -> Iterator[np.ndarray]:
    """The output's frames: each segment's kept frames, the warm-up frames cross-faded."""
    by_frame = {t: segment for segment in segments for t in range(segment.keep, segment.end)}
    for t in range(count):
        owner = by_frame[t]
        frame = load_frame(_frame_path(work, owner, t))
        later = next((s for s in segments if s.first <= t < s.keep), None)
        if later is not None:
            share = later.weight(t)
            other = load_frame(_frame_path(work, later, t)).astype(np.float32)
            frame = np.clip(frame.astype(np.float32) * (1 - share) + other * share + 0.5, 0, 255).astype(np.uint8)
        yield frame


def dream_video_on(
    pool: DreamerPool,
    source: str | Path,
    output: str | Path,
    cfg: DreamConfig,
    video: VideoConfig | None = None,
    *,
    on_frame: Callable[[int, int, bool], None] | None = None,
    **options: Any,
) -> VideoResult:
    """:func:`~inceptionism.motion.video.dream_video` on the cluster's workers, in segments of
    ``video.segment_frames`` frames (None: :func:`~inceptionism.motion.video.segment_frames`;
    kept with the finished frames, so a resume cuts the clip the same way). ``video`` goes
    whole to every worker. The machine's choices (``precision="auto"``) are made here, once,
    and every segment's worker runs with them."""
    video = dataclasses.replace(video or VideoConfig(), **options)
    if video.segment_frames is not None:
        segment_at(0, video.segment_frames, video.segment_overlap)  # the plan's check, before anything is read
    cfg = resolve_machine_choices(cfg)
    job = prepare_job(Path(source), Path(output), cfg, video, segmented=True)
    with dropped_if_unstarted(job.work):  # a job refused before its first frame leaves no folder
        per = job.kept.get("segment_frames") or segment_frames(job.total, pool.size)
        if job.kept.get("segment_frames") is None:
            keep_manifest(job.work, {**job.kept, "segment_frames": per})
        run = _SegmentedRun(pool, job, cfg.replace(seed=job.kept["seed"]), video, per, on_frame)
        count = run.dream_all()
        finish_job(job, video, compose(job.work, plan_segments(count, per, video.segment_overlap), count), count)
    return VideoResult(job.output, count, run.dreamed, job.info.fps, run.cfg.seed)


class _SegmentedRun:
    """One video's segments on the pool: the clip read once, each segment's frames handed to
    an idle worker (reading at most one segment ahead of the workers), and every dreamed frame
    written as it streams back."""

    def __init__(self, pool: DreamerPool, job: VideoJob, cfg: DreamConfig, video: VideoConfig, per: int,
                 on_frame: Callable[[int, int, bool], None] | None) -> None:
        self.pool, self.job, self.cfg, self.video, self.per, self.on_frame = pool, job, cfg, video, per, on_frame
        self.files = pool.cluster.ray.put(ship(cfg))
        self.lock, self.done, self.dreamed = threading.Lock(), 0, 0
        self.stopping = threading.Event()  # set when the job fails or is interrupted: every segment stops after its frame

    def dream_all(self) -> int:
        """Dream every segment; returns the clip's frame count."""
        slots = threading.Semaphore(self.pool.size + 1)  # segments read ahead of the workers, at most
        futures: list[Future] = []
        threads = ThreadPoolExecutor(max(1, self.pool.size), thread_name_prefix="segment")

        def submit(segment: Segment, frames: list[np.ndarray], estimate: int) -> None:
            failed = [f for f in futures if f.done() and f.exception() is not None]
            if failed:
                raise failed[0].exception()  # type: ignore[misc]
            slots.acquire()
            future = threads.submit(self.run, segment, np.stack(frames), estimate)
            future.add_done_callback(lambda _: slots.release())
            futures.append(future)

        try:
            count = self._read(submit)
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                future.result()
        except BaseException:
            self.stopping.set()
            threads.shutdown(wait=True, cancel_futures=True)  # what is finished is kept for the resume
            raise
        threads.shutdown()
        return count

    def _read(self, submit: Callable[[Segment, list[np.ndarray], int], None]) -> int:
        """Read the clip, handing each segment (its warm-up frames first) to ``submit``."""
        overlap, count = self.video.segment_overlap, 0
        buffer: list[np.ndarray] = []  # the frames of the segment being read, warm-up first
        segment = segment_at(0, self.per, overlap)
        for t, frame in enumerate(read_frames(self.job.source, self.video.start, self.video.end)):
            buffer.append(fit_frame(frame, self.cfg.max_size))
            count = t + 1
            if count == segment.end:
                submit(segment, buffer, self.job.total)
                segment = segment_at(segment.index + 1, self.per, overlap)
                buffer = buffer[len(buffer) - (segment.keep - segment.first):]
        if count > segment.keep:
            submit(Segment(segment.index, segment.first, segment.keep, count), buffer, count)
        return count

    def report(self, resumed: bool, estimate: int) -> None:
        with self.lock:
            self.done += 1
            self.dreamed += 0 if resumed else 1
            if self.on_frame is not None:
                self.on_frame(self.done, max(estimate, self.done), resumed)

    def run(self, segment: Segment, frames: np.ndarray, estimate: int) -> None:
        """One segment: its finished frames counted, the rest dreamed by a worker."""
        (self.job.work / f"seg-{segment.index:04d}").mkdir(exist_ok=True)
        if self.stopping.is_set():
            return
        resumed = _finished(self.job.work, segment)
        for _ in range(max(segment.keep, segment.first + resumed) - segment.keep):
            self.report(True, estimate)  # kept frames finished before
        self.pool.call(lambda actor: self._attempt(actor, segment, frames, estimate),
                       what=f"frames {segment.keep}-{segment.end - 1}")

    def _attempt(self, actor: Any, segment: Segment, frames: np.ndarray, estimate: int) -> None:
        """The segment from its first missing frame (again, after a lost worker)."""
        work = self.job.work
        done = _finished(work, segment)
        if done == len(frames):
            return
        before = [(frames[0], load_frame(_frame_path(work, segment, segment.first)))] if done else []
        if done > 1:
            before.append((frames[done - 1], load_frame(_frame_path(work, segment, segment.first + done - 1))))
        stream = actor.dream_segment.options(num_returns="streaming").remote(
            self.pool.cluster.ray.put(frames[done:]), segment.first + done, self.cfg, self.files, self.video, before)
        for t, ref in enumerate(stream, start=segment.first + done):
            save_image(Image.fromarray(self.pool.get(ref)), _frame_path(work, segment, t), quick=True)
            if t >= segment.keep:
                self.report(False, estimate)
            if self.stopping.is_set():
                self.pool.cancel(stream)  # the worker stops at its next frame
                return
