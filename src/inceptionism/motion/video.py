"""Dreamed videos with temporal coherence, resumable frame by frame.

Temporal coherence: the detail dreamed into the previous frame (dream minus source) is
carried to the current frame along the optical flow between the two source frames
(OpenCV's Farneback flow), blended in with weight ``blend``, and the result is dreamed
again at the finest octave only, with half its steps (``carried_steps``): re-dreaming
the coarse octaves every frame is what makes dreamed videos boil, the coarse structure
has come along the flow, and the detail carried needs only topping up. (When
less than half the frame could be carried, as at a scene cut, every octave is dreamed.)
Where the flow is not trustworthy (the forward and backward flows disagree:
occlusions, fast motion) nothing is carried, so those regions are dreamed afresh
instead of smeared. Without coherence every frame dreams anew and the video flickers.

Resumable: each finished frame is written as a PNG to a work folder beside the output
(``.NAME.frames``) together with a manifest of the job; running the same job again
loads those frames and continues after the last one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from PIL import Image

from ..config import DreamConfig, draw_seed
from ..engine import Callbacks
from ..command_config import VideoConfig
from ..errors import ConfigError
from ..images import Picture, fit_longest_side
from ..outputs import check_output_path, write_atomic
from ..models.loaded import LoadedModel
from .videoio import VIDEO_FORMATS, VideoInfo, probe, read_frames, write_video

__all__ = ["VideoResult", "VideoJob", "FrameDreamer", "coherent_start", "dream_video", "prepare_job", "finish_job", "dropped_if_unstarted", "fit_frame", "load_frame",
           "keep_manifest"]


@dataclass
class VideoResult:
    output: Path
    frames: int  # frames in the output
    dreamed: int  # frames dreamed by this run (the rest were resumed)
    fps: float
    seed: int  # frame t was dreamed with seed + t


def _gray(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


FLOW_SIDE = 360  # the flow is measured with the shorter side at most this, then scaled up


def _flow(a: np.ndarray, b: np.ndarray, side: int = FLOW_SIDE) -> np.ndarray:
    """Dense flow from frame a to frame b: a pixel p of a is at p + flow[p] in b.

    Frames with a shorter side above ``FLOW_SIDE`` are measured shrunk to it and the flow
    scaled back up: Farneback's flow is smooth at its 15 px window anyway, and at 1280x720
    this takes a quarter of the time (two flows a frame, 0.5 s at full size)."""
    import cv2

    height, width = a.shape[:2]
    scale = min(1.0, side / min(height, width))
    if scale == 1.0:
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.calcOpticalFlowFarneback(cv2.resize(a, size, interpolation=cv2.INTER_AREA),
                                         cv2.resize(b, size, interpolation=cv2.INTER_AREA), None, 0.5, 3, 15, 3, 5, 1.2, 0)
    flow = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    flow[..., 0] *= width / size[0]
    flow[..., 1] *= height / size[1]
    return flow


def _sample(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    import cv2

    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


OCCLUSION_MISMATCH = 24.0  # mean |difference| (0..255) above which a moved pixel is judged new


def coherent_start(
    prev_source: np.ndarray, source: np.ndarray, prev_dream: np.ndarray, blend: float, *, flow_side: int = FLOW_SIDE
) -> tuple[np.ndarray, np.ndarray]:
    """The frame to dream on: ``source`` plus the previous frame's detail carried along the flow.

    All frames are (H, W, 3) uint8. Returns (start frame as floats in [0, 1], the weight
    map (H, W) used, 0 where the flow was judged unreliable). ``flow_side``: the flow is
    measured with the shorter side at most this (a live frame measures it smaller, for speed).
    """
    import cv2

    g_prev, g_cur = _gray(prev_source), _gray(source)
    back = _flow(g_cur, g_prev, flow_side)  # where each current pixel was in the previous frame
    fwd = _flow(g_prev, g_cur, flow_side)
    detail = prev_dream.astype(np.float32) - prev_source.astype(np.float32)
    carried = _sample(detail, back)
    # Forward-backward check: following back then forward should return to the start.
    round_trip = back + _sample(fwd, back)
    error = np.linalg.norm(round_trip, axis=2)
    speed = np.linalg.norm(back, axis=2)
    # Photometric check: where the previous frame, moved along the flow, does not look like
    # this one, the pixel is new (uncovered by a moving object, or the flow is wrong there):
    # it takes this frame's content, not smeared detail.
    moved = _sample(prev_source.astype(np.float32), back)
    mismatch = np.abs(moved - source.astype(np.float32)).mean(axis=2)
    reliable = ((error < 0.5 + 0.05 * speed) & (mismatch < OCCLUSION_MISMATCH)).astype(np.float32)
    weight = cv2.GaussianBlur(reliable, (0, 0), 1.5) * blend
    start = source.astype(np.float32) + weight[..., None] * carried
    return np.clip(start / 255.0, 0.0, 1.0), weight


def hold_tint(dream: np.ndarray, source: np.ndarray, tint: np.ndarray) -> np.ndarray:
    """``dream`` (H, W, 3) uint8 shifted so that its mean colour differs from ``source``'s by
    ``tint``, the first dreamed frame's difference: carried detail adds a little of its
    mean every frame, which would otherwise brighten or tint a long video step by step."""
    offset = (dream.astype(np.float32) - source.astype(np.float32)).mean((0, 1))
    return np.clip(dream.astype(np.float32) + (tint - offset), 0, 255).round().astype(np.uint8)


def fit_frame(frame: np.ndarray, max_size: int | None) -> np.ndarray:
    """``frame`` shrunk so its longer side is at most ``max_size`` (as a dream's input is)."""
    height, width = frame.shape[:2]
    size = fit_longest_side(width, height, max_size)
    if size == (width, height):
        return frame
    import cv2

    return np.ascontiguousarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))


