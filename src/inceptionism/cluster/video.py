"""A video on a cluster: the clip cut into segments, each dreamed coherently by one worker.

Segment k keeps frames ``[k * N, (k + 1) * N)`` and starts ``overlap`` frames early, from
the source, so its carried detail has settled by its first kept frame; over those
warm-up frames it is cross-faded with the previous segment's (see
:class:`~inceptionism.motion.video.Segment`). The driver reads the clip once, hands each
segment's frames to an idle worker through the object store (reading at most one
segment ahead of the workers), and writes every dreamed frame as it streams back, into
``.NAME.frames/seg-KKKK/``: after a crash of the driver or of a worker, the same command
dreams only the frames that are missing.
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from PIL import Image

from ..api import resolve_machine_choices
from ..config import DreamConfig
from ..images import save_image
from ..motion.video import (VideoResult, Segment, _finish, _fit, _load_frame, _prepare, dropped_if_unstarted,
                            keep_manifest, plan_segments, segment_at, segment_frames)  # fmt: skip
from ..motion.videoio import read_frames
from ..options import VideoConfig
from .pool import DreamerPool
from .worker import ship

__all__ = ["dream_video_on", "compose"]


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
        frame = _load_frame(_frame_path(work, owner, t))
        later = next((s for s in segments if s.first <= t < s.keep), None)
        if later is not None:
            share = later.weight(t)
            other = _load_frame(_frame_path(work, later, t)).astype(np.float32)
            frame = np.clip(frame.astype(np.float32) * (1 - share) + other * share + 0.5, 0, 255).astype(np.uint8)
        yield frame


def dream_video_on(
    pool: DreamerPool,
    source: str | Path,
    output: str | Path,
    cfg: DreamConfig,
    *,
    blend: float = VideoConfig.blend,
    coherence: bool = VideoConfig.coherence == "on",
    carried_steps: int | None = VideoConfig.carried_steps,
    start: float = VideoConfig.start,
    end: float | None = VideoConfig.end,
    keep_frames: bool = VideoConfig.keep_frames,
    per: int | None = VideoConfig.segment_frames,
    overlap: int = VideoConfig.segment_overlap,
    on_frame: Callable[[int, int, bool], None] | None = None,
) -> VideoResult:
    """:func:`~inceptionism.motion.video.dream_video` on the cluster's workers, in segments of
    ``per`` frames (None: :func:`~inceptionism.motion.video.segment_frames`; kept with the
    finished frames, so a resume cuts the clip the same way). The machine's choices
    (``precision="auto"``) are made here, once, and every segment's worker runs with them."""
    source, output = Path(source), Path(output)
    cfg = resolve_machine_choices(cfg)
    if per is not None:
        segment_at(0, per, overlap)  # the plan's check, before anything is read
    info, total, work, kept = _prepare(source, output, cfg, blend, coherence, carried_steps, start, end,
                                       segment_overlap=overlap, segment_frames=per)  # fmt: skip
    with dropped_if_unstarted(work):  # a job refused before its first frame leaves no folder
        per = kept.get("segment_frames") or segment_frames(total, pool.size)
        if kept.get("segment_frames") is None:
            keep_manifest(work, {**kept, "segment_frames": per})
        cfg = cfg.replace(seed=kept["seed"])
        files = pool.cluster.ray.put(ship(cfg))
        lock, counts = threading.Lock(), {"done": 0, "dreamed": 0}
        stopping = threading.Event()  # set when the job fails or is interrupted: every segment stops after its frame

        def report(resumed: bool, estimate: int) -> None:
            with lock:
                counts["done"] += 1
                counts["dreamed"] += 0 if resumed else 1
                if on_frame is not None:
                    on_frame(counts["done"], max(estimate, counts["done"]), resumed)

        def run(segment: Segment, frames: np.ndarray, estimate: int) -> None:
            (work / f"seg-{segment.index:04d}").mkdir(exist_ok=True)

            def attempt(actor: Any) -> None:  # again from the first missing frame after a lost worker
                done = _finished(work, segment)
                if done == len(frames):
                    return
                before = [(frames[0], _load_frame(_frame_path(work, segment, segment.first)))] if done else []
                if done > 1:
                    before.append((frames[done - 1], _load_frame(_frame_path(work, segment, segment.first + done - 1))))
                stream = actor.dream_segment.options(num_returns="streaming").remote(
                    pool.cluster.ray.put(frames[done:]), segment.first + done, cfg, files, blend, coherence,
                    carried_steps, before)
                for t, ref in enumerate(stream, start=segment.first + done):
                    save_image(Image.fromarray(pool.get(ref)), _frame_path(work, segment, t), quick=True)
                    if t >= segment.keep:
                        report(False, estimate)
                    if stopping.is_set():
                        pool.cancel(stream)  # the worker stops at its next frame
                        return

            if stopping.is_set():
                return
            resumed = _finished(work, segment)
            for t in range(max(segment.keep, segment.first + resumed) - segment.keep):
                report(True, estimate)  # kept frames finished before
            pool.call(attempt, what=f"frames {segment.keep}-{segment.end - 1}")

        count = 0
        slots = threading.Semaphore(pool.size + 1)  # segments read ahead of the workers, at most
        futures: list[Future] = []
        threads = ThreadPoolExecutor(max(1, pool.size), thread_name_prefix="segment")

        def submit(segment: Segment, frames: list[np.ndarray], estimate: int) -> None:
            failed = [f for f in futures if f.done() and f.exception() is not None]
            if failed:
                raise failed[0].exception()  # type: ignore[misc]
            slots.acquire()
            future = threads.submit(run, segment, np.stack(frames), estimate)
            future.add_done_callback(lambda _: slots.release())
            futures.append(future)

        buffer: list[np.ndarray] = []  # the frames of the segment being read, warm-up first
        segment = segment_at(0, per, overlap)
        try:
            for t, frame in enumerate(read_frames(source, start, end)):
                buffer.append(_fit(frame, cfg.max_size))
                count = t + 1
                if count == segment.end:
                    submit(segment, buffer, total)
                    segment = segment_at(segment.index + 1, per, overlap)
                    buffer = buffer[len(buffer) - (segment.keep - segment.first):]
            if count > segment.keep:
                submit(Segment(segment.index, segment.first, segment.keep, count), buffer, count)
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                future.result()
        except BaseException:
            stopping.set()
            threads.shutdown(wait=True, cancel_futures=True)  # what is finished is kept for the resume
            raise
        threads.shutdown()
        segments = plan_segments(count, per, overlap)
        _finish(source, output, compose(work, segments, count), count, info, start, end, work, keep_frames)
        return VideoResult(output, count, counts["dreamed"], info.fps, cfg.seed)
