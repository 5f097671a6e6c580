"""The motion commands: zoom, video, batch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from ..config import DreamConfig
from ..errors import ImageError
from ..options import ZOOM_DREAM_DEFAULTS, BatchConfig, VideoConfig, ZoomConfig
from .common import DebugOpt, QuietOpt, app, err, errors, out, progress_bar
from .dream import command_inputs
from .options import dream_options, with_config


@app.command()
@dream_options(ZOOM_DREAM_DEFAULTS)
@with_config("motion", ZoomConfig)
def zoom(
    input: str = typer.Argument(..., help="Photo to start from, or 'noise'."),
    output: Path = typer.Option(..., "--output", "-o", help="Animation: .mp4, .webm, .gif or .webp (animated pictures play on repeat)."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    motion: ZoomConfig,
    cfg: DreamConfig,
    config_file: Optional[Path] = None,
) -> None:
    """An endless zoom: dream, zoom/rotate/pan about the centre, repeat."""
    with errors(debug):
        from ..api import check_config, load_model_for, noise_picture
        from ..config import NOISE_SIZE
        from ..images import load_image
        from ..outputs import check_output_path
        from ..motion.videoio import VIDEO_FORMATS, write_video
        from ..motion.loop import measure_seam
        from ..motion.zoom import FRAME_FIELDS, zoom_frames

        inputs = command_inputs(cfg, (*(() if input == "noise" else (input,)), *([config_file] if config_file else [])))
        check_output_path(output, inputs=inputs, formats=VIDEO_FORMATS, noun="photo")
        start = noise_picture(*(cfg.size or NOISE_SIZE), cfg.seed) if input == "noise" else load_image(input)
        model = load_model_for(cfg)
        check_config(cfg, model)  # names, channels, classes and tile size, before the first frame
        with progress_bar(quiet) as progress:
            task = progress.add_task("zoom", total=motion.frames, step="-", score="-")
            on_frame = lambda done, total: progress.update(task, completed=done, total=total, step=f"{done}/{total}")  # noqa: E731
            shaping = {name: getattr(motion, name) for name in FRAME_FIELDS}
            stream = measure_seam(zoom_frames(start, cfg, model=model, on_frame=on_frame, **shaping))
            write_video(output, stream, motion.fps)
        out.print(f"wrote {output}: {motion.frames} frames at {motion.fps:g} fps, seed {cfg.seed}")
        if motion.loop and stream.result is not None:
            out.print(str(stream.result))


@app.command()
@dream_options(draw=False)  # without --seed, a re-run takes the seed kept with the finished frames
@with_config("motion", VideoConfig)
def video(
    input: Path = typer.Argument(..., help="Video to dream on."),
    output: Path = typer.Option(..., "--output", "-o", help="Output video: .mp4, .webm, .gif or .webp."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    motion: VideoConfig,
    cfg: DreamConfig,
    config_file: Optional[Path] = None,
) -> None:
    """Dream a video frame by frame, coherent over time; keeps the sound; resumes after a stop."""
    with errors(debug):
        from ..outputs import check_output_path
        from ..motion.videoio import VIDEO_FORMATS
        from ..runners import runner_for

        inputs = command_inputs(cfg, (input, *([config_file] if config_file else [])))
        check_output_path(output, inputs=inputs, formats=VIDEO_FORMATS, noun="video")
        began, counts = time.perf_counter(), {"dreamed": 0}
        try:
            with runner_for(motion.cluster, warm=cfg, threads=cfg.threads) as runner:
                runner.check(cfg)  # names, channels, classes and tile size, before the first frame
                with progress_bar(quiet) as progress:
                    task = progress.add_task("video", total=None, step="-", score="-")

                    def on_frame(done: int, total: int, resumed: bool) -> None:
                        counts["dreamed"] += 0 if resumed else 1
                        rate = counts["dreamed"] / max(time.perf_counter() - began, 1e-9)
                        progress.update(task, completed=done, total=total, step=f"frame {done}/{total}",
                                        score=f"{rate:.2f} fps")

                    result = runner.dream_video(input, output, cfg, motion, on_frame=on_frame)
        except KeyboardInterrupt:
            err.print(f"interrupted; {counts['dreamed']} new frame(s) kept in .{output.name}.frames: run the same command again to resume")
            raise typer.Exit(130) from None
        out.print(f"wrote {output}: {result.frames} frames ({result.dreamed} dreamed now) at {result.fps:g} fps, "
                  f"seed {result.seed}")


@app.command()
@dream_options()
@with_config("folders", BatchConfig)
def batch(
    input_dir: Path = typer.Argument(..., help="Folder of images."),
    output_dir: Path = typer.Option(..., "--output", "-o", help="Folder for the dreams (same relative paths)."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    folders: BatchConfig,
    cfg: DreamConfig,
) -> None:
    """Dream every image in a folder; skips finished ones; lists unreadable files at the end."""
    with errors(debug):
        from ..motion.batch import dream_folder
        from ..outputs import check_output_folder
        from ..runners import runner_for

        check_output_folder(output_dir)  # before the network is loaded or a cluster joined
        with runner_for(folders.cluster, warm=cfg, threads=cfg.threads) as runner:
            runner.check(cfg)  # names, channels, classes and tile size, before the first file
            with progress_bar(quiet) as progress:
                task = progress.add_task("batch", total=None, step="-", score="-")
                on_file = lambda i, n, path, status: progress.update(task, completed=i, total=n, step=f"{i}/{n}", score=status[:6])  # noqa: E731
                summary = dream_folder(input_dir, output_dir, cfg, recursive=folders.recursive, on_file=on_file,
                                       runner=runner)  # fmt: skip
        out.print(f"done {len(summary.done)}, skipped {len(summary.skipped)} (already there), failed {len(summary.failed)}")
        if folders.cluster is not None and summary.per_worker:
            out.print("per node: " + ", ".join(f"{node} {n}" for node, n in sorted(summary.per_worker.items())))
        for path, reason in summary.failed:
            out.print(f"  failed: {path}: {reason}")
        if summary.failed:
            raise ImageError(f"{len(summary.failed)} file(s) could not be dreamed; see the list above")
