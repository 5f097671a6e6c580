"""Reading and writing video through imageio-ffmpeg (its ffmpeg binary comes from PyPI).

Frames are encoded by that ffmpeg fed through a pipe here, not through imageio-ffmpeg's
``write_frames``: that one never looks at how ffmpeg ended, so a video cut short (a full
disk: "Error writing trailer") was renamed into place and reported as written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image

from ..errors import ImageError, OutputError, cause
from ..command_config import MAX_FPS, MIN_FPS
from ..outputs import install, temporary_beside

__all__ = ["VideoInfo", "probe", "read_frames", "read_recipe", "write_video", "VIDEO_FORMATS"]

VIDEO_FORMATS = (".mp4", ".webm", ".gif", ".webp")  # .gif and .webp: animated pictures, no sound


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    width: int
    height: int
    duration: float  # seconds
    has_audio: bool


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _file(path: str | Path) -> str:
    """``path`` as ffmpeg must read it: with the ``file:`` protocol, or ``take:1.mp4`` would be
    read as protocol "take"."""
    return "file:" + str(Path(path).absolute())


def probe(path: str | Path) -> VideoInfo:
    """Frame rate, size, duration and whether there is sound.

    Raises:
        ImageError: missing, not a video, or no frames.
    """
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"video {str(path)!r} does not exist or is not a file")
    try:
        reader = imageio_ffmpeg.read_frames(_file(path))
        meta = next(reader)
        reader.close()
    except (OSError, RuntimeError, StopIteration) as exc:
        raise ImageError(f"{str(path)!r} is not a video ffmpeg can read: {cause(exc)}") from None
    width, height = meta["size"]
    fps = float(meta.get("fps") or 0)
    duration = float(meta.get("duration") or 0)
    if fps <= 0 or width <= 0 or duration <= 0:
        raise ImageError(f"{str(path)!r} has no video frames")
    if not MIN_FPS <= fps <= MAX_FPS:  # its dream would be written at its rate: refused before any work
        raise ImageError(f"{str(path)!r} plays at {fps:g} frames per second; videos from {MIN_FPS:g} to {MAX_FPS:g} "
                         "are dreamed")
    return VideoInfo(fps, width, height, duration, bool(meta.get("audio_codec")))


def read_frames(path: str | Path, start: float = 0.0, end: float | None = None) -> Iterator[np.ndarray]:
    """RGB frames (H, W, 3) uint8 between ``start`` and ``end`` seconds."""
    import imageio_ffmpeg

    input_params = ["-ss", f"{start:.6f}"] if start > 0 else []
    output_params = ["-t", f"{end - start:.6f}"] if end is not None else []
    reader = imageio_ffmpeg.read_frames(_file(path), input_params=input_params, output_params=output_params)
    meta = next(reader)
    width, height = meta["size"]
    try:
        for buffer in reader:
            yield np.frombuffer(buffer, np.uint8).reshape(height, width, 3)
    finally:
        reader.close()


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    audio_from: str | Path | None = None,
    audio_start: float = 0.0,
    audio_end: float | None = None,
    recipe: dict | None = None,
) -> Path:
    """Encode RGB frames to ``path`` (.mp4 H.264, .webm VP9, or an animated .gif or .webp), atomically.

    ``audio_from``: copy the sound of this file (``audio_start``..``audio_end`` seconds)
    into the result, cut to the video's length. ``recipe``: the parameters, kept in the file
    (an MP4's or WebM's comment tag, a GIF's or WebP's comment; :func:`read_recipe` reads it).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_FORMATS:
        raise OutputError(f"output {str(path)!r} has an unknown extension {suffix!r}; use one of {', '.join(VIDEO_FORMATS)}")
    if not MIN_FPS <= fps <= MAX_FPS:  # before the first frame (a zoom dreams its frames as they are written)
        raise OutputError(f"frame rate {fps:g} for {str(path)!r} is outside {MIN_FPS:g} to {MAX_FPS:g}")
    tmp = temporary_beside(path, suffix)  # ffmpeg chooses the container by the suffix
    try:
        comment = json.dumps(recipe, separators=(",", ":"), default=str) if recipe is not None else None
        if suffix in (".gif", ".webp"):
            _write_animated(tmp, frames, fps, suffix[1:].upper(), comment)
        else:
            _write_ffmpeg(tmp, frames, fps, suffix, comment)
            if audio_from is not None:
                _mux_audio(tmp, audio_from, audio_start, audio_end, suffix)
        try:
            install(tmp, path)
        except OSError as exc:
            raise _CannotWrite(exc.strerror or str(exc)) from None
    except _CannotWrite as exc:  # a full disk, say: one line, and nothing half-written left
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {str(path)!r}: {exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class _CannotWrite(Exception):
    """Writing the video failed (the file system or ffmpeg said no); the text says why."""


def _write_animated(tmp: str, frames: Iterable[np.ndarray], fps: float, kind: str, comment: str | None = None) -> None:
    """An animated GIF or WebP, played on repeat (a WebP keeps every colour: lossy at quality 90)."""
    images = [Image.fromarray(f) for f in frames]
    if not images:
        raise OutputError("no frames to write")
    more: dict = {"quality": 90, "method": 4} if kind == "WEBP" else {}
    if comment is not None:
        more["comment" if kind == "GIF" else "exif"] = comment.encode() if kind == "GIF" else _exif_comment(comment)
    try:
        images[0].save(tmp, format=kind, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0,
                       **more)
    except OSError as exc:
        raise _CannotWrite(exc.strerror or str(exc)) from None


def _exif_comment(text: str) -> bytes:
    """EXIF holding ``text`` as its user comment: where a WebP keeps words."""
    exif = Image.Exif()
    exif[0x9286] = text  # UserComment
    return exif.tobytes()


def read_recipe(path: str | Path) -> dict | None:
    """The parameters :func:`write_video` kept in ``path``, or None."""
    path = Path(path)
    text = None
    if path.suffix.lower() in (".gif", ".webp"):
        with Image.open(path) as shown:
            if "comment" in shown.info:
                text = shown.info["comment"].decode(errors="replace")
            elif 0x9286 in shown.getexif():
                text = str(shown.getexif()[0x9286])
    else:
        done = subprocess.run([_ffmpeg(), "-hide_banner", "-loglevel", "error", "-i", _file(path), "-f", "ffmetadata", "-"],
                              capture_output=True, text=True)
        for line in done.stdout.splitlines():
            if line.lower().startswith("comment="):  # WebM keeps it as COMMENT
                text = re.sub(r"\\(.)", r"\1", line[len("comment="):])  # ffmetadata escapes = ; # \ with a backslash
    try:
        found = json.loads(text) if text else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _write_ffmpeg(tmp: str, frames: Iterable[np.ndarray], fps: float, suffix: str, comment: str | None = None) -> None:
    proc, shape = None, None
    with tempfile.TemporaryFile() as log:  # ffmpeg's messages, for the error; a file never fills up as a pipe can
        try:
            for frame in frames:
                if proc is None:
                    shape = frame.shape
                    height, width = shape[:2]
                    codec = "libvpx-vp9" if suffix == ".webm" else "libx264"
                    # Even sides for 4:2:0 chroma: pad by one pixel where needed, never rescale.
                    pad = ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"] if width % 2 or height % 2 else []
                    quality = ["-crf", "18"] if codec == "libx264" else ["-crf", "30", "-b:v", "0"]
                    rate = str(Fraction(fps).limit_denominator(1001))  # a probed 29.97002997 is 30000/1001
                    cmd = [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                           "-s", f"{width}x{height}", "-r", rate, "-i", "-", "-an", *pad, "-c:v", codec,
                           "-pix_fmt", "yuv420p", *quality,
                           *(["-metadata", f"comment={comment}"] if comment is not None else []), _file(tmp)]  # fmt: skip
                    try:
                        # Its own session: a terminal's Ctrl-C reaches this process alone, which
                        # then finishes the file; ffmpeg would have stopped half-way (exit 255).
                        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log,
                                                start_new_session=True)
                    except OSError as exc:
                        raise _CannotWrite(f"ffmpeg could not start: {exc.strerror or exc}") from None
                if frame.shape != shape:
                    raise OutputError(f"video frames must all be {shape[1]}x{shape[0]}; one is {frame.shape[1]}x{frame.shape[0]}")
                try:
                    proc.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).data)
                except BrokenPipeError:
                    break  # ffmpeg stopped reading: its exit status and messages below say why
        except BaseException:
            if proc is not None:
                proc.kill()
                proc.wait()
            raise
        if proc is None:
            raise OutputError("no frames to write")
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
        if proc.wait() != 0:
            log.seek(0)
            lines = [line.strip() for line in log.read().decode(errors="replace").splitlines() if line.strip()]
            reason = re.sub(r"^\[[^\]]*\]\s*", "", lines[-1]) if lines else f"exit status {proc.returncode}"
            raise _CannotWrite(f"ffmpeg: {reason}")


def _mux_audio(tmp: str, source: str | Path, start: float, end: float | None, suffix: str) -> None:
    muxed = tmp + ".mux" + suffix
    cut = ["-ss", f"{start:.6f}"] + (["-to", f"{end:.6f}"] if end is not None else [])
    codec = "libopus" if suffix == ".webm" else "aac"
    cmd = [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-i", _file(tmp), *cut, "-i", _file(source),
           "-map", "0:v", "-map", "1:a?", "-c:v", "copy", "-c:a", codec, "-shortest", _file(muxed)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        Path(muxed).unlink(missing_ok=True)
        raise OutputError(f"could not copy the sound into the video: {done.stderr.strip()[:300]}")
    os.replace(muxed, tmp)
