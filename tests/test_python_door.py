"""The Python door under a host program's habits and odd arguments: autograd off or inference
mode (notebooks, ComfyUI), numpy numbers, the command line's written forms, pictures of every
kind a caller may hand over."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import inceptionism
from inceptionism.api import resolve_config
from inceptionism.errors import ConfigError, ImageError, InceptionismError
from inceptionism.featurevis import FeatureVisConfig, accentuate, picture_for, render
from inceptionism.motion import dream_folder, dream_video, zoom_frames
from inceptionism.motion.videoio import write_video
from inceptionism.objectives import channel

LAYER = "blocks.4.1.bn1"
MODES = {"no_grad": torch.no_grad, "inference_mode": torch.inference_mode}


# --- a host's grad mode ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_dream_climbs_its_objective_whatever_grad_mode_the_caller_set(model, small_photo, mode):
    with MODES[mode]():
        result = inceptionism.render(small_photo, model=model, steps=6, octaves=1, seed=0)
    assert result.score_end > 1.05 * result.score_start  # it climbed, not just ran


@pytest.mark.parametrize("mode", MODES)
def test_feature_visualization_climbs_whatever_grad_mode_the_caller_set(model, examples, mode):
    gen = torch.Generator().manual_seed(0)
    seen: list[float] = []
    with MODES[mode]():
        picture = picture_for("fft", 1, 64, gen=gen, device=model.device)
        render(model, channel(LAYER, 7, kind="mean"), picture, steps=6, gen=gen,
               on_step=lambda step, values: seen.append(float(values[0])))
        photo = torch.rand(3, 80, 80, generator=gen)
        accented: list[float] = []
        accentuate(model, photo, LAYER, 7, FeatureVisConfig(size=64, steps=6, seed=0),
                   on_step=lambda step, values: accented.append(float(values[0])))
        pixel = inceptionism.visualize(LAYER, 7, model=model, size=64, octaves=1, steps=3, seed=0)
    assert seen[-1] > seen[0] + 0.1 and accented[-1] > accented[0]  # both climbed the channel
    assert pixel.info["inceptionism"]["score_end"] > pixel.info["inceptionism"]["score_start"]


@pytest.mark.parametrize("mode", MODES)
def test_zoom_video_and_batch_dream_whatever_grad_mode_the_caller_set(model, small_photo, tmp_path, mode):
    cfg = inceptionism.api.resolve_config(None, steps=1, octaves=1, seed=0, max_size=64)
    clip = tmp_path / "clip.mp4"
    write_video(clip, (np.full((48, 64, 3), 40 * k, np.uint8) for k in range(3)), 8.0)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(small_photo.read_bytes())
    with MODES[mode]():
        start = inceptionism.images.load_image(small_photo)
        frames = list(zoom_frames(start, cfg, frames=2, model=model))
        video = dream_video(clip, tmp_path / "out.mp4", cfg, model=model)
        batch = dream_folder(tmp_path / "in", tmp_path / "out", cfg, model=model)
    assert len(frames) == 2 and video.frames == video.dreamed == 3 and len(batch.done) == 1 and not batch.failed, batch


def test_a_network_loaded_under_inference_mode_still_dreams(small_photo):
    with torch.inference_mode():
        loaded = inceptionism.load_model("efficientnet-lite0", cache=False)
    assert not any(p.is_inference() for p in loaded.net.parameters())
    for mode in (contextlib.nullcontext, torch.inference_mode):
        with mode():
            result = inceptionism.render(small_photo, model=loaded, steps=6, octaves=1, seed=0)
        assert result.score_end > 1.05 * result.score_start


def test_modules_first_imported_under_inference_mode_still_climb(small_photo):
    """A host that imports the library lazily inside torch.inference_mode() (ComfyUI runs and
    imports its nodes so) makes every tensor built at import an inference tensor."""
    code = (
        "import sys, torch\n"
        "with torch.inference_mode():\n"
        "    import inceptionism\n"
        "    from inceptionism.unit_pictures import visualize\n"
        "    picture = visualize('blocks.4.1.bn1', 7, size=48, steps=4, param='alpha', seed=0)\n"
        "    dream = inceptionism.render(sys.argv[1], steps=2, octaves=2, lapnorm=True, seed=0)\n"
        "print(picture.mode, dream.score_end > dream.score_start)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(small_photo)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.split() == ["RGBA", "True"]


# --- visualize's targets: the command line's forms -----------------------------------------------


@pytest.mark.parametrize(("target", "pictures"), [("7+12", 1), ("7-12", 1), ("7,8", 2), (np.int64(7), 1), ([7], 1),
                                                  ([7, np.int32(8)], 2), ("all", None)])
def test_visualize_takes_every_target_form_the_command_line_takes(model, target, pictures):
    kwargs = dict(model=model, size=32, steps=1, seed=0, param="fft")
    layer = LAYER if target != "all" else "blocks.0.0.bn1"  # its 32 channels
    shown = inceptionism.visualize(layer, target, **kwargs)
    shown = shown if isinstance(shown, list) else [shown]
    assert len(shown) == (pictures or 32)
    written = ",".join(str(int(t)) for t in target) if isinstance(target, list) else str(target)
    if written != "all":
        assert ",".join(str(s.info["inceptionism"]["visualize"]["target"]) for s in shown) == written


@pytest.mark.parametrize(("target", "words"), [
    (-1, "channel -1 in 'blocks.4.1.bn1:-1' is negative"), (True, "target True is not a channel number"), (7.0, "target 7.0 is not"),
    ("٣", r"is not a whole number \(digits 0-9\)"), ([], "target is an empty list"), ("7,7", "names 7 twice"),
    (99999, "channel 99999 is out of range"),
])  # fmt: skip
def test_visualize_refuses_a_target_no_door_takes_naming_it(model, target, words):
    with pytest.raises(InceptionismError, match=words) as caught:
        inceptionism.visualize(LAYER, target, model=model, size=32, steps=1, seed=0)
    assert caught.value.field == "target"
    # a channel the layer cannot have (out of range, negative) is the layer's LayerError, as in --layers
    assert isinstance(caught.value, ConfigError) or target in (99999, -1)


def test_several_pictures_of_one_target_are_all_returned(model):
    shown = inceptionism.visualize(LAYER, 7, model=model, size=32, steps=2, seed=0, param="fft", diversity=3)
    assert isinstance(shown, list) and len(shown) == 3
    assert [s.info["inceptionism"]["visualize"]["picture"] for s in shown] == [0, 1, 2]


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.full((64, 64, 3), np.nan, np.float32), "not finite (NaN or infinity)"),
        (np.full((64, 64, 3), np.inf, np.float64), "not finite (NaN or infinity)"),
        (np.full((64, 64, 3), 200.0, np.float32), "float values from 200 to 200; floats must lie in 0..1; divide a 0..255"),
        (np.full((64, 64, 3), -0.5, np.float32), "float values from -0.5 to -0.5; floats must lie in 0..1"),
        (np.full((64, 64), 128, np.int64), "dtype int64 is not allowed: use uint8 (0..255), uint16 (0..65535) or floats"),
        (np.zeros((64, 64, 3), np.complex64), "dtype complex64 is not allowed"),
    ],
)
def test_array_images_outside_the_contract_are_refused(array, words):
    # Before, NaN dreamed on NaN, and 0..255 floats or int64 arrays were clipped to a white picture.
    from inceptionism.api import as_picture
    from inceptionism.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        as_picture(array, resolve_config(None))
    assert words in str(caught.value), str(caught.value)


def test_array_images_of_every_allowed_kind_mean_the_same_picture():
    from inceptionism.api import as_picture

    grey8 = np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) % 256
    kinds = [grey8.astype(np.uint8), (grey8 * 257).astype(np.uint16), (grey8 / 255).astype(np.float64),
             (grey8 / 255 + 5e-4).astype(np.float32).clip(None, 1.0005)]  # a little rounding above 1 is clipped
    pictures = [as_picture(kind, resolve_config(None))[0].rgb for kind in kinds]
    for picture in pictures[1:]:
        assert np.abs(picture - pictures[0]).max() < 1e-3
    assert as_picture(np.eye(64, dtype=bool), resolve_config(None))[0].rgb[0, 0].tolist() == [1.0, 1.0, 1.0]


def _truncated_lazy() -> Image.Image:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (9, 9, 9)).save(buffer, "PNG")
    return Image.open(io.BytesIO(buffer.getvalue()[:200]))


def _closed() -> Image.Image:
    image = Image.new("RGB", (64, 64))
    image.close()
    return image


@pytest.mark.parametrize(("make", "words"), [
    (_truncated_lazy, "image cannot be read: image file is truncated"),
    (_closed, "image cannot be read: Operation on closed image"),
    (lambda: np.ma.masked_array(np.zeros((64, 64, 3), np.uint8), mask=np.ones((64, 64, 3), bool)), "masked values"),
])  # fmt: skip
def test_pictures_that_cannot_be_read_are_clear_errors(model, make, words):
    with pytest.raises((ImageError, ConfigError), match=words):
        inceptionism.dream(make(), model=model, steps=1, octaves=1, seed=0)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")  # np.matrix is what is tried
@pytest.mark.parametrize("make", [
    lambda: Image.new("RGBa", (64, 64), (200, 100, 50, 128)),
    lambda: Image.new("La", (64, 64), (100, 128)),
    lambda: np.ma.masked_array(np.full((64, 64, 3), 128, np.uint8), mask=False),
    lambda: np.matrix(np.full((64, 64), 0.5)),
])  # fmt: skip
def test_premultiplied_modes_masked_arrays_and_matrices_are_dreamed(model, make):
    out = inceptionism.dream(make(), model=model, steps=1, octaves=1, seed=0)
    assert out.size == (64, 64)


def test_numpy_numbers_are_numbers_and_fractional_sizes_are_refused(model):
    out = inceptionism.dream("noise", model=model, steps=np.int64(1), octaves=np.int32(1), seed=np.int64(1),
                             size=(64, 64), step_size=np.float32(0.01))
    assert out.size == (64, 64) and out.info["inceptionism"]["config"]["seed"] == 1
    with pytest.raises(ConfigError, match=r"size \(64.5, 64\) is not of the form WxH"):
        inceptionism.dream("noise", model=model, steps=1, octaves=1, seed=0, size=(64.5, 64))


def test_visualize_takes_a_loaded_model_as_dream_does(model):
    assert inceptionism.visualize("blocks.3.0.bn1", 2, model=model, size=64, octaves=1, steps=1, seed=0).size == (64, 64)
