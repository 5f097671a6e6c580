"""A typo never destroys an input: every output a command writes (the named one and every name
it derives from it) is checked against every file it reads, and against device nodes, FIFOs
and names the file system refuses, before any work; outputs are written whole or not at all."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import inceptionism.featurevis
import inceptionism.unit_pictures
from inceptionism.api import resolve_config
from inceptionism.motion import dream_folder

from .support import FAST_FLAGS, invoke, nodes, one_line, still_nodes

LAYER = "blocks.4.1.bn1"
QUICK = ["--size", "32", "--steps", "1", "-q"]


@pytest.fixture()
def no_work(monkeypatch):
    """Any picture grown or photo scanned fails the test: refusals come before the work."""
    def refused(*args, **kwargs):
        raise AssertionError("the work began before the outputs were checked")

    monkeypatch.setattr(inceptionism.unit_pictures, "visualize_targets", refused)
    monkeypatch.setattr(inceptionism.featurevis, "scan_photos", refused)


def _victim(small_photo: Path, path: Path) -> bytes:
    path.write_bytes(small_photo.read_bytes())
    return path.read_bytes()


# --- visualize ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("output", "photo", "flags"), [
    ("x.png", "x.png", []),  # -o the photo itself
    ("o.png", "o-8.png", ["7,8"]),  # the photo behind the -N name of target 8
    ("g.png", "g-importance.png", ["--importance"]),  # the photo behind the importance map's name
    ("d.png", "d-7-1.png", ["--diversity", "2"]),  # the photo behind a -TARGET-K name
])  # fmt: skip
def test_visualize_never_writes_over_its_photo_through_any_name_it_derives(small_photo, tmp_path, no_work, output,
                                                                          photo, flags):
    before = _victim(small_photo, tmp_path / photo)
    targets = next((f for f in flags if "," in f), "7")
    flags = [f for f in flags if f != targets]
    result = invoke("visualize", LAYER, targets, "-o", tmp_path / output, "--param", "fft", "--photo",
                    tmp_path / photo, *flags, *QUICK)
    one_line(result, 6, "is the input file; choose another name")
    assert (tmp_path / photo).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([photo, "small.png"])  # nothing else was written


def test_visualize_checks_every_derived_name_before_any_picture_grows(tmp_path, no_work):
    fifo, *_ = nodes(tmp_path, "7.png")  # a FIFO where the -N name of target 7 falls
    result = invoke("visualize", LAYER, "7,8", "-o", tmp_path / "fifo.png", *QUICK)
    one_line(result, 6, "is not a regular file")
    fifo2, *_ = nodes(tmp_path, "importance.png")
    result = invoke("visualize", LAYER, "7", "-o", tmp_path / "fifo.png", "--param", "fft", "--importance", *QUICK)
    one_line(result, 6, "is not a regular file")
    assert still_nodes([fifo, fifo2]) and not (tmp_path / "fifo.png").exists()  # not half a result
    long = tmp_path / ("a" * 244 + ".png")  # fits; its importance map's name (+11 bytes) does not
    result = invoke("visualize", LAYER, "7", "-o", long, "--param", "fft", "--importance", *QUICK)
    one_line(result, 6, "bytes long; this file system allows at most")


# --- examples and the gallery's examples ---------------------------------------------------------


@pytest.fixture()
def photos(small_photo: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    for name in ("a.png", "more/b.png"):
        (folder / name).write_bytes(small_photo.read_bytes())
    return folder


@pytest.mark.parametrize(("channels", "output"), [("7", "a.png"), ("7", "more/new.png"), ("7,8", "new.png")])
def test_examples_never_writes_into_the_photo_folder_it_scans(photos, tmp_path, no_work, channels, output):
    before = {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()}
    result = invoke("examples", LAYER, channels, photos, "-o", photos / output, "-q")
    one_line(result, 6, "is inside the photo folder")
    assert {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()} == before  # no sheet, no photo lost


def test_examples_checks_its_per_channel_names_before_scanning(photos, tmp_path, no_work):
    fifo, *_ = nodes(tmp_path, "8.png")  # the sheet of channel 8
    one_line(invoke("examples", LAYER, "7,8", photos, "-o", tmp_path / "fifo.png", "-q"), 6, "is not a regular file")
    assert still_nodes([fifo]) and not (tmp_path / "fifo-7.png").exists()


def test_a_gallery_with_examples_is_not_written_into_its_photo_folder(photos, no_work):
    result = invoke("gallery", "blocks.0.0.bn1", "-o", photos / "gallery", "--examples", photos, "--steps", "1", "-q")
    one_line(result, 6, "is inside the photo folder")
    assert not (photos / "gallery").exists()


@pytest.mark.parametrize("flag", ["--save-config", "--guide", "--mask", "--config"])
def test_no_output_may_be_an_input(small_photo, tmp_path, flag):
    victim = tmp_path / ("victim.json" if flag == "--config" else "victim.png")
    if flag == "--config":
        victim.write_text(json.dumps({"steps": 1}))
    else:
        Image.open(small_photo).convert("L").save(victim)
    before = victim.read_bytes()
    if flag == "--save-config":  # dream in.png -o out.png --save-config in.png
        args = ("dream", victim, "-o", tmp_path / "out.png", "--save-config", victim)
    elif flag == "--config":
        args = ("dream", small_photo, "-o", tmp_path / "out.png", "--config", victim, "--save-config", victim)
    else:  # dream in.png --guide g.png -o g.png
        args = ("dream", small_photo, "-o", victim, flag, victim)
    result = invoke(*args, "-q", "--steps", "1")
    assert result.exit_code == 6 and "choose another name" in result.output, result.output
    assert victim.read_bytes() == before
    link = tmp_path / "link.png"  # through a symbolic link, too
    link.symlink_to(small_photo)
    result = invoke("dream", small_photo, "-o", tmp_path / "o2.png", "--save-config", link, "-q")
    assert result.exit_code == 6


@pytest.mark.parametrize(
    ("flags", "clash", "words"),
    [
        (["--save-config", "o.png"], "o.png", "is named for two outputs of this command; give each its own name"),
        (["--save-config", "c.json", "--plot", "c.png"], "c.json", "(--plot writes its figures beside the plot, as .json)"),
        (["--progress-gif", "p.gif", "--plot", "o.png"], "o.png", "is named for two outputs of this command"),
    ],
)
def test_one_file_named_for_two_outputs_is_refused_before_any_work(small_photo, tmp_path, flags, clash, words):
    # --save-config o.png was called "the input file"; --plot's .json beside a --save-config of
    # the same name went unnoticed, and one output overwrote the other.
    args = [str(tmp_path / a) if a.endswith((".png", ".json", ".gif")) else a for a in flags]
    result = invoke("dream", small_photo, "-o", tmp_path / "o.png", *args, "-q")
    assert result.exit_code == 6, result.output
    assert result.output.strip().startswith(f"error: output {str(tmp_path / clash)!r} ") and words in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.png"]  # nothing was written


@pytest.mark.parametrize(("name", "command"), [
    ("out.png", ["dream", "{photo}", "-o", "{node}", *FAST_FLAGS]),
    ("cfg.json", ["dream", "{photo}", "-o", "{tmp}/d.png", "--save-config", "{node}", *FAST_FLAGS]),
    ("plot.png", ["dream", "{photo}", "-o", "{tmp}/d.png", "--plot", "{node}", *FAST_FLAGS]),
    ("grow.gif", ["dream", "{photo}", "-o", "{tmp}/d.png", "--progress-gif", "{node}", *FAST_FLAGS]),
    ("zoom.gif", ["zoom", "{photo}", "-o", "{node}", "--frames", "2", *FAST_FLAGS]),
    ("video.mp4", ["video", "{clip}", "-o", "{node}", *FAST_FLAGS]),
    ("vis.png", ["visualize", "blocks.3.0.bn1", "2", "-o", "{node}", "--size", "64", "--steps", "1", "--octaves", "1"]),
    ("maps.png", ["activations", "{photo}", "--layer", "blocks.3.0.bn1", "-o", "{node}"]),
    ("net.safetensors", ["train", "{tmp}", "-o", "{node}", "--epochs", "1"]),
])  # fmt: skip
def test_no_output_replaces_a_device_or_a_fifo(small_photo, clip, tmp_path, name, command):
    for node in nodes(tmp_path, name):
        args = [a.format(photo=small_photo, clip=clip, tmp=tmp_path, node=node) for a in command]
        one_line(invoke(*args), 6, "is not a regular file")
        assert still_nodes([node])


@pytest.mark.parametrize("command", [["batch", "{tmp}/in", "-o", "{node}"], ["gallery", "blocks.3.0.bn1", "-o", "{node}"]])
def test_no_output_folder_is_a_device_or_a_fifo(small_photo, tmp_path, command):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(small_photo.read_bytes())
    for node in nodes(tmp_path, "out"):
        args = [a.format(tmp=tmp_path, node=node) for a in command]
        one_line(invoke(*args, *(FAST_FLAGS if command[0] == "batch" else [])), 6, "is not a folder")
        assert still_nodes([node])


def test_the_library_refuses_too(tmp_path):
    from inceptionism.errors import OutputError
    from inceptionism.outputs import write_atomic

    (fifo,) = nodes(tmp_path, "x.json")[:1]
    with pytest.raises(OutputError, match="is not a regular file"):
        write_atomic(fifo, lambda fh: fh.write(b"{}"))
    assert still_nodes([fifo]) and {p.name for p in tmp_path.iterdir()} <= {"fifo-x.json", "dev-x.json"}


def test_names_too_long_for_the_file_system_are_refused_before_any_work(tmp_path, small_photo):
    one_line(invoke("dream", small_photo, "-o", tmp_path / ("x" * 300 + ".png"), *FAST_FLAGS), 6, "bytes long")
    legal = tmp_path / ("y" * 250 + ".png")  # legal, though its old temporary name was not
    assert invoke("dream", small_photo, "-o", legal, *FAST_FLAGS).exit_code == 0 and legal.is_file()


def test_outputs_keep_the_replaced_files_mode_and_follow_the_umask(tmp_path, small_photo):
    private = tmp_path / "private.png"
    private.write_bytes(b"old")
    private.chmod(0o600)
    assert invoke("dream", small_photo, "-o", private, *FAST_FLAGS).exit_code == 0
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    old = os.umask(0o077)
    try:
        fresh = tmp_path / "fresh.png"
        assert invoke("dream", small_photo, "-o", fresh, *FAST_FLAGS).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_batch_inputs_that_share_a_name_get_their_own_outputs(model, examples, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    cat = Image.open(examples / "chelsea.jpg").resize((64, 48))
    cat.save(source / "a.png")
    cat.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(source / "a.bmp")
    cfg = resolve_config(None, preset="classic", octaves=1, steps=1, max_size=64)
    summary = dream_folder(source, tmp_path / "out", cfg, model=model)
    assert sorted(p.name for p in summary.done) == ["a.bmp", "a.png"] and not summary.skipped
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.bmp.png", "a.png"]
    from_bmp = np.asarray(Image.open(tmp_path / "out" / "a.bmp.png"), np.float32)
    from_png = np.asarray(Image.open(tmp_path / "out" / "a.png"), np.float32)
    assert np.abs(from_bmp[:, ::-1] - from_png).mean() < np.abs(from_bmp - from_png).mean()  # each from its own input


def test_batch_into_the_folder_around_its_input_and_redoing_broken_outputs(tmp_path, small_photo, monkeypatch):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        (photos / name).write_bytes(small_photo.read_bytes())
    monkeypatch.chdir(tmp_path)
    result = invoke("batch", "photos", "-o", ".", *FAST_FLAGS)
    assert result.exit_code == 0 and "done 3, skipped 0" in result.output, result.output
    (tmp_path / "a.png").write_bytes(b"")  # empty
    (tmp_path / "b.png").write_bytes((tmp_path / "b.png").read_bytes()[:200])  # cut short
    again = invoke("batch", "photos", "-o", ".", *FAST_FLAGS)
    assert "done 2, skipped 1" in again.output, again.output
    for name in ("a.png", "b.png"):
        assert Image.open(tmp_path / name).size == (64, 43)


def test_an_interrupted_dream_writes_its_config_last_and_says_what_was_written(tmp_path, small_photo, monkeypatch):
    import inceptionism.cli.dream as door

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(door, "_dream_and_write", interrupted)
    result = invoke("dream", small_photo, "-o", tmp_path / "d.png", "--save-config", tmp_path / "c.json", *FAST_FLAGS)
    assert result.exit_code == 130 and "nothing was written" in result.output
    assert not (tmp_path / "c.json").exists()  # it used to be written first, for a dream that never came
    monkeypatch.undo()

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("inceptionism.plots.write_plot", stopped)
    result = invoke("dream", small_photo, "-o", tmp_path / "d.png", "--plot", tmp_path / "p.png", "--save-config",
                    tmp_path / "c.json", *FAST_FLAGS)
    assert result.exit_code == 130 and f"written: {tmp_path / 'd.png'}; the rest was not" in result.output
    assert (tmp_path / "d.png").is_file() and not (tmp_path / "c.json").exists()


def test_sigterm_ends_a_long_command_like_ctrl_c(tmp_path):
    out = tmp_path / "zoom.gif"
    command = [sys.executable, "-m", "inceptionism", "zoom", "noise", "-o", str(out), "--frames", "500",
               "--size", "64x64", "--steps", "1", "--octaves", "1", "-q"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".inceptionism-*.gif")):  # the temporary video exists: frames are being made
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no frames were being made: {process.communicate(timeout=60)[0]}")
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 130, output
    assert "interrupted" in output and "Traceback" not in output
    assert list(tmp_path.iterdir()) == []  # no temporary video, no half-written output