def load_frame(path: Path) -> np.ndarray:
    """A saved dreamed frame as (H, W, 3) uint8."""
    from ..images import load_image

    return (load_image(path).rgb * 255 + 0.5).astype(np.uint8)


def _job_key(source: Path, cfg: DreamConfig, video: VideoConfig, **more: object) -> str:
    stat = source.stat()
    job = {"source": [str(source.resolve()), stat.st_size, stat.st_mtime_ns], "config": cfg.to_dict(),
           "video": video.shaping(), "version": 3, **more}  # fmt: skip
    return hashlib.sha256(json.dumps(job, sort_keys=True, default=str).encode()).hexdigest()


def _work_dir(output: Path, key: str, seed: int | None, **plan: object) -> tuple[Path, dict]:
    """The folder of finished frames for this job, and what is kept with them: the job's
    ``seed`` (the one kept there when the job is resumed, else ``seed``, else a drawn one)
    and ``plan`` (values kept from the first run where the new one gives None)."""
    work = output.parent / f".{output.name}.frames"
    manifest = work / "manifest.json"
    kept: dict = {}
    if work.is_dir():
        try:
            kept = json.loads(manifest.read_text())
        except (OSError, ValueError):
            kept = {}
        changed = any(value is not None and kept.get(name) != value for name, value in plan.items())
        if kept.get("key") != key or not isinstance(kept.get("seed"), int) or changed:  # another job's: start over
            shutil.rmtree(work)
            kept = {}
    work.mkdir(exist_ok=True)
    if not kept:
        kept = {"key": key, "seed": seed if seed is not None else draw_seed(), **plan}
        keep_manifest(work, kept)
    return work, kept


@contextmanager
def dropped_if_unstarted(work: Path) -> Iterator[None]:
    """Remove the frames folder ``work`` when the job inside fails before its first finished
    frame: there is nothing to resume, and a hidden empty folder would be left behind."""
    try:
        yield
    except BaseException:
        if not any(work.rglob("*.png")):
            shutil.rmtree(work, ignore_errors=True)
        raise


def keep_manifest(work: Path, kept: dict) -> None:
    """Write what is kept with a job's finished frames (its key, seed and plan)."""
    text = json.dumps(kept)
    write_atomic(work / "manifest.json", lambda fh: fh.write(text.encode()))


class FrameDreamer:
    """Dreams the frames of a clip in order: the one per-frame function of a video, here
    and on a cluster's workers. Frame t is dreamed as ``video.frame_config`` says (seed
    ``cfg.seed + t``); with coherence, each frame after the first starts from its source
    plus the previous dream's detail carried along the flow (:func:`coherent_start`), is
    dreamed at the finest octave only, and keeps the first frame's colour cast
    (:func:`hold_tint`). No frame reads the objective (nothing reports it)."""

    def __init__(self, cfg: DreamConfig, video: VideoConfig, *, model: LoadedModel | None,
                 callbacks: Callbacks | None = None) -> None:
        self.cfg, self.video, self.model, self.callbacks = cfg, video, model, callbacks
        self.prev_source: np.ndarray | None = None
        self.prev_dream: np.ndarray | None = None
        self.tint: np.ndarray | None = None

    def resume(self, source: np.ndarray, dream: np.ndarray) -> None:
        """Take a frame finished before (both (H, W, 3) uint8) as the last one dreamed."""
        if self.tint is None:  # the first frame's colour cast; carried frames keep it, so nothing drifts
            self.tint = (dream.astype(np.float32) - source.astype(np.float32)).mean((0, 1))
        self.prev_source, self.prev_dream = source, dream

    def dream(self, t: int, source: np.ndarray) -> np.ndarray:
        """Frame ``t`` of the clip, ``source`` (H, W, 3) uint8, dreamed: (H, W, 3) uint8."""
        from ..api import render

        begin, carried = source.astype(np.float32) / 255.0, False
        blend = self.video.blend
        if self.video.coherence == "on" and self.prev_source is not None and self.prev_dream is not None:
            begin, weight = coherent_start(self.prev_source, source, self.prev_dream, blend)
            carried = bool(weight.mean() >= 0.5 * blend)  # not a scene cut: the coarse octaves came along the flow
        result = render(Picture(begin), self.video.frame_config(self.cfg, t, carried), model=self.model, score=False,
                        callbacks=self.callbacks)
        dream = np.asarray(result.image.convert("RGB"))
        if carried and self.tint is not None:
            dream = hold_tint(dream, source, self.tint)
        self.resume(source, dream)
        return dream


