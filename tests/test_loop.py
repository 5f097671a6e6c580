"""Zooms that loop: the seam (last frame to first) is a step like any other, on photos and on
noise; the frame after the last is the first; a zoom out is the zoom in played backwards."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from inceptionism.api import noise_picture, resolve_config
from inceptionism.images import picture_from_pil
from inceptionism.motion import zoom_frames
from inceptionism.motion.loop import Seam, compose, dream_levels, loop_plan, measure_seam

from .support import EXAMPLES, invoke, one_line

LIGHT = dict(preset="subtle", octaves=2, steps=3, seed=4)


def _photo(name: str, size=(112, 80)):
    return picture_from_pil(Image.open(EXAMPLES / name).convert("RGB").resize(size, Image.Resampling.LANCZOS))


STARTS = {
    "chelsea": lambda: _photo("chelsea.jpg"),
    "astronaut": lambda: _photo("astronaut.jpg", (96, 96)),
    "noise": lambda: noise_picture(96, 72, 5),
}


@pytest.mark.parametrize("start", STARTS)
def test_a_loops_seam_is_no_larger_than_its_median_step(model, start):
    picture = STARTS[start]()
    cfg = resolve_config(None, **LIGHT)
    frames = measure_seam(zoom_frames(picture, cfg, frames=16, zoom=1.08, rotate=1.5, loop=True, model=model))
    shown = list(frames)
    assert len(shown) == 16 and shown[0].shape[:2] == picture.rgb.shape[:2]
    seam = frames.result
    assert seam.median_step > 2, "the frames barely move: nothing was measured"
    assert seam.seam <= 1.2 * seam.median_step, seam
    dreamed = np.abs(shown[0].astype(np.float32) / 255 - picture.rgb).mean()
    assert dreamed > 0.03, f"the first frame is the start, not a dream of it ({dreamed:.3f})"


def test_the_plain_zoom_fails_the_same_measure(model):
    """The measure tells a loop from a zoom that does not loop: the plain zoom's end jumps."""
    cfg = resolve_config(None, **LIGHT)
    frames = measure_seam(zoom_frames(STARTS["chelsea"](), cfg, frames=16, zoom=1.08, model=model))
    list(frames)
    assert frames.result.seam > 1.5 * frames.result.median_step, frames.result


def test_the_frame_after_the_last_is_the_first_and_the_way_there_is_smooth(model):
    plan = loop_plan(12, 1.1, rotate=2.0)
    levels = dream_levels(STARTS["noise"](), resolve_config(None, **LIGHT), plan, model=model)
    first, after_last = compose(levels, plan, 0), compose(levels, plan, plan.levels)
    assert torch.equal(first, after_last)
    # Onto a level from just before it, as from just after: no level pops in.
    for k in range(plan.levels):
        before = compose(levels, plan, k - 1e-4 if k else plan.levels - 1e-4)
        after = compose(levels, plan, k + 1e-4)
        assert (before - after).abs().mean() < 2e-3, k


def test_the_centre_holds_the_picture_at_the_loops_depth(model):
    """Droste: the first frame shrunk by the loop's whole zoom is its own centre."""
    plan = loop_plan(12, 1.1)
    levels = dream_levels(STARTS["chelsea"](), resolve_config(None, **LIGHT), plan, model=model)
    frame = compose(levels, plan, 0)[0]
    depth = plan.ratio**plan.levels  # 1.1 ** 12
    height, width = frame.shape[-2:]
    h, w = round(height / depth / 2), round(width / depth / 2)
    centre = frame[:, height // 2 - h:height // 2 + h, width // 2 - w:width // 2 + w]
    shrunk = torch.nn.functional.interpolate(frame[None], size=centre.shape[-2:], mode="area")[0]
    other = torch.nn.functional.interpolate(compose(levels, plan, plan.levels / 2)[0][None], size=centre.shape[-2:],
                                            mode="area")[0]  # half way round: another picture
    assert (centre - shrunk).abs().mean() < 0.5 * (centre - other).abs().mean()


def test_a_zoom_out_loop_is_the_zoom_in_played_backwards(model):
    cfg = resolve_config(None, **LIGHT)
    start = STARTS["noise"]()
    inwards = list(zoom_frames(start, cfg, frames=8, zoom=1.1, loop=True, model=model))
    outwards = list(zoom_frames(start, cfg, frames=8, zoom=1 / 1.1, loop=True, model=model))
    assert np.array_equal(outwards[0], inwards[0])
    assert all(np.array_equal(outwards[t], inwards[8 - t]) for t in range(1, 8))


def test_the_zoom_command_loops_and_prints_the_seam(small_photo, tmp_path):
    out = tmp_path / "loop.gif"
    result = invoke("zoom", small_photo, "-o", out, "--frames", "10", "--zoom", "1.1", "--loop", "--preset", "subtle",
                    "--octaves", "1", "--steps", "2", "--seed", "1", "-q")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("loop seam"))
    seam, step = float(line.split()[2]), float(line.split("median step of ")[1].split(":")[0])
    assert seam <= 1.2 * step, line
    with Image.open(out) as gif:
        assert gif.n_frames == 10 and gif.info.get("loop") == 0  # played on repeat


