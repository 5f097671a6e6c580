"""Motion: zoom animations, coherent resumable videos with sound, batch folders."""

from __future__ import annotations

import subprocess
import wave

import numpy as np
import pytest
from PIL import Image

from inceptionism.api import resolve_config
from inceptionism.errors import ConfigError, ImageError, OutputError
from inceptionism.images import picture_from_pil
from inceptionism.motion import dream_folder, dream_video, transform_frame, zoom_frames
from inceptionism.motion.video import coherent_start
from inceptionism.motion.videoio import probe, read_frames, write_video

from .support import EXAMPLES, FAST_FLAGS, invoke, one_line

FAST = dict(preset="classic", octaves=2, steps=4, seed=3)


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="module")
def panning_clip(tmp_path_factory):
    """8 frames, 128x80, 8 fps: the coffee photo sliding left by 3 px a frame (camera pan)."""
    big = np.asarray(Image.open(EXAMPLES / "coffee.jpg").convert("RGB").resize((180, 120)))
    frames = [np.ascontiguousarray(big[20:100, 3 * t : 3 * t + 128]) for t in range(8)]
    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    write_video(path, iter(frames), 8.0)
    return path


@pytest.fixture(scope="module")
def clip_with_sound(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "sound.mp4"
    subprocess.run([_ffmpeg(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=8",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", "1.5", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)], check=True, timeout=300)  # fmt: skip
    return path


def _audio_seconds(path, tmp_path) -> float:
    wav = tmp_path / "audio.wav"
    subprocess.run([_ffmpeg(), "-loglevel", "error", "-y", "-i", str(path), "-vn", "-ac", "1", str(wav)], check=True,
                   timeout=300)
    with wave.open(str(wav)) as w:
        return w.getnframes() / w.getframerate()


def _dreamed_frames(folder) -> list[np.ndarray]:
    return [np.asarray(Image.open(p), np.float32) for p in sorted(folder.glob("*.png"))]


def test_coherence_reduces_flicker_by_at_least_30_percent(model, panning_clip, tmp_path):
    def mean_motion_compensated_difference(coherence: bool) -> float:
        out = tmp_path / f"c-{coherence}.mp4"
        dream_video(panning_clip, out, resolve_config(None, **FAST), coherence="on" if coherence else "off",
                    keep_frames=True, model=model)
        frames = _dreamed_frames(tmp_path / f".{out.name}.frames")
        # Content moves 3 px left a frame: frame t at x matches frame t-1 at x + 3.
        return float(np.mean([np.abs(b[:, :-3] - a[:, 3:]).mean() for a, b in zip(frames, frames[1:])]))

    on, off = mean_motion_compensated_difference(True), mean_motion_compensated_difference(False)
    print(f"motion-compensated frame difference: coherence on {on:.3f}, off {off:.3f} ({1 - on / off:.0%} lower)")
    assert on <= 0.7 * off, (on, off)


def test_sound_survives_with_its_duration(model, clip_with_sound, tmp_path):
    out = tmp_path / "dreamed.mp4"
    result = dream_video(clip_with_sound, out, resolve_config(None, **FAST), model=model)
    assert result.frames == 12 and probe(out).has_audio
    assert abs(_audio_seconds(out, tmp_path) - _audio_seconds(clip_with_sound, tmp_path)) <= 0.1
    assert not (tmp_path / ".dreamed.mp4.frames").exists()  # work folder removed after success


def test_interrupted_job_resumes_to_the_same_output(model, panning_clip, tmp_path):
    cfg = resolve_config(None, **FAST)
    whole = dream_video(panning_clip, tmp_path / "whole.mp4", cfg, model=model)

    def stop_after_three(done, total, resumed):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dream_video(panning_clip, tmp_path / "resumed.mp4", cfg, model=model, on_frame=stop_after_three)
    assert len(list((tmp_path / ".resumed.mp4.frames").glob("*.png"))) == 3
    assert not (tmp_path / "resumed.mp4").exists()
    resumed_flags = []
    again = dream_video(panning_clip, tmp_path / "resumed.mp4", cfg, model=model,
                        on_frame=lambda d, t, r: resumed_flags.append(r))
    assert again.dreamed == whole.frames - 3 and resumed_flags[:3] == [True] * 3 and not any(resumed_flags[3:])
    a = list(read_frames(tmp_path / "whole.mp4"))
    b = list(read_frames(tmp_path / "resumed.mp4"))
    assert len(a) == len(b) == 8 and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_time_range_selects_frames(model, panning_clip, tmp_path):
    result = dream_video(panning_clip, tmp_path / "part.gif", resolve_config(None, **FAST), start=0.25, end=0.75, model=model)
    assert result.frames == 4


@pytest.mark.parametrize("name, make, error, message", [
    ("text.mp4", lambda p: p.write_text("no video here"), ImageError, "is not a video ffmpeg can read"),
    ("missing.mp4", lambda p: None, ImageError, "does not exist"),
])
def test_bad_videos(model, tmp_path, name, make, error, message):
    source = tmp_path / name
    make(source)
    with pytest.raises(error, match=message):
        dream_video(source, tmp_path / "out.mp4", resolve_config(None, **FAST), model=model)


def test_bad_video_outputs(model, panning_clip, tmp_path):
    cfg = resolve_config(None, **FAST)
    with pytest.raises(OutputError, match="is the input video"):
        dream_video(panning_clip, panning_clip, cfg, model=model)
    with pytest.raises(OutputError, match=r"unknown extension '.avi'; use one of .mp4, .webm, .gif, .webp"):
        dream_video(panning_clip, tmp_path / "out.avi", cfg, model=model)
    with pytest.raises(OutputError, match="not writable"):
        dream_video(panning_clip, "/sys/out.mp4", cfg, model=model)
    with pytest.raises(ConfigError, match=r"no frames from 5 s to the end of '.*pan.mp4', which lasts 1.00 s; give a "
                                          r"start below 1.00"):
        dream_video(panning_clip, tmp_path / "late.mp4", cfg, start=5.0, model=model)
    with pytest.raises(ConfigError, match=r"no frames between 5 s and 6.5 s of"):
        dream_video(panning_clip, tmp_path / "late.mp4", cfg, start=5.0, end=6.5, model=model)
    assert not (tmp_path / ".late.mp4.frames").exists()  # refused before a folder of frames was made
    with pytest.raises(ConfigError, match="blend = 1.5 is out of range"):
        dream_video(panning_clip, tmp_path / "b.mp4", cfg, blend=1.5, model=model)


def test_zoom_frames_count_fps_and_consistency(model, examples, tmp_path):
    start = picture_from_pil(Image.open(examples / "chelsea.jpg").convert("RGB").resize((120, 80)))
    cfg = resolve_config(None, preset="subtle", octaves=2, steps=3, seed=0)
    frames = list(zoom_frames(start, cfg, frames=5, zoom=1.2, model=model))
    path = write_video(tmp_path / "zoom.mp4", iter(frames), 10.0)
    info = probe(path)
    assert info.fps == 10.0 and len(list(read_frames(path))) == 5
    centre = (slice(20, 60), slice(30, 90))
    for prev, cur in zip(frames, frames[1:]):
        prev_f, cur_f = prev.astype(np.float32) / 255, cur.astype(np.float32) / 255
        zoomed = transform_frame(prev_f, 1.2, 0.0, (0.0, 0.0))
        follows = np.abs(zoomed[centre] - cur_f[centre]).mean()
        assert follows < 0.06 and follows < 0.6 * np.abs(prev_f[centre] - cur_f[centre]).mean()


def test_zoom_interpolates_cheap_in_between_frames(model, examples):
    start = picture_from_pil(Image.open(examples / "chelsea.jpg").convert("RGB").resize((96, 64)))
    cfg = resolve_config(None, preset="subtle", octaves=1, steps=1, seed=0)
    frames = list(zoom_frames(start, cfg, frames=7, zoom=1.1, interpolate=2, model=model))
    assert len(frames) == 7  # dreamed at 0, 3, 6; in between are partial zooms of the last dream
    half = transform_frame(frames[0].astype(np.float32) / 255, 1.1 ** (1 / 3), 0, (0, 0))
    assert np.abs(half - frames[1].astype(np.float32) / 255).max() < 2 / 255


def test_batch_reports_unreadable_files_and_resumes(model, examples, tmp_path):
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    Image.open(examples / "chelsea.jpg").resize((96, 64)).save(source / "cat.jpg")
    Image.open(examples / "coffee.jpg").resize((96, 64)).save(source / "sub" / "cup.png")
    (source / "broken.png").write_bytes(b"\x89PNG not really")
    cfg = resolve_config(None, **FAST)
    summary = dream_folder(source, tmp_path / "out", cfg, model=model)
    assert [p.name for p in summary.done] == ["cat.jpg"]
    assert [p.name for p, _ in summary.failed] == ["broken.png"] and "not an image" in summary.failed[0][1]
    assert (tmp_path / "out" / "cat.jpg").is_file() and not (tmp_path / "out" / "sub").exists()
    again = dream_folder(source, tmp_path / "out", cfg, recursive=True, model=model)
    assert [p.name for p in again.skipped] == ["cat.jpg"] and [p.name for p in again.done] == ["cup.png"]
    assert (tmp_path / "out" / "sub" / "cup.png").is_file()
    with pytest.raises(OutputError, match="is the input folder"):
        dream_folder(source, source, cfg, model=model)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no images"):
        dream_folder(tmp_path / "empty", tmp_path / "nothing", cfg, model=model)
    assert not (tmp_path / "nothing").exists()  # a batch with nothing to do leaves nothing behind


def test_scene_cut_carries_less_than_half(examples):
    def photo(name):
        return np.ascontiguousarray(np.asarray(Image.open(examples / f"{name}.jpg").convert("RGB").resize((96, 64))))

    cat, cup = photo("chelsea"), photo("coffee")
    _, same_scene = coherent_start(cat, np.ascontiguousarray(np.roll(cat, 2, axis=1)), cat, 1.0)
    _, after_cut = coherent_start(cat, cup, cat, 1.0)
    assert same_scene.mean() > 0.8 and after_cut.mean() < 0.5, (same_scene.mean(), after_cut.mean())


def test_uncovered_pixels_take_the_new_frame_not_smeared_detail(examples):
    """A square moves 10 px right: the strip it uncovers is new in this frame, so the
    previous dream's detail is not carried there (forward-backward and photometric checks)."""
    background = np.asarray(Image.open(examples / "coffee.jpg").convert("RGB").resize((160, 96)))
    square = np.asarray(Image.open(examples / "chelsea.jpg").convert("RGB").resize((40, 40)))
    before, after = background.copy(), background.copy()
    before[28:68, 40:80] = square
    after[28:68, 50:90] = square
    dreamed = np.clip(before.astype(int) + 60, 0, 255).astype(np.uint8)  # detail everywhere: +60
    start, weight = coherent_start(before, after, dreamed, 1.0)
    uncovered = (slice(30, 66), slice(41, 49))
    assert weight[uncovered].mean() < 0.3
    assert np.abs(start[uncovered] * 255 - after[uncovered]).mean() < 20  # mostly the new frame, not +60
    still = (slice(5, 20), slice(120, 150))
    assert weight[still].mean() > 0.9 and np.abs(start[still] * 255 - after[still]).mean() > 50  # detail carried


def test_a_still_scene_keeps_its_brightness_and_colour(model, examples, tmp_path):
    """Carried detail adds a little of its mean every frame; over a long still shot that
    used to tint the video (3.3/255 after 28 frames of this clip). Frames now keep the
    first dreamed frame's mean colour."""
    cat = np.asarray(Image.open(examples / "chelsea.jpg").convert("RGB").resize((96, 64)))
    clip = write_video(tmp_path / "still.mp4", [cat] * 30, 24)
    cfg = resolve_config(None, seed=1, octaves=3, steps=6)
    dream_video(clip, tmp_path / "out.mp4", cfg, model=model, keep_frames=True)
    frames = sorted((tmp_path / ".out.mp4.frames").glob("*.png"))
    means = np.array([np.asarray(Image.open(f).convert("RGB"), np.float32).mean((0, 1)) for f in frames])
    assert len(frames) == 30 and np.abs(means - means[0]).max() < 1.0  # well inside 3/255


def test_flow_of_a_large_frame_is_measured_shrunk_and_scaled_back(examples):
    """Above FLOW_SIDE the flow is measured on shrunk frames; scaled back up it must still
    give the full-size motion: the coffee photo at 1280x720 moved 12 px right, 5 px up."""
    from inceptionism.motion.video import FLOW_SIDE, _flow, _gray

    big = np.asarray(Image.open(examples / "coffee.jpg").convert("RGB").resize((1320, 760)))
    a, b = big[20:740, 20:1300], big[25:745, 8:1288]  # content of a at p is at p + (12, -5) in b
    assert min(a.shape[:2]) > FLOW_SIDE
    flow = _flow(_gray(np.ascontiguousarray(a)), _gray(np.ascontiguousarray(b)))
    assert flow.shape == (720, 1280, 2)
    inner = flow[60:-60, 60:-60]
    assert abs(np.median(inner[..., 0]) - 12) < 0.5 and abs(np.median(inner[..., 1]) + 5) < 0.5, np.median(inner, (0, 1))


def test_carried_frames_take_half_the_finest_octaves_steps_unless_told(model, panning_clip, tmp_path, monkeypatch):
    import inceptionism.api as api

    seen = []
    real = api.render

    def recording(image, cfg, **kw):
        seen.append((cfg.octave_range, cfg.steps))
        return real(image, cfg, **kw)

    monkeypatch.setattr(api, "render", recording)
    cfg = resolve_config(None, preset="classic", octaves=2, steps="8:10", seed=3)
    dream_video(panning_clip, tmp_path / "half.mp4", cfg, model=model, end=0.5)
    top = max(cfg.octave_indices())
    assert seen[0] == (cfg.octave_range, (8, 10)) and set(seen[1:]) == {((top, top), 5)}, seen  # 10 at the top
    seen.clear()
    dream_video(panning_clip, tmp_path / "two.mp4", cfg, model=model, end=0.5, carried_steps=2)
    assert set(seen[1:]) == {((top, top), 2)}
    with pytest.raises(ConfigError, match="carried_steps"):
        dream_video(panning_clip, tmp_path / "bad.mp4", cfg, model=model, carried_steps=0)


def _frames(count: int = 4, size: tuple[int, int] = (48, 64)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(count)]


def test_written_videos_hold_every_frame_at_their_rate(tmp_path):
    for name, fps in (("a.mp4", 10.0), ("a.webm", 30000 / 1001), ("odd.mp4", 8.0)):
        frames = _frames(size=(47, 63)) if name == "odd.mp4" else _frames()
        path = write_video(tmp_path / name, iter(frames), fps)
        info = probe(path)
        assert abs(info.fps - fps) < 0.01 and len(list(read_frames(path))) == len(frames), (name, info)
        assert (info.width, info.height) == (64, 48)  # 63x47 is padded by one pixel on each odd side
        assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "a.webm", "odd.mp4"]  # no temporary left


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_animated_pictures_hold_every_frame_and_play_on_repeat(tmp_path, suffix):
    frames = [np.full((48, 64, 3), (40 * k, 200 - 30 * k, 90), np.uint8) for k in range(5)]
    path = write_video(tmp_path / f"a{suffix}", iter(frames), 8.0)
    with Image.open(path) as shown:
        assert shown.n_frames == 5 and shown.info.get("loop") == 0
        shown.seek(3)
        if suffix == ".gif":  # Pillow reads a WebP's frame times into no field
            assert abs(shown.info["duration"] - 125) <= 5  # 8 fps (a GIF keeps 10 ms steps)
        assert np.abs(np.asarray(shown.convert("RGB"), np.int16) - frames[3]).mean() < 4
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"a{suffix}"]