@dataclass(frozen=True)
class VideoJob:
    """What both ways of dreaming a video share, once checked: the clip's facts, its
    estimated frame count, the folder of finished frames and what is kept with them."""

    source: Path
    output: Path
    info: VideoInfo
    total: int  # frames, estimated from the duration
    work: Path  # the folder of finished frames
    kept: dict  # the job's key, seed and (segmented) plan, kept with the frames


def prepare_job(source: Path, output: Path, cfg: DreamConfig, video: VideoConfig, *, segmented: bool = False) -> VideoJob:
    """Check the job and open its folder of finished frames (a resume finds its frames there);
    ``segmented``: the cluster's plan (segment length and overlap) is kept with it."""
    info = probe(source)
    check_output_path(output, inputs=(source,), formats=VIDEO_FORMATS, noun="video")
    start, end = video.start, video.end
    if start >= info.duration:  # before a folder of frames is made
        raise _no_frames(source, info, video)
    total = max(1, round(((min(end, info.duration) if end else info.duration) - start) * info.fps))
    plan = {"segment_overlap": video.segment_overlap, "segment_frames": video.segment_frames} if segmented else {}
    key = _job_key(source, cfg, video, **({"segments": True} if segmented else {}))
    work, kept = _work_dir(output, key, cfg.seed, **plan)
    return VideoJob(source, output, info, total, work, kept)


def _no_frames(source: Path, info: VideoInfo, video: VideoConfig) -> ConfigError:
    span = f"from {video.start:g} s to the end" if video.end is None else f"between {video.start:g} s and {video.end:g} s"
    return ConfigError(f"no frames {span} of {str(source)!r}, which lasts {info.duration:.2f} s; give a start below "
                       f"{info.duration:.2f}", field="start")


def finish_job(job: VideoJob, video: VideoConfig, frames: Iterator[np.ndarray], count: int) -> None:
    """Write the video of ``count`` finished ``frames`` (with the clip's sound) and, unless
    ``video.keep_frames``, remove the folder of frames."""
    if count == 0:
        raise _no_frames(job.source, job.info, video)
    write_video(job.output, frames, job.info.fps, audio_from=job.source if job.info.has_audio else None,
                audio_start=video.start, audio_end=video.end)
    if not video.keep_frames:
        shutil.rmtree(job.work, ignore_errors=True)


def dream_video(
    source: str | Path,
    output: str | Path,
    cfg: DreamConfig,
    video: VideoConfig | None = None,
    *,
    model: LoadedModel | None = None,
    on_frame: Callable[[int, int, bool], None] | None = None,
    progress: bool = False,
    **options: Any,
) -> VideoResult:
    """Dream every frame of ``source`` (``video.start``..``video.end`` seconds) into ``output``.

    ``cfg`` must have its layers resolved; frame t is dreamed with seed ``seed + t``, where
    ``seed`` is ``cfg.seed``, or (when None) the one kept with the finished frames, or a
    drawn one that is kept with them; so a resumed job gives the same frames as an
    uninterrupted one. ``video`` (:class:`~inceptionism.command_config.VideoConfig`) goes whole to
    each frame's dreamer; ``options`` are its fields, for a call from Python
    (``coherence="off"``). ``on_frame(done, total, resumed)`` is called after each frame.
    The frames folder is removed after the video is written unless ``video.keep_frames``;
    after an interruption it stays for the resume. ``progress`` shows a bar over the frames
    (those kept from an interrupted run count as done).

    Examples:
        >>> dream_video("clip.mp4", "dream.mp4", resolve_config(None, seed=1), end=2.0)  # doctest: +SKIP
    """
    from ..api import resolve_machine_choices
    from ..images import save_image
    from ..notebook import counted_progress

    video = dataclasses.replace(video or VideoConfig(), **options)
    cfg = resolve_machine_choices(cfg, model)  # once, for every frame
    job = prepare_job(Path(source), Path(output), cfg, video)
    cfg = cfg.replace(seed=job.kept["seed"])
    stepper = FrameDreamer(cfg, video, model=model)
    count = dreamed = 0
    with counted_progress("video", "frame", on_frame, shown=progress) as on_frame, dropped_if_unstarted(job.work):
        for t, frame in enumerate(read_frames(job.source, video.start, video.end)):
            frame = fit_frame(frame, cfg.max_size)  # the video is dreamed (and written) at max_size
            path = job.work / f"{t:06d}.png"
            resumed = path.is_file()
            if resumed:
                stepper.resume(frame, load_frame(path))
            else:
                save_image(Image.fromarray(stepper.dream(t, frame)), path, quick=True)  # a working file
                dreamed += 1
            count = t + 1
            if on_frame is not None:
                on_frame(count, max(job.total, count), resumed)
        finish_job(job, video, (load_frame(job.work / f"{t:06d}.png") for t in range(count)), count)
    return VideoResult(job.output, count, dreamed, job.info.fps, cfg.seed)
