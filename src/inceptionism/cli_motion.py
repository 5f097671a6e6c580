"""The motion commands of the ``inceptionism`` CLI: zoom, video, batch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from .cli import DebugOpt, QuietOpt, _errors, _progress, app, dream_options, err, out
from .config import DreamConfig
from .errors import ConfigError, ImageError

# Each zoom frame builds on the last, so a light touch per frame is enough.
ZOOM_DEFAULTS = {"preset": "subtle", "octaves": 2, "steps": 5}


def _parse_pan(text: str) -> tuple[float, float]:
    try:
        dx, dy = (float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"pan {text!r} is not of the form DX,DY in pixels, e.g. 2,0") from None
    return dx, dy


@app.command()
@dream_options
def zoom(
    input: str = typer.Argument(..., help="Photo to start from, or 'noise'."),
    output: Path = typer.Option(..., "--output", "-o", help="Animation: .mp4, .webm or .gif."),
    frames: int = typer.Option(48, help="Frames in the animation."),
    zoom_factor: float = typer.Option(1.05, "--zoom", help="Scale per frame (> 1 zooms in)."),
    rotate: float = typer.Option(0.0, help="Degrees per frame."),
    pan: str = typer.Option("0,0", help="DX,DY pixels per frame."),
    fps: float = typer.Option(12.0, help="Frames per second."),
    interpolate: int = typer.Option(0, help="In-between frames per dreamed frame (smooth, cheap)."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    cfg: DreamConfig,
) -> None:
    """An endless zoom: dream, zoom/rotate/pan about the centre, repeat."""
    with _errors(debug):
        from .api import load_model_for, noise_picture
        from .images import check_output_path, load_image
        from .motion.videoio import VIDEO_FORMATS, write_video
        from .motion.zoom import zoom_frames

        check_output_path(output, inputs=() if input == "noise" else (input,), formats=VIDEO_FORMATS, noun="photo")
        if frames < 1 or fps <= 0 or zoom_factor <= 0 or interpolate < 0:
            raise ConfigError(f"frames ({frames}), fps ({fps}), zoom ({zoom_factor}) must be positive and interpolate ({interpolate}) >= 0")
        start = noise_picture(*(cfg.size or (512, 512)), cfg.seed or 0) if input == "noise" else load_image(input)
        model = load_model_for(cfg)
        with _progress(quiet) as progress:
            task = progress.add_task("zoom", total=frames, step="-", score="-")
            on_frame = lambda done, total: progress.update(task, completed=done, step=f"frame {done}/{total}")  # noqa: E731
            stream = zoom_frames(start, cfg, frames=frames, zoom=zoom_factor, rotate=rotate, pan=_parse_pan(pan),
                                 interpolate=interpolate, model=model, on_frame=on_frame)  # fmt: skip
            write_video(output, stream, fps)
        out.print(f"wrote {output}: {frames} frames at {fps:g} fps, seed {cfg.seed}")


zoom.dream_defaults = ZOOM_DEFAULTS  # type: ignore[attr-defined]


@app.command()
@dream_options
def video(
    input: Path = typer.Argument(..., help="Video to dream on."),
    output: Path = typer.Option(..., "--output", "-o", help="Output video: .mp4, .webm or .gif."),
    blend: float = typer.Option(0.7, help="How much of the previous frame's dream to carry (0..1)."),
    coherence: str = typer.Option("on", help="on: carry the dream along the optical flow; off: every frame anew."),
    start: float = typer.Option(0.0, help="Start time in seconds."),
    end: Optional[float] = typer.Option(None, help="End time in seconds."),
    keep_frames: bool = typer.Option(False, help="Keep the folder of dreamed frames after writing."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    cfg: DreamConfig,
) -> None:
    """Dream a video frame by frame, coherent over time; keeps the sound; resumes after a stop."""
    with _errors(debug):
        from .api import load_model_for
        from .motion.video import dream_video

        if coherence not in ("on", "off"):
            raise ConfigError(f"coherence {coherence!r} is not one of on, off")
        model = load_model_for(cfg)
        began, counts = time.perf_counter(), {"dreamed": 0}
        try:
            with _progress(quiet) as progress:
                task = progress.add_task("video", total=None, step="-", score="-")

                def on_frame(done: int, total: int, resumed: bool) -> None:
                    counts["dreamed"] += 0 if resumed else 1
                    rate = counts["dreamed"] / max(time.perf_counter() - began, 1e-9)
                    progress.update(task, completed=done, total=total, step=f"frame {done}/{total}", score=f"{rate:.2f} fps")

                result = dream_video(input, output, cfg, blend=blend, coherence=coherence == "on", start=start,
                                     end=end, keep_frames=keep_frames, model=model, on_frame=on_frame)  # fmt: skip
        except KeyboardInterrupt:
            err.print(f"interrupted; {counts['dreamed']} new frame(s) kept in .{output.name}.frames: run the same command again to resume")
            raise typer.Exit(130) from None
        out.print(f"wrote {output}: {result.frames} frames ({result.dreamed} dreamed now) at {result.fps:g} fps")


@app.command()
@dream_options
def batch(
    input_dir: Path = typer.Argument(..., help="Folder of images."),
    output_dir: Path = typer.Option(..., "--output", "-o", help="Folder for the dreams (same relative paths)."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Include subfolders."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    cfg: DreamConfig,
) -> None:
    """Dream every image in a folder; skips finished ones; lists unreadable files at the end."""
    with _errors(debug):
        from .api import load_model_for
        from .motion.batch import dream_folder

        model = load_model_for(cfg)
        with _progress(quiet) as progress:
            task = progress.add_task("batch", total=None, step="-", score="-")
            on_file = lambda i, n, path, status: progress.update(task, completed=i, total=n, step=f"{i}/{n}", score=status[:6])  # noqa: E731
            summary = dream_folder(input_dir, output_dir, cfg, recursive=recursive, model=model, on_file=on_file)
        out.print(f"done {len(summary.done)}, skipped {len(summary.skipped)} (already there), failed {len(summary.failed)}")
        for path, reason in summary.failed:
            out.print(f"  failed: {path}: {reason}")
        if summary.failed:
            raise ImageError(f"{len(summary.failed)} file(s) could not be dreamed; see the list above")
