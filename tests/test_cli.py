"""The command line, in-process: outputs, embedded parameters, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import numpy as np
from PIL import Image
from typer.testing import CliRunner

from inceptionism.cli import app
from inceptionism.images import read_metadata

runner = CliRunner()
FAST = ["--octaves", "2", "--steps", "2", "--quiet"]


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_dream_writes_image_with_parameters(small_photo, tmp_path):
    out = tmp_path / "dream.png"
    result = invoke("dream", small_photo, "-o", out, "--seed", "4", *FAST)
    assert result.exit_code == 0, result.output
    assert "objective" in result.output and "seed 4" in result.output
    meta = read_metadata(out)
    assert meta["config"]["seed"] == 4 and meta["config"]["steps"] == 2
    assert meta["model"] == "efficientnet-lite0" and len(meta["weights_sha256"]) == 64
    assert meta["input"] == {"name": "small.png", "width": 96, "height": 64}
    assert meta["inceptionism"] == "0.1.0"
    assert Image.open(out).size == (96, 64)


def test_info_then_config_reproduces_the_same_bytes(small_photo, tmp_path):
    first = tmp_path / "first.png"
    assert invoke("dream", small_photo, "-o", first, *FAST).exit_code == 0
    info = invoke("info", first)
    assert info.exit_code == 0
    params = tmp_path / "params.json"
    params.write_text(info.output)
    for source in (params, first):  # the JSON that info prints, or the image itself
        again = tmp_path / f"again-{source.suffix[1:]}.png"
        result = invoke("dream", small_photo, "-o", again, "--config", source, "--quiet")
        assert result.exit_code == 0, result.output
        assert Image.open(again).tobytes() == Image.open(first).tobytes()


def test_flags_override_config_file(small_photo, tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"steps": 1, "octaves": 1, "jitter": 3}))
    out = tmp_path / "o.png"
    saved = tmp_path / "saved.json"
    result = invoke("dream", small_photo, "-o", out, "--config", cfg, "--steps", "2", "--save-config", saved, "-q")
    assert result.exit_code == 0, result.output
    used = json.loads(saved.read_text())
    assert (used["steps"], used["octaves"], used["jitter"]) == (2, 1, 3)
    assert used["layers"] == "blocks.4.1.bn1,blocks.5.0.bn1" and isinstance(used["seed"], int)


def test_config_file_overrides_preset_only_where_it_says(small_photo, tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"steps": 1}))
    saved = tmp_path / "saved.json"
    result = invoke("dream", small_photo, "-o", tmp_path / "o.png", "--preset", "subtle", "--config", cfg,
                    "--save-config", saved, "-q")
    assert result.exit_code == 0, result.output
    used = json.loads(saved.read_text())
    assert (used["preset"], used["octaves"], used["step_size"], used["steps"]) == ("subtle", 3, 0.006, 1)


def test_bad_config_file_is_a_parameter_error(small_photo, tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"stepz": 1}))
    result = invoke("dream", small_photo, "-o", tmp_path / "o.png", "--config", cfg, "-q")
    assert result.exit_code == 2 and "unknown parameter 'stepz'; did you mean steps" in result.output
    cfg.write_text("{not json")
    result = invoke("dream", small_photo, "-o", tmp_path / "o.png", "--config", cfg, "-q")
    assert result.exit_code == 2 and "is not valid JSON" in result.output


def test_preset_sets_values(small_photo, tmp_path):
    saved = tmp_path / "saved.json"
    assert invoke("dream", small_photo, "-o", tmp_path / "o.png", "--preset", "subtle", "--steps", "1",
                  "--save-config", saved, "-q").exit_code == 0
    used = json.loads(saved.read_text())
    assert used["preset"] == "subtle" and used["octaves"] == 3 and used["layers"] == "blocks.3.1.bn1,blocks.4.0.bn1"


def test_dream_from_noise_with_size(tmp_path):
    out = tmp_path / "n.webp"
    result = invoke("dream", "noise", "--size", "80x48", "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (80, 48)
    assert read_metadata(out)["input"]["name"] == "noise"


def test_max_size_keeps_aspect(examples, tmp_path):
    out = tmp_path / "m.jpg"
    assert invoke("dream", examples / "coffee.jpg", "-o", out, "--max-size", "90", *FAST).exit_code == 0
    assert Image.open(out).size == (90, 60)


def test_progress_shows_octave_step_and_score(small_photo, tmp_path):
    result = invoke("dream", small_photo, "-o", tmp_path / "p.png", "--octaves", "2", "--steps", "2")
    assert result.exit_code == 0
    assert "octave 2/2" in result.output and "step 2/2" in result.output and "score" in result.output


def test_layers_lists_names_channels_and_sizes():
    result = invoke("layers", "--filter", "blocks.4.1")
    assert result.exit_code == 0
    assert "blocks.4.1.bn1\t672\t14\t14\t" in result.stdout  # in a pipe: tab-separated, whole


def test_visualize_and_activations(small_photo, tmp_path):
    vis = tmp_path / "v.png"
    result = invoke("visualize", "blocks.3.0.bn1", "5", "-o", vis, "--size", "64", "--steps", "3", "--lapnorm", "-q")
    assert result.exit_code == 0, result.output
    assert Image.open(vis).size == (64, 64) and read_metadata(vis)["config"]["lapnorm"] is True
    grid = tmp_path / "a.png"
    result = invoke("activations", small_photo, "--layer", "blocks.2.0.bn1", "-o", grid, "--channels", "0,3,5")
    assert result.exit_code == 0, result.output
    assert Image.open(grid).width > 100


@pytest.mark.parametrize("args, code, message", [
    (["--model", "nosuchnet"], 4, "unknown model 'nosuchnet'"),
    (["--layers", "blocks.4.1.bn7"], 4, "unknown layer 'blocks.4.1.bn7' in efficientnet-lite0; nearest: blocks.4.1.bn"),
    (["--layers", "blocks.4.1.bn1:9999"], 4, "channel 9999 is out of range for layer 'blocks.4.1.bn1': 0 to 671"),
    (["--steps", "0"], 2, "steps = 0 is out of range"),
    (["--steps", "-2"], 2, "steps = -2 is out of range"),
    (["--octave-scale", "1"], 2, "octave_scale = 1.0 is out of range"),
    (["--tile-size", "8"], 2, "tile_size 8 is below efficientnet-lite0's minimum input size of 32"),
    (["--octave-range", "3:1"], 2, "octave_range 3:1 is empty"),
    (["--objective", "l1"], 2, "objective 'l1' is not one of l2, mean"),
    (["--device", "tpu"], 2, "device 'tpu' is not one of"),
])
def test_bad_parameters_exit_with_one_line(small_photo, tmp_path, args, code, message):
    out = tmp_path / "o.png"
    result = invoke("dream", small_photo, "-o", out, "-q", *args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_bad_inputs_and_outputs(small_photo, tmp_path):
    text = tmp_path / "text.jpg"
    text.write_text("hello")
    result = invoke("dream", text, "-o", tmp_path / "o.png", "-q")
    assert result.exit_code == 3 and "is not an image format" in result.output

    before = small_photo.read_bytes()
    result = invoke("dream", small_photo, "-o", small_photo, "-q")
    assert result.exit_code == 6 and "is the input file" in result.output
    assert small_photo.read_bytes() == before

    result = invoke("dream", small_photo, "-o", tmp_path / "no" / "dir" / "o.png", "-q")
    assert result.exit_code == 6 and "does not exist" in result.output

    result = invoke("dream", small_photo, "-o", "/sys/o.png", "-q")
    assert result.exit_code == 6 and "not writable" in result.output


def test_debug_shows_traceback(small_photo, tmp_path):
    result = invoke("dream", small_photo, "-o", tmp_path / "o.png", "--model", "x", "--debug")
    assert result.exit_code == 4
    assert "Traceback" in result.output


def test_info_on_a_plain_image_fails_clearly(small_photo):
    result = invoke("info", small_photo)
    assert result.exit_code == 3 and "holds no inceptionism parameters" in result.output


def test_steering_flags_reach_the_config(small_photo, tmp_path):
    guide = tmp_path / "guide.png"
    Image.open(small_photo).rotate(180).save(guide)
    mask = tmp_path / "mask.png"
    Image.new("L", (96, 64), 255).save(mask)
    out = tmp_path / "s.png"
    result = invoke("dream", small_photo, "-o", out, *FAST, "--guide", guide, "--guide", guide,
                    "--avoid-class", "dog", "--class", "banana", "--mask", mask)
    assert result.exit_code == 0, result.output
    cfg = read_metadata(out)["config"]
    assert cfg["guide"] == [str(guide)] * 2 and cfg["avoid_class"] == "dog" and cfg["target_class"] == "banana"
    assert cfg["mask"] == str(mask)


def test_unknown_class_exits_2_with_suggestion(small_photo, tmp_path):
    result = invoke("dream", small_photo, "-o", tmp_path / "o.png", "--class", "goldfich", "-q")
    assert result.exit_code == 2 and "unknown class 'goldfich'; did you mean goldfinch, goldfish" in result.output


def test_visualize_several_channels_and_classes_with_fft(tmp_path):
    result = invoke("visualize", "blocks.3.1.bn1", "1,4", "-o", tmp_path / "v.png", "--param", "fft",
                    "--size", "48", "--steps", "3", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "v-1.png").is_file() and (tmp_path / "v-4.png").is_file()
    assert read_metadata(tmp_path / "v-4.png")["visualize"]["target"] == 4
    result = invoke("visualize", "class", "banana", "-o", tmp_path / "b.png", "--param", "fft",
                    "--size", "48", "--steps", "3", "-q")
    assert result.exit_code == 0, result.output
    assert read_metadata(tmp_path / "b.png")["visualize"]["target"] == 954


def test_visualize_rejects_lapnorm_with_fft_and_bad_channels(tmp_path):
    result = invoke("visualize", "blocks.3.1.bn1", "1", "-o", tmp_path / "v.png", "--param", "fft", "--lapnorm")
    assert result.exit_code == 2 and "lapnorm works with param pixel only" in result.output
    result = invoke("visualize", "blocks.3.1.bn1", "1,999", "-o", tmp_path / "v.png", "-q")
    assert result.exit_code == 4 and "channel 999 is out of range for layer 'blocks.3.1.bn1'" in result.output


def test_gallery_command_then_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "home"))
    args = ["gallery", "blocks.0.0.bn2", "--size", "32", "--steps", "2", "-q"]
    first = invoke(*args, "-o", tmp_path / "g1")
    assert first.exit_code == 0 and "16 rendered" in first.output, first.output
    second = invoke(*args, "-o", tmp_path / "g2")
    assert second.exit_code == 0 and "16 channels from cache" in second.output


def test_classes_search():
    result = invoke("classes", "goldfish")
    assert result.exit_code == 0 and "1\tgoldfish, Carassius auratus" in result.stdout.splitlines()


def test_zoom_command_writes_an_animation(small_photo, tmp_path):
    out = tmp_path / "z.gif"
    result = invoke("zoom", small_photo, "-o", out, "--frames", "4", "--interpolate", "1", "--steps", "1", "-q")
    assert result.exit_code == 0, result.output
    with Image.open(out) as gif:
        assert gif.n_frames == 4 and gif.info["duration"] in (80, 90)  # 12 fps; GIF stores 10 ms steps


def test_zoom_honours_weights(small_photo, tmp_path):
    # timm/resnet18 has no weights on this machine: only --weights random lets it run.
    args = ["zoom", small_photo, "-o", tmp_path / "z.gif", "--frames", "1", "--octaves", "1", "--steps", "1", "-q",
            "--model", "timm/resnet18"]  # fmt: skip
    assert invoke(*args).exit_code == 5
    result = invoke(*args, "--weights", "random")
    assert result.exit_code == 0, result.output


def test_video_and_batch_commands(small_photo, tmp_path):
    from inceptionism.motion.videoio import probe, write_video

    frames = [(Image.open(small_photo).convert("RGB"))] * 3
    import numpy as np

    clip = write_video(tmp_path / "clip.mp4", (np.asarray(f) for f in frames), 6.0)
    result = invoke("video", clip, "-o", tmp_path / "d.mp4", "--octaves", "1", "--steps", "1", "--coherence", "off", "-q")
    assert result.exit_code == 0 and "3 frames (3 dreamed now)" in result.output, result.output
    assert probe(tmp_path / "d.mp4").fps == 6.0
    assert invoke("video", clip, "-o", clip, "-q").exit_code == 6
    assert invoke("video", clip, "-o", tmp_path / "d.avi", "-q").exit_code == 6
    assert invoke("video", small_photo, "-o", tmp_path / "e.mp4", "-q").exit_code == 3
    assert invoke("video", clip, "-o", tmp_path / "f.mp4", "--coherence", "maybe", "-q").exit_code == 2

    folder = tmp_path / "in"
    folder.mkdir()
    Image.open(small_photo).save(folder / "a.png")
    (folder / "b.jpg").write_text("not a picture")
    result = invoke("batch", folder, "-o", tmp_path / "out", "--octaves", "1", "--steps", "1", "-q")
    assert result.exit_code == 3 and "done 1, skipped 0 (already there), failed 1" in result.output
    assert "b.jpg" in result.output


def test_progress_shows_the_newest_finished_gpu_score_without_waiting(monkeypatch) -> None:
    # On CUDA, reading a score at once would stall every step until the GPU caught up;
    # the bar shows the newest score whose event has passed instead. Fakes stand in for
    # the GPU here: an event passes once the test says so, and a score read early fails.
    import types

    import torch

    from inceptionism.cli.common import ScoreReader as _ScoreReader

    passed: set[int] = set()

    class Event:
        count = 0

        def __init__(self) -> None:
            self.id, Event.count = Event.count, Event.count + 1

        def record(self) -> None:
            pass

        def query(self) -> bool:
            return self.id in passed

    class Score:
        device = types.SimpleNamespace(type="cuda")

        def __init__(self, index: int, value: float) -> None:
            self.index, self.value = index, value

        def __float__(self) -> float:
            assert self.index in passed, "read before its step was done: the host would wait"
            return self.value

    monkeypatch.setattr(torch.cuda, "Event", Event)
    read = _ScoreReader()
    assert read(Score(0, 1.0)) == "-"  # nothing finished yet: no wait, no number
    assert read(Score(1, 2.0)) == "-"
    passed.update({0, 1})
    assert read(Score(2, 3.0)) == "2.000"  # the newest finished one
    assert read(Score(3, 4.0)) == "2.000"
    assert _ScoreReader()(torch.tensor(5.0)) == "5.000"  # on a CPU, the score of this step


def test_save_input_writes_the_picture_as_dreamed_on(tmp_path, examples):
    out = tmp_path / "d.png"
    result = invoke("dream", examples / "chelsea.jpg", "-o", out, "--max-size", "90", "--steps", "1", "--octaves", "1",
                    "--save-input", "-q")
    assert result.exit_code == 0, result.output
    prepared = Image.open(tmp_path / "d.input.png")
    assert prepared.size == Image.open(out).size == (90, 60)
    shrunk = np.asarray(Image.open(examples / "chelsea.jpg").convert("RGB").resize((90, 60), Image.Resampling.BILINEAR), np.float32)
    assert np.abs(np.asarray(prepared.convert("RGB"), np.float32) - shrunk).mean() < 6  # the photo, shrunk, not the dream
    noise = invoke("dream", "noise", "-o", tmp_path / "n.png", "--size", "48x40", "--steps", "1", "--octaves", "1",
                   "--save-input", "--seed", "4", "-q")
    assert noise.exit_code == 0 and Image.open(tmp_path / "n.input.png").size == (48, 40)
    assert np.asarray(Image.open(tmp_path / "n.input.png"), np.float32).std() < 8  # grey with a little noise


def test_classify_prints_the_top_classes_before_and_after(tmp_path, examples):
    # A dream that reaches its class with a margin (p 0.99-1.0 for seeds 1-3, in fp32 and bf16 alike): one that
    # barely reaches it (6 steps x 2 octaves: p 0.09-0.38) lets a CPU's rounding pick the winner.
    result = invoke("dream", examples / "coffee.jpg", "-o", tmp_path / "g.png", "--class", "goldfinch", "--max-size", "256",
                    "--steps", "10", "--octaves", "3", "--seed", "1", "--classify", "-q")
    assert result.exit_code == 0, result.output
    lines = {line.split(":")[0]: line for line in result.output.splitlines() if line.startswith("top-5")}
    assert lines["top-5 input"].split(": ", 1)[1].startswith("espresso")
    assert lines["top-5 dream"].split(": ", 1)[1].startswith("goldfinch")


def test_layers_by_number_and_range_are_recorded_by_name(small_photo, tmp_path):
    out = tmp_path / "n.png"
    result = invoke("dream", small_photo, "-o", out, "--layers", "61,63-64:3*0.5", *FAST)
    assert result.exit_code == 0, result.output
    recorded = read_metadata(out)["config"]["layers"]
    assert recorded == "blocks.4.0.bn1,blocks.4.0.bn2:3*0.5,blocks.4.0.conv_pwl:3*0.5"
    past = invoke("dream", small_photo, "-o", tmp_path / "p.png", "--layers", "5-9999", *FAST)
    assert past.exit_code == 4 and "not within 0 to" in past.output and len(past.output.splitlines()) == 1


def test_layers_question_mark_asks_in_a_terminal_only(small_photo, tmp_path, monkeypatch):
    no_terminal = invoke("dream", small_photo, "-o", tmp_path / "a.png", "--layers", "?", *FAST)
    assert no_terminal.exit_code == 2 and "interactive terminal" in no_terminal.output
    monkeypatch.setattr("inceptionism.cli.flags.interactive", lambda: True)
    asked = runner.invoke(app, ["dream", str(small_photo), "-o", str(tmp_path / "b.png"), "--layers", "?", *FAST],
                          input="61\n")
    assert asked.exit_code == 0, asked.output
    assert "61  blocks.4.0.bn1" in asked.output
    assert read_metadata(tmp_path / "b.png")["config"]["layers"] == "blocks.4.0.bn1"


def test_plot_writes_a_figure_and_one_row_per_step(small_photo, tmp_path):
    figure = tmp_path / "plot.png"
    result = invoke("dream", small_photo, "-o", tmp_path / "d.png", "--octaves", "3", "--steps", "4:2", "--plot", figure,
                    "--seed", "1", "-q")
    assert result.exit_code == 0, result.output
    rows = json.loads(figure.with_suffix(".json").read_text())["steps"]
    assert [r["octave"] for r in rows] == [1] * 4 + [2] * 3 + [3] * 2  # one row per step; the schedule's steps
    assert all(r["mean_abs"] > 0 and r["max"] >= r["mean_abs"] for r in rows)
    with Image.open(figure) as im:
        assert im.format == "PNG" and im.size[0] >= 600


def test_snapshots_every_n_steps_and_the_evolution_as_one_gif(small_photo, tmp_path):
    out, gif = tmp_path / "d.png", tmp_path / "evolution.gif"
    result = invoke("dream", small_photo, "-o", out, "--octaves", "2", "--steps", "6", "--save-every", "4",
                    "--progress-gif", gif, "--seed", "1", "-q")
    assert result.exit_code == 0, result.output
    steps = sorted(p.name for p in tmp_path.glob("d.step-*.png"))
    assert steps == ["d.step-0004.png", "d.step-0008.png", "d.step-0012.png"]  # 12 steps, every 4th
    with Image.open(gif) as im:
        assert im.n_frames == len(steps)  # one frame per snapshot
    last = np.asarray(Image.open(tmp_path / "d.step-0012.png"), np.float32)
    first = np.asarray(Image.open(tmp_path / "d.step-0004.png"), np.float32)
    assert np.abs(last - np.asarray(Image.open(out), np.float32)).mean() < np.abs(first - last).mean()  # it evolves


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--layers", "0-100000"], "layer range '0-100000' is not within 0 to"),
        (["--octave-blend", "2"], "octave_blend = 2.0 is out of range; it must be at least 0.0 and at most 1.0"),
        (["--channels", "strong:0"], "channels 'strong:0' is not MODE:K"),
        (["--step-size", "0.01:-0.1"], "step_size = -0.1 is out of range"),
        (["--octave-mode", "sideways"], "octave_mode 'sideways' is not one of detail, recursive"),
        (["--tv-weight", "-1"], "tv_weight = -1.0 is out of range"),
        (["--save-every", "0"], "save_every = 0 is out of range"),
    ],
)
def test_bad_option_values_are_one_line_errors(small_photo, tmp_path, flags, words):
    result = invoke("dream", small_photo, "-o", tmp_path / "o.png", *flags, "-q")
    assert result.exit_code in (2, 4) and words in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_config_from_an_output_uses_its_recorded_thread_count(small_photo, tmp_path, monkeypatch):
    """The dream runs with the recorded count, whatever this process's own. (Whether the count
    changes the bits depends on the CPU, so that is not what is asserted: the count in force is.)"""
    import torch

    import inceptionism.api

    dreamed_with = []
    real = inceptionism.api.run_dream

    def counting(*args, **kwargs):
        dreamed_with.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(inceptionism.api, "run_dream", counting)
    one, again, two = tmp_path / "one.png", tmp_path / "again.png", tmp_path / "two.png"
    args = ("--octaves", "2", "--steps", "4", "--seed", "3", "-q")
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # this process's default differs from the count recorded below
    try:
        assert invoke("dream", small_photo, "-o", one, "--threads", "1", *args).exit_code == 0
        assert read_metadata(one)["config"]["threads"] == 1 and torch.get_num_threads() == 2  # restored after
        assert invoke("dream", small_photo, "-o", again, "--config", one, "-q").exit_code == 0
        assert invoke("dream", small_photo, "-o", two, *args).exit_code == 0
    finally:
        torch.set_num_threads(before)
    assert dreamed_with == [1, 1, 2]  # the recorded count was in force for the dream read back from the output
    pixels = {p: np.asarray(Image.open(p)) for p in (one, again)}
    assert np.array_equal(pixels[one], pixels[again])  # byte for byte, with the recorded count
    assert read_metadata(two)["config"]["threads"] == 2


def test_channels_without_a_whole_layer_and_reversed_ranges_are_refused(small_photo, tmp_path):
    reversed_range = invoke("dream", small_photo, "-o", tmp_path / "o.png", "--layers", "64-61", "-q")
    assert reversed_range.exit_code == 4 and "write the lower number first, e.g. 61-64" in reversed_range.output
    no_layer = invoke("dream", small_photo, "-o", tmp_path / "o.png", "--channels", "strong:2", "--layers", "class:1", "-q")
    assert no_layer.exit_code == 2 and "channels strong:2 picks channels of whole layers" in no_layer.output


@pytest.mark.parametrize("code, rc, err", [(None, 0, ""), (3, 3, ""), ("error: a message", 1, "error: a message")])
def test_the_command_leaves_at_once_with_its_code_and_flushed_output(code, rc, err):
    """With torch loaded the command skips the interpreter's teardown (about 1.4 s): the
    exit code, printed output and a SystemExit message must survive that."""
    script = f"import torch, sys; from inceptionism.cli import _leave; print('done', end=''); _leave({code!r}); print('not left')"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr.strip()) == (rc, "done", err)


@pytest.mark.parametrize("connected, printed", [(True, "kept"), (False, "")])
def test_the_command_keeps_the_normal_exit_while_ray_is_connected(connected, printed):
    script = ("import torch, sys, types; ray = sys.modules['ray'] = types.ModuleType('ray'); "
              f"ray.is_initialized = lambda: {connected}; from inceptionism.cli import _leave; _leave(0); print('kept')")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == printed