@pytest.mark.parametrize("flags, words", [
    (["--pan", "2,0"], "loop zooms about the centre; pan must be 0,0, got 2,0"),
    (["--zoom", "1"], "loop needs a zoom other than 1"),
])
def test_a_loop_that_cannot_close_is_refused_before_any_work(small_photo, tmp_path, flags, words):
    out = tmp_path / "loop.gif"
    one_line(invoke("zoom", small_photo, "-o", out, "--loop", *flags), 2, words)
    assert not out.exists()


def test_the_measure_sees_a_jump_and_a_fade():
    ramp = [np.full((8, 8, 3), 10 * t, np.uint8) for t in range(10)]
    assert Seam(90.0, 10.0).ratio == 9.0
    jumping = measure_seam(iter(ramp))
    assert list(jumping) == ramp and jumping.result.seam == 90 and jumping.result.median_step == 10
    back = ramp + [np.full((8, 8, 3), 10 * t, np.uint8) for t in range(9, 0, -1)]  # a palindrome's seam is a step
    palindrome = measure_seam(iter(back))
    list(palindrome)
    assert palindrome.result.ratio == 1.0


def test_the_library_door_zooms_and_loops(model, small_photo):
    import inceptionism
    from inceptionism.errors import ConfigError

    frames = inceptionism.zoom(small_photo, frames=8, zoom=1.1, loop=True, model=model, seed=1, steps=2)
    assert len(frames) == 8 and frames[0].size == (96, 64) and frames[0].mode == "RGB"
    seam = measure_seam(np.asarray(frame) for frame in frames)
    list(seam)
    assert seam.result.seam <= 1.2 * seam.result.median_step, seam.result
    with pytest.raises(ConfigError, match="pan must be 0,0") as refused:
        inceptionism.zoom(small_photo, frames=8, loop=True, pan=(1, 0), model=model)
    assert refused.value.field == "pan"


def test_the_library_door_dreams_on_the_network_it_is_given(small_photo):
    """Another network's layer names: the zoom resolves its layers for the network it is handed."""
    import inceptionism

    other = inceptionism.load_model("timm/resnet18", weights="random")
    frames = inceptionism.zoom(small_photo, frames=2, model=other, seed=1, steps=1, octaves=1)
    assert len(frames) == 2


@pytest.mark.parametrize("frames, zoom, words", [
    (2, 1.05, "a loop must zoom at least 1.2x in all"),
    (3, 0.97, "(1/zoom)**frames = 1.096"),
    (200, 100.0, "zoom**frames = 10**400 is deeper than 64 levels of 4x can hold"),
])
def test_a_loop_too_shallow_or_too_deep_is_refused_before_any_work(small_photo, tmp_path, frames, zoom, words):
    out = tmp_path / "loop.gif"
    one_line(invoke("zoom", small_photo, "-o", out, "--loop", "--frames", frames, "--zoom", zoom), 2, words)
    assert not out.exists()


def test_a_wide_frame_turning_fast_has_no_level_popping_in(model):
    plan = loop_plan(8, 1.2, rotate=12.0)  # 4 levels, 24 degrees each
    levels = dream_levels(noise_picture(96, 32, 2), resolve_config(None, **LIGHT), plan, model=model)
    for k in range(plan.levels):
        before = compose(levels, plan, k - 1e-4 if k else plan.levels - 1e-4)
        after = compose(levels, plan, k + 1e-4)
        assert (before - after).abs().max() < 0.05, k