def test_a_video_ffmpeg_could_not_finish_is_an_error_and_leaves_nothing(tmp_path, monkeypatch):
    # imageio-ffmpeg's writer never checked ffmpeg's exit status: on a full disk ("Error writing
    # trailer") a cut-short video was renamed into place and reported as written.
    import inceptionism.motion.videoio as videoio

    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\ncat > /dev/null\n"
                    "echo '[out#0/mp4 @ 0x55d0] Error writing trailer: No space left on device' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(videoio, "_ffmpeg", lambda: str(fake))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OutputError) as caught:
        write_video(out / "v.mp4", iter(_frames()), 8.0)
    assert str(caught.value) == f"cannot write {str(out / 'v.mp4')!r}: ffmpeg: Error writing trailer: No space left on device"
    assert list(out.iterdir()) == []


def test_a_gif_the_disk_refuses_is_an_error_and_leaves_nothing(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    with pytest.raises(OutputError, match=r"cannot write '.*v\.gif': No space left on device$"):
        write_video(tmp_path / "v.gif", iter(_frames()), 8.0)
    assert list(tmp_path.iterdir()) == []


def test_frames_of_another_size_are_refused(tmp_path):
    frames = _frames() + _frames(1, (40, 64))
    with pytest.raises(OutputError, match="video frames must all be 64x48; one is 64x40"):
        write_video(tmp_path / "v.mp4", iter(frames), 8.0)
    assert list(tmp_path.iterdir()) == []


def test_video_without_a_seed_resumes_with_the_seed_it_kept(model, clip, tmp_path):
    cfg = resolve_config(None, draw=False, preset="classic", octaves=2, steps=2, max_size=64)
    assert cfg.seed is None

    def stop_after_two(done, total, resumed):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dream_video(clip, tmp_path / "v.mp4", cfg, model=model, on_frame=stop_after_two)
    again = dream_video(clip, tmp_path / "v.mp4", cfg, model=model)
    assert again.dreamed == again.frames - 2  # the two finished frames were kept, not dreamed again
    dream_video(clip, tmp_path / "whole.mp4", cfg.replace(seed=again.seed), model=model)
    a, b = list(read_frames(tmp_path / "v.mp4")), list(read_frames(tmp_path / "whole.mp4"))
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_frame_rates_outside_what_can_be_written_are_refused_before_any_work(tmp_path, small_photo):
    for fps in ("0.001", "1e-9"):
        one_line(invoke("zoom", small_photo, "-o", tmp_path / "z.gif", "--fps", fps, "--frames", "2", *FAST_FLAGS), 2,
                 "fps = ")
    assert not list(tmp_path.glob("*.gif"))


def test_a_video_file_with_a_colon_in_its_name_is_read(tmp_path, clip, monkeypatch):
    monkeypatch.chdir(tmp_path)  # as typed: a relative name, which ffmpeg took for protocol "take"
    (tmp_path / "take:1.mp4").write_bytes(clip.read_bytes())
    result = invoke("video", "take:1.mp4", "-o", "out:1.mp4", *FAST_FLAGS)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out:1.mp4").stat().st_size > 0


def test_a_video_named_like_an_option_is_read_after_a_double_dash(tmp_path, clip, monkeypatch):
    """Options go before ``--``: after it every word is a file name, as in any POSIX command."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-dash.mp4").write_bytes(clip.read_bytes())
    result = invoke("video", "-o", "out.mp4", *FAST_FLAGS, "--", "-dash.mp4")
    assert result.exit_code == 0, result.output


def test_a_video_refused_before_its_first_frame_leaves_no_folder(tmp_path, clip):
    result = invoke("video", clip, "-o", tmp_path / "v.mp4", "--start", "50", *FAST_FLAGS)  # no frames after 50 s
    assert result.exit_code == 2, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
