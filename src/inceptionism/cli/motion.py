"""The motion commands: zoom, video, batch, live."""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer

from ..config import DreamConfig
from ..errors import ConfigError, ImageError
from ..command_config import LIVE_DREAM_DEFAULTS, ZOOM_DREAM_DEFAULTS, BatchConfig, LiveConfig, VideoConfig, ZoomConfig
from .common import DebugOpt, QuietOpt, app, err, errors, out, progress_bar
from .dream import command_inputs
from .flags import dream_options, with_config


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
            write_video(output, stream, motion.fps, recipe={"config": cfg.to_dict(), "zoom": shaping})
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


@app.command()
@dream_options(LIVE_DREAM_DEFAULTS)
@with_config("live", LiveConfig)
def live(
    source: str = typer.Argument("0", help="A camera's index (0: the first), a video file or a stream URL."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Record what is shown, in real time, with its "
                                          "recipe: .mp4 or .webm."),
    quiet: bool = QuietOpt,
    debug: bool = DebugOpt,
    *,
    live: LiveConfig,
    cfg: DreamConfig,
    config_file: Optional[Path] = None,
) -> None:
    """Dream a camera, a stream or a clip live: each frame from the last dream carried along the
    flow. Shown in a window where there is a display; -o records it; Ctrl-C ends it (a recording
    is finished, not lost). In a browser: the studio's Live page (inceptionism serve)."""
    with errors(debug):
        from ..api import check_config, load_model_for
        from ..motion.live import is_stream, live_frames, source_rate
        from ..motion.videoio import write_video
        from ..outputs import check_output_path
        from ..declare import declared

        where: int | str = int(source) if source.isdigit() else source
        rate = source_rate(where)  # the recording's, the source's own; a missing file or camera is one line now
        if output is not None:  # a recording is streamed to ffmpeg: an animated picture would pile up in memory
            check_output_path(output, inputs=() if is_stream(where) else (source,), formats=(".mp4", ".webm"),
                              noun="source")
        window = _window()
        if window is None and output is None:
            raise ConfigError("nowhere to show the dream: no window here (no display, or an OpenCV without windows); "
                              "record it with -o clip.mp4, or dream in a browser: inceptionism serve", field="output")
        model = load_model_for(cfg)
        check_config(cfg, model)
        shaping = {p.name: getattr(live, p.name) for p in declared(LiveConfig)}
        counts = {"dreamed": 0, "written": 0}
        clock = {"began": None}

        def shown(stop):  # each dream held until the next: the recording keeps the time it took
            held = None
            for _, dream in live_frames(where, cfg, model=model, stop=stop, **shaping):
                now = time.monotonic()
                if clock["began"] is None:
                    clock["began"] = now
                    err.print(f"live from {source}: dreaming at {dream.shape[1]}x{dream.shape[0]}; Ctrl-C ends it",
                              soft_wrap=True)
                elapsed = now - clock["began"]
                if held is not None:
                    for _ in range(round(elapsed * rate) - counts["written"]):  # none while dreams come faster
                        counts["written"] += 1
                        yield held
                held = dream
                counts["dreamed"] += 1
                if window is not None:
                    window.imshow("inceptionism live", window.cvtColor(dream, window.COLOR_RGB2BGR))
                    window.waitKey(1)
                if stop.is_set() or (live.seconds is not None and elapsed >= live.seconds):
                    break
            if held is not None:
                counts["written"] += 1
                yield held

        with _stop_on_signals() as stop:
            if output is not None:
                write_video(output, shown(stop), rate, recipe={"config": cfg.to_dict(), "live": shaping})
            else:
                for _ in shown(stop):
                    pass
        took = time.monotonic() - (clock["began"] or time.monotonic())
        what = f"wrote {output}: {counts['written']} frames at {rate:g} fps, " if output is not None else ""
        out.print(f"{what}{counts['dreamed']} dreamed in {took:.1f} s ({counts['dreamed'] / max(took, 1e-9):.1f} "
                  f"dreamed frames per second), seed {cfg.seed}")


def _window():
    """OpenCV's highgui where there is a display and the build has windows, else None."""
    import os

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return None
    import cv2

    try:
        cv2.namedWindow("inceptionism live")
    except cv2.error:
        return None
    return cv2


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """While it lasts, Ctrl-C and SIGTERM set the event it yields instead of raising anywhere,
    so a recording is finished; the handlers before it come back after."""
    stop = threading.Event()
    before = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
