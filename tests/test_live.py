"""Live dreaming: a still scene's dream deepens frame by frame, a moving one's follows the
motion, a slow dreamer takes the latest frame, a missed frame rate lowers the work per frame."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from inceptionism.api import resolve_config
from inceptionism.errors import ConfigError
from inceptionism.motion.live import Latest, LiveDreamer, live_frames
from inceptionism.command_config import LiveConfig

from .support import EXAMPLES


def _cat(size=(160, 120)) -> np.ndarray:
    return np.asarray(Image.open(EXAMPLES / "chelsea.jpg").convert("RGB").resize(size))


def _strength(frame: np.ndarray, dream: np.ndarray) -> float:
    return float(np.abs(dream.astype(np.float32) - frame).mean())


def test_a_still_scene_deepens_frame_by_frame(model):
    shown = list(live_frames([_cat()] * 8, model=model, seed=1))
    strengths = [_strength(frame, dream) for frame, dream in shown]
    assert len(shown) == 8 and shown[0][1].shape == (120, 160, 3)
    assert strengths[-1] > 2 * strengths[0], strengths
    assert all(b > a - 0.3 for a, b in zip(strengths, strengths[1:])), strengths  # no frame throws the dream away


def test_a_moving_scene_is_followed_by_its_dream(model):
    wide = np.asarray(Image.open(EXAMPLES / "coffee.jpg").convert("RGB").resize((220, 120)))
    pan = [np.ascontiguousarray(wide[:, 4 * t:4 * t + 160]) for t in range(12)]
    shown = list(live_frames(pan, model=model, seed=1))
    detail = [dream.astype(np.float32) - frame for frame, dream in shown]
    followed = np.mean([np.abs(detail[t + 1][:, :-4] - detail[t][:, 4:]).mean() for t in range(6, 11)])
    left_behind = np.mean([np.abs(detail[t + 1][:, :-4] - detail[t][:, :-4]).mean() for t in range(6, 11)])
    assert followed < 0.6 * left_behind, (followed, left_behind)  # the dream moved with the cup


def test_the_same_frames_and_seed_dream_the_same(model):
    frames = [_cat(), _cat()]
    first = [dream for _, dream in live_frames(frames, model=model, seed=3)]
    again = [dream for _, dream in live_frames(frames, model=model, seed=3)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_a_slow_dreamer_takes_the_latest_frame():
    latest = Latest()
    for k in range(5):
        latest.put(k)
    assert latest.take(timeout=1) == 4 and latest.dropped == 4
    taken: list = []
    reader = threading.Thread(target=lambda: taken.append(latest.take(timeout=10)))
    reader.start()
    latest.put("next")
    reader.join(10)
    assert taken == ["next"]
    latest.close()
    assert latest.take(timeout=1) is None


def test_a_clip_is_read_in_real_time_and_frames_that_came_meanwhile_are_dropped(model, tmp_path):
    from inceptionism.motion.videoio import write_video

    clip = write_video(tmp_path / "clip.mp4", [np.roll(_cat(), 3 * t, axis=1) for t in range(30)], 60.0)
    shown = list(live_frames(clip, model=model, seed=1, frame_steps=3))  # 0.5 s of clip; slower dreams
    assert 2 <= len(shown) < 30, len(shown)


def test_a_missed_frame_rate_lowers_the_steps_and_a_met_one_raises_them(model):
    cfg = resolve_config(None, seed=0, max_size=64)
    dreamer = LiveDreamer(cfg, LiveConfig(frame_steps=4, target_fps=1000.0), model=model)
    dreamer.dream(_cat())
    dreamer.dream(_cat())
    assert dreamer.steps == 2  # 1 ms a frame cannot be met: a step less each frame
    dreamer.live = LiveConfig(frame_steps=4, target_fps=0.1)  # 10 s a frame: always met
    for _ in range(3):
        dreamer.dream(_cat())
    assert dreamer.steps == 4


def test_live_parameters_are_checked_by_their_declaration(model):
    with pytest.raises(ConfigError, match="frame_steps = 0 is out of range"):
        next(live_frames([_cat()], model=model, frame_steps=0))
    with pytest.raises(ConfigError, match="unknown parameter 'frame_step'"):
        next(live_frames([_cat()], model=model, frame_step=2))


def _clip(tmp_path, frames: int, fps: float = 24.0):
    from inceptionism.motion.videoio import write_video

    return write_video(tmp_path / "clip.mp4", [np.roll(_cat(), 2 * t, axis=1) for t in range(frames)], fps)


def test_the_command_records_a_clip_live_in_real_time_with_its_recipe(tmp_path):
    from inceptionism.motion.videoio import probe, read_frames, read_recipe

    from .support import invoke

    clip = _clip(tmp_path, 24)  # one second
    out = tmp_path / "live.mp4"
    result = invoke("live", clip, "-o", out, "--frame-steps", "1", "--seed", "5")
    assert result.exit_code == 0, result.output
    info = probe(out)
    count = len(list(read_frames(out)))
    took = float(result.output.split(" dreamed in ")[1].split(" s")[0])  # from the first dream to the last
    assert info.fps == 24.0 and abs(count - 24 * took) <= 3, (count, took)  # real time, at the clip's own rate
    recipe = read_recipe(out)
    assert recipe["config"]["seed"] == 5 and recipe["live"]["frame_steps"] == 1 and recipe["config"]["max_size"] == 320
    assert "dreamed frames per second" in result.output


def test_ctrl_c_ends_a_live_recording_and_leaves_a_playable_file(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from inceptionism.motion.videoio import read_frames

    from .support import line_within

    clip = _clip(tmp_path, 240)  # ten seconds
    out = tmp_path / "live.mp4"
    process = subprocess.Popen([sys.executable, "-m", "inceptionism", "live", str(clip), "-o", str(out), "-q"],
                               stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert "dreaming at 160x120" in line_within(process.stderr, 120)
        os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the whole group, ffmpeg's too
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0 and "Traceback" not in stderr, stderr
    assert "wrote" in stdout and 1 <= len(list(read_frames(out))) < 240


def test_a_camera_that_cannot_be_opened_is_one_line(tmp_path):
    from .support import invoke, one_line

    one_line(invoke("live", "97", "-o", tmp_path / "cam.mp4"), 3, "camera 97 cannot be opened")
    assert not (tmp_path / "cam.mp4").exists()


def test_with_no_window_and_no_recording_there_is_nowhere_to_show_it(tmp_path, monkeypatch):
    from .support import invoke, one_line

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    one_line(invoke("live", _clip(tmp_path, 2)), 2, "nowhere to show the dream")
