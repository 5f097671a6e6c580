"""Hostile input and faults, round 3 (issue 27): each probe of the review as a test that
failed before its fix. Outputs onto device nodes and FIFOs, forged metadata, extreme
shapes and names, objectives that overflow, the Python door's odd pictures, and the
studio's lock, modes, costs and faults. Traffic goes only to in-process apps or 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from typer.testing import CliRunner

import inceptionism
from inceptionism.cli import app
from inceptionism.errors import ConfigError, ImageError
from inceptionism.images import read_metadata
from inceptionism.motion.videoio import write_video

FAST = ["--octaves", "1", "--steps", "1", "--max-size", "64", "-q"]


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line(result, code: int, words: str) -> None:
    assert result.exit_code == code, result.output
    assert words in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output


# --- 1. an output onto a device node or a FIFO -------------------------------------------------


def nodes(folder: Path, name: str) -> list[Path]:
    """A FIFO named ``fifo-NAME``, and where this runs as root (containers, CI) a character
    device like /dev/null named ``dev-NAME``."""
    made = [folder / f"fifo-{name}"]
    os.mkfifo(made[0])
    if os.geteuid() == 0:
        made.append(folder / f"dev-{name}")
        os.mknod(made[1], 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return made


def still_nodes(paths: list[Path]) -> bool:
    return all(stat.S_ISFIFO(p.lstat().st_mode) or stat.S_ISCHR(p.lstat().st_mode) for p in paths)


@pytest.fixture()
def clip(tmp_path, examples) -> Path:
    cat = np.asarray(Image.open(examples / "chelsea.jpg").convert("RGB").resize((96, 64)))
    return write_video(tmp_path / "clip.mp4", [np.ascontiguousarray(np.roll(cat, 3 * t, axis=1)) for t in range(3)], 12)


@pytest.mark.parametrize(("name", "command"), [
    ("out.png", ["dream", "{photo}", "-o", "{node}", *FAST]),
    ("cfg.json", ["dream", "{photo}", "-o", "{tmp}/d.png", "--save-config", "{node}", *FAST]),
    ("plot.png", ["dream", "{photo}", "-o", "{tmp}/d.png", "--plot", "{node}", *FAST]),
    ("grow.gif", ["dream", "{photo}", "-o", "{tmp}/d.png", "--progress-gif", "{node}", *FAST]),
    ("zoom.gif", ["zoom", "{photo}", "-o", "{node}", "--frames", "2", *FAST]),
    ("video.mp4", ["video", "{clip}", "-o", "{node}", *FAST]),
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
        one_line(invoke(*args, *(FAST if command[0] == "batch" else [])), 6, "is not a folder")
        assert still_nodes([node])


def test_the_library_refuses_too(tmp_path):
    from inceptionism.errors import OutputError
    from inceptionism.outputs import write_atomic

    (fifo,) = nodes(tmp_path, "x.json")[:1]
    with pytest.raises(OutputError, match="is not a regular file"):
        write_atomic(fifo, lambda fh: fh.write(b"{}"))
    assert still_nodes([fifo]) and {p.name for p in tmp_path.iterdir()} <= {"fifo-x.json", "dev-x.json"}


# --- 6, 7. objectives that overflow or run off the end ---------------------------------------


@pytest.mark.parametrize(("layers", "words"), [
    ("blocks.4.1.bn1*nan", "must be a finite number"),
    ("blocks.4.1.bn1*inf", "must be a finite number"),
    ("blocks.4.1.bn1*1e308", "must be a finite number from -1e+06 to 1e+06"),
    ("class:99999", "class 99999 is out of range: 0 to 999"),
    (",".join(["blocks.4.1.bn1"] * 400), "layers has 400 terms; at most 256"),
])  # fmt: skip
def test_objectives_that_overflow_are_refused_before_any_work(small_photo, tmp_path, layers, words):
    one_line(invoke("dream", small_photo, "-o", tmp_path / "d.png", "--layers", layers, *FAST), 2, words)
    assert not (tmp_path / "d.png").exists()


def test_many_chosen_channels_are_refused_and_many_terms_need_no_deep_recursion(model, small_photo, tmp_path):
    one_line(invoke("dream", small_photo, "-o", tmp_path / "d.png", "--layers", "blocks.5.1.bn1", "--channels",
                    "strong:400", *FAST), 2, "would give the objective 400 terms; at most 256")
    from inceptionism.objectives import parse

    sys.setrecursionlimit(150)  # 256 terms summed as a + b + c ... nested a call per term
    try:
        objective = parse(",".join(f"blocks.5.1.bn1:{c}" for c in range(256)))
        import torch

        value = objective({"blocks.5.1.bn1": torch.ones(1, 256, 4, 4)})
    finally:
        sys.setrecursionlimit(1000)
    assert value.shape == (1,) and float(value[0]) == pytest.approx(256.0)


def test_the_studio_refuses_them_with_422(tmp_path, small_photo):
    from .test_hostile import make_client, post

    with make_client(tmp_path / "data") as client:
        for params in ({"layers": "blocks.4.1.bn1*nan"}, {"layers": "class:99999"},
                       {"layers": "blocks.5.1.bn1", "channels": "strong:400"}):
            response = post(client, params, small_photo.read_bytes())
            assert response.status_code == 422, response.text


# --- 8. forged metadata; 12. a FIFO as --config ------------------------------------------------


def png_with_text(path: Path, text: bytes, *, key: bytes = b"inceptionism") -> Path:
    """A 4x4 PNG with an iTXt chunk holding ``text`` as it is (no checks on what it is)."""
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PNG")
    data = buffer.getvalue()
    body = key + b"\0\0\0\0\0" + text
    chunk = len(body).to_bytes(4, "big") + b"iTXt" + body + zlib.crc32(b"iTXt" + body).to_bytes(4, "big")
    at = data.index(b"IDAT") - 4
    path.write_bytes(data[:at] + chunk + data[at:])
    return path


@pytest.mark.parametrize(("text", "words", "config_words"), [
    (b'{"config": {"steps": ' + b"9" * 60_000 + b"}}", "are damaged", "are damaged"),
    (b'{"config": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "are damaged", "are damaged"),
    # Pillow drops an iTXt chunk that is not UTF-8: no parameters, as far as anyone can read
    (b'{"config": {"steps": "\xff\xfe"}}', "holds no inceptionism parameters", "neither a JSON config nor an image"),
])  # fmt: skip
def test_forged_metadata_is_one_line_for_info_and_config(tmp_path, small_photo, text, words, config_words):
    forged = png_with_text(tmp_path / "forged.png", text)
    one_line(invoke("info", forged), 3, words)
    one_line(invoke("dream", small_photo, "-o", tmp_path / "d.png", "--config", forged, *FAST), 2, config_words)


def test_a_header_claiming_a_huge_picture_is_one_line_and_no_pixel_is_decoded(tmp_path, monkeypatch):
    small = tmp_path / "claims.png"
    meta = PngImagePlugin.PngInfo()
    meta.add_text("inceptionism", json.dumps({"config": {"steps": 3}}))
    Image.new("RGB", (8, 8)).save(small, pnginfo=meta)
    data = bytearray(small.read_bytes())
    data[16:24] = (20000).to_bytes(4, "big") + (20000).to_bytes(4, "big")  # IHDR: 400 MP, over Pillow's bomb limit
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    small.write_bytes(bytes(data))
    one_line(invoke("info", small), 3, "claims too many pixels")
    good = tmp_path / "good.png"
    Image.new("RGB", (8, 8)).save(good, pnginfo=meta)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self) or None)
    assert read_metadata(good) == {"config": {"steps": 3}} and not decoded  # the text, never the pixels


def test_a_fifo_as_config_is_refused_at_once(tmp_path, small_photo):
    fifo = tmp_path / "cfg.json"
    os.mkfifo(fifo)
    started = time.monotonic()
    one_line(invoke("dream", small_photo, "-o", tmp_path / "d.png", "--config", fifo, *FAST), 2, "is not a regular file")
    assert time.monotonic() - started < 30  # it used to wait for a writer for ever


def test_a_config_file_over_a_megabyte_is_refused(tmp_path, small_photo):
    big = tmp_path / "big.json"
    big.write_text('{"steps": 2, "x": "' + "a" * 1_100_000 + '"}')
    one_line(invoke("dream", small_photo, "-o", tmp_path / "d.png", "--config", big, *FAST), 2, "over 1,000,000 bytes")


# --- 9. classify a 1x100000 strip; 10. names too long ----------------------------------------


def test_classify_a_long_thin_strip_costs_nothing(model, tmp_path):
    strip = tmp_path / "strip.png"
    Image.new("RGB", (100_000, 1), (200, 150, 50)).save(strip)
    assert strip.stat().st_size < 1000
    top = inceptionism.top_classes(model, strip)  # scaled short side first asked for 78 GB
    assert len(top) == 5 and all(0 <= p <= 1 for _, _, p in top)
    assert invoke("classify", strip).exit_code == 0


def test_names_too_long_for_the_file_system_are_refused_before_any_work(tmp_path, small_photo):
    one_line(invoke("dream", small_photo, "-o", tmp_path / ("x" * 300 + ".png"), *FAST), 6, "bytes long")
    legal = tmp_path / ("y" * 250 + ".png")  # legal, though its old temporary name was not
    assert invoke("dream", small_photo, "-o", legal, *FAST).exit_code == 0 and legal.is_file()


# --- 11. file modes ----------------------------------------------------------------------------


def test_outputs_keep_the_replaced_files_mode_and_follow_the_umask(tmp_path, small_photo):
    private = tmp_path / "private.png"
    private.write_bytes(b"old")
    private.chmod(0o600)
    assert invoke("dream", small_photo, "-o", private, *FAST).exit_code == 0
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    old = os.umask(0o077)
    try:
        fresh = tmp_path / "fresh.png"
        assert invoke("dream", small_photo, "-o", fresh, *FAST).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_the_studios_data_is_private_to_its_user(tmp_path, small_photo):
    from .test_service import TINY, make_client, submit, wait

    data = tmp_path / "data"
    with make_client(data) as client:
        job = wait(client, submit(client, small_photo.read_bytes(), **TINY).json()["id"])
    assert job["status"] == "done"
    for path in (data, data / "jobs", data / "jobs" / job["id"]):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    assert stat.S_IMODE((data / "jobs.sqlite3").stat().st_mode) == 0o600


# --- 13. frame rates; 14. file names ffmpeg misreads ----------------------------------------


def test_frame_rates_outside_what_can_be_written_are_refused_before_any_work(tmp_path, small_photo):
    for fps in ("0.001", "1e-9"):
        one_line(invoke("zoom", small_photo, "-o", tmp_path / "z.gif", "--fps", fps, "--frames", "2", *FAST), 2,
                 "fps = ")
    assert not list(tmp_path.glob("*.gif"))


def test_a_video_file_with_a_colon_in_its_name_is_read(tmp_path, clip, monkeypatch):
    monkeypatch.chdir(tmp_path)  # as typed: a relative name, which ffmpeg took for protocol "take"
    (tmp_path / "take:1.mp4").write_bytes(clip.read_bytes())
    result = invoke("video", "take:1.mp4", "-o", "out:1.mp4", *FAST)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out:1.mp4").stat().st_size > 0


def test_a_video_named_like_an_option_is_read_after_a_double_dash(tmp_path, clip, monkeypatch):
    """Options go before ``--``: after it every word is a file name, as in any POSIX command."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-dash.mp4").write_bytes(clip.read_bytes())
    result = invoke("video", "-o", "out.mp4", *FAST, "--", "-dash.mp4")
    assert result.exit_code == 0, result.output


# --- 15. train: names and outputs --------------------------------------------------------------


def test_train_refuses_a_class_folder_whose_name_is_not_utf8(tmp_path, small_photo):
    data = tmp_path / "data"
    for name in (b"good", b"bad-\xff"):
        folder = data / os.fsdecode(name)
        folder.mkdir(parents=True)
        (folder / "a.png").write_bytes(small_photo.read_bytes())
    one_line(invoke("train", data, "-o", tmp_path / "net.safetensors", "--epochs", "1", "-q"), 2, "is not valid UTF-8")
    assert list(tmp_path.glob("net*")) == []


def test_train_refuses_an_output_that_is_a_folder_before_training(tmp_path):
    (tmp_path / "net.safetensors").mkdir()
    one_line(invoke("train", tmp_path, "-o", tmp_path / "net.safetensors"), 6, "is a directory")


# --- 16. batch: -o around the input folder, and resumes over broken outputs ------------------


def test_batch_into_the_folder_around_its_input_and_redoing_broken_outputs(tmp_path, small_photo, monkeypatch):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        (photos / name).write_bytes(small_photo.read_bytes())
    monkeypatch.chdir(tmp_path)
    result = invoke("batch", "photos", "-o", ".", *FAST)
    assert result.exit_code == 0 and "done 3, skipped 0" in result.output, result.output
    (tmp_path / "a.png").write_bytes(b"")  # empty
    (tmp_path / "b.png").write_bytes((tmp_path / "b.png").read_bytes()[:200])  # cut short
    again = invoke("batch", "photos", "-o", ".", *FAST)
    assert "done 2, skipped 1" in again.output, again.output
    for name in ("a.png", "b.png"):
        assert Image.open(tmp_path / name).size == (64, 43)


# --- 19. serve: taken ports and no workers -----------------------------------------------------


def test_serve_on_a_taken_port_is_one_line_exit_7_before_the_address_is_printed(tmp_path):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        done = subprocess.run([sys.executable, "-m", "inceptionism", "serve", "--port", str(taken.getsockname()[1]),
                               "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=120)
    finally:
        taken.close()
    assert done.returncode == 7, done.stderr
    assert "cannot listen on 127.0.0.1" in done.stderr and "studio on" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_serve_without_workers_or_a_cluster_is_refused(tmp_path):
    one_line(invoke("serve", "--workers", "0", "--data-dir", tmp_path / "d"), 2, "workers 0 would leave every dream")


# --- 4. one studio per data directory ----------------------------------------------------------


def test_a_second_studio_on_the_same_data_directory_is_refused_before_touching_the_store(tmp_path):
    from inceptionism.service.background import free_port

    data = tmp_path / "d"
    port = free_port()
    first = subprocess.Popen([sys.executable, "-m", "inceptionism", "serve", "--port", str(port), "--data-dir", str(data)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "studio on" in first.stderr.readline()
        store = data / "jobs.sqlite3"
        before = store.stat().st_mtime_ns
        second = subprocess.run([sys.executable, "-m", "inceptionism", "serve", "--port", str(free_port()),
                                 "--data-dir", str(data)], capture_output=True, text=True, timeout=120)
        assert second.returncode == 7 and "served by another studio" in second.stderr, second.stderr
        assert f"process {first.pid}" in second.stderr and store.stat().st_mtime_ns == before
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    again = subprocess.Popen([sys.executable, "-m", "inceptionism", "serve", "--port", str(port), "--data-dir", str(data)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "studio on" in again.stderr.readline()  # the lock went with the first one
    finally:
        again.send_signal(signal.SIGINT)
        again.communicate(timeout=60)


# --- 20. the Python door's odd pictures and numbers --------------------------------------------


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


# --- 21. one parameter under two names ---------------------------------------------------------


def test_class_and_target_class_together_are_refused(tmp_path, small_photo):
    from inceptionism.config import layered

    with pytest.raises(ConfigError, match="'target_class' and 'class' name the same parameter"):
        layered(explicit={"target_class": "goldfinch", "class": "tabby"})
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"class": "goldfinch", "target_class": "tabby"}))
    one_line(invoke("dream", small_photo, "-o", tmp_path / "d.png", "--config", cfg, *FAST), 2, "name the same parameter")
    from .test_hostile import make_client, post

    with make_client(tmp_path / "data") as client:
        response = post(client, {"class": "goldfinch", "target_class": "tabby"}, small_photo.read_bytes())
        assert response.status_code == 422, response.text


# --- 22. no empty frames folder; 23. what an interrupted dream wrote -------------------------


def test_a_video_refused_before_its_first_frame_leaves_no_folder(tmp_path, clip):
    result = invoke("video", clip, "-o", tmp_path / "v.mp4", "--start", "50", *FAST)  # no frames after 50 s
    assert result.exit_code == 2, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_an_interrupted_dream_writes_its_config_last_and_says_what_was_written(tmp_path, small_photo, monkeypatch):
    import inceptionism.cli.dream as door

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(door, "_dream_and_write", interrupted)
    result = invoke("dream", small_photo, "-o", tmp_path / "d.png", "--save-config", tmp_path / "c.json", *FAST)
    assert result.exit_code == 130 and "nothing was written" in result.output
    assert not (tmp_path / "c.json").exists()  # it used to be written first, for a dream that never came
    monkeypatch.undo()
    from inceptionism.plots import write_plot

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("inceptionism.plots.write_plot", stopped)
    result = invoke("dream", small_photo, "-o", tmp_path / "d.png", "--plot", tmp_path / "p.png", "--save-config",
                    tmp_path / "c.json", *FAST)
    assert result.exit_code == 130 and f"written: {tmp_path / 'd.png'}; the rest was not" in result.output
    assert (tmp_path / "d.png").is_file() and not (tmp_path / "c.json").exists()
    assert write_plot is not None


# --- 2. the cost of a request, and a cancel inside a step --------------------------------------


def test_the_studio_bounds_a_requests_real_cost(tmp_path):
    from .test_hostile import make_client, post

    with make_client(tmp_path / "data") as client:
        tiny_tiles = post(client, {"tile_size": 32, "size": [2048, 2048], "steps": 1, "octaves": 1}, noise="true")
        assert tiny_tiles.status_code == 422 and tiny_tiles.json()["field"] == "tile_size", tiny_tiles.text
        heavy = post(client, {"size": [2048, 2048], "steps": 200, "octaves": 12}, noise="true")
        assert heavy.status_code == 422 and "million pixel-steps" in heavy.json()["error"], heavy.text
        assert heavy.json()["field"] == "steps"
        fine = post(client, {"size": [2048, 2048], "steps": 60}, noise="true")  # the form's most, at the largest size
        assert fine.status_code == 202, fine.text


def test_the_cost_counts_each_tiles_fixed_price():
    from inceptionism.config import DreamConfig
    from inceptionism.doors.limits import work

    one_pass = DreamConfig(steps=1, octaves=1)
    assert work(one_pass.replace(tile_size=32), 2048, 2048) > 10 * work(one_pass.replace(tile_size=1024), 2048, 2048)
    assert work(one_pass.replace(steps=10), 512, 512) == pytest.approx(10 * work(one_pass, 512, 512))


def test_a_cancel_takes_effect_within_a_step_of_many_tiles(model, small_photo):
    from inceptionism.engine import Callbacks

    tiles = []

    def cancel_at_the_third_tile() -> None:
        tiles.append(1)
        if len(tiles) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        inceptionism.render(small_photo, model=model, steps=1, octaves=1, tile_size=32, seed=0,
                            callbacks=Callbacks(on_tile=cancel_at_the_third_tile))
    assert len(tiles) == 3  # a 96x64 picture in 32 px tiles is 6 tiles a step: it stopped inside the step


def test_a_studio_dream_cancelled_mid_step_stops_within_a_tile(tmp_path):
    from .test_service import make_client, submit, wait

    with make_client(tmp_path / "data") as client:
        # one step is 256 tiles of 128 px here: about 5 s on 2 Zen 4 cores; a tile, about 20 ms
        job = submit(client, None, size=[2048, 2048], tile_size=128, steps=2, octaves=1, seed=1).json()
        deadline = time.monotonic() + 60
        while client.get(f"/api/dreams/{job['id']}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.5)  # inside the first step
        asked = time.monotonic()
        assert client.delete(f"/api/dreams/{job['id']}").status_code == 202
        ended = wait(client, job["id"])
        took = time.monotonic() - asked
    print(f"cancelled {took:.2f} s after it was asked")
    assert ended["status"] == "cancelled" and not ended["progress"].get("step")  # no step finished
    assert took < 1.5, took


# --- 3. a full disk during a studio dream ------------------------------------------------------


def test_a_store_that_fails_mid_dream_does_not_leave_the_job_running(tmp_path, small_photo, monkeypatch):
    """The disk fills: progress and the end cannot be written. The dream goes on, its end is
    recorded once the store works again, its event stream ends, and no request gets a 5xx."""
    import sqlite3

    from inceptionism.service.store import JobStore

    from .test_service import TINY, make_client, submit, wait

    full = {"on": False}
    real_update, real_cancel = JobStore.update, JobStore.request_cancel

    def update(self, job_id, **values):
        if full["on"]:
            raise sqlite3.OperationalError("database or disk is full")
        return real_update(self, job_id, **values)

    def request_cancel(self, job_id):
        if full["on"]:
            raise sqlite3.OperationalError("database or disk is full")
        return real_cancel(self, job_id)

    monkeypatch.setattr(JobStore, "update", update)
    monkeypatch.setattr(JobStore, "request_cancel", request_cancel)
    with make_client(tmp_path / "data") as client:
        job_id = submit(client, small_photo.read_bytes(), **{**TINY, "steps": 6}).json()["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/api/dreams/{job_id}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        full["on"] = True
        refused = client.delete(f"/api/dreams/{job_id}")
        assert refused.status_code == 507 and refused.headers["retry-after"], refused.text
        time.sleep(3)  # the dream ends meanwhile; its end cannot be recorded
        assert client.get(f"/api/dreams/{job_id}").json()["status"] == "running"
        full["on"] = False  # space again
        job = wait(client, job_id)
        assert job["status"] == "done", job
        events = client.get(f"/api/dreams/{job_id}/events").text
        assert "event: done" in events  # the stream ends


# --- 5. other web sites, pictures' cost, the picture cache -------------------------------------


def test_cross_site_requests_cannot_make_a_local_studio_compute(tmp_path):
    from .test_hostile import make_client

    with make_client(tmp_path / "data") as client:
        path = "/api/models/efficientnet-lite0/layers/blocks.3.0.bn1/channels/0"
        for headers in ({"origin": "http://evil.example", "sec-fetch-site": "cross-site"},
                        {"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"},
                        {"origin": "http://evil.example"}):
            for url in (path, "/api/models/efficientnet-lite0/layers", "/api/settings"):
                assert client.get(url, headers=headers).status_code == 403, (url, headers)
        assert not (tmp_path / "data" / "thumbnails").exists()  # nothing was drawn
        page = client.get("/api/settings", headers={"sec-fetch-site": "same-origin"})
        assert page.status_code == 200  # the studio's own page


def test_channel_pictures_are_bounded_and_their_cache_too(tmp_path, monkeypatch):
    import threading

    from inceptionism.service import inspector as inspection

    from .test_hostile import make_client

    monkeypatch.setattr(inspection, "MAX_DRAWING", 1)
    monkeypatch.setattr(inspection, "MAX_THUMBNAILS", 20)
    with make_client(tmp_path / "data") as client:
        base = "/api/models/efficientnet-lite0/layers/blocks.3.0.bn1/channels"
        gate, release = threading.Event(), threading.Event()
        real = inspection.channel_thumbnail

        def slow(*args, **kwargs):
            gate.set()
            release.wait(30)
            return real(*args, **kwargs)

        monkeypatch.setattr(inspection, "channel_thumbnail", slow)
        first = threading.Thread(target=lambda: client.get(f"{base}/0"))
        first.start()
        assert gate.wait(30)
        busy = client.get(f"{base}/40")  # one is being drawn: the next waits nowhere
        assert busy.status_code == 503 and busy.headers["retry-after"], busy.text
        started = time.monotonic()
        assert client.get("/api/settings").status_code == 200 and time.monotonic() - started < 2
        release.set()
        first.join(60)
        monkeypatch.setattr(inspection, "channel_thumbnail", real)
        for channel in (16, 32):  # two more batches of 16 pictures each: 48 drawn, 20 kept
            assert client.get(f"{base}/{channel}").status_code == 200
    kept = list((tmp_path / "data" / "thumbnails").rglob("ch-*.png"))
    assert len(kept) == 20 and any(p.name == "ch-0032.png" for p in kept)


# --- 17. an upload cut short where Pillow's verify does not look -------------------------------


def test_a_truncated_png_claiming_many_pixels_is_refused_at_submit(tmp_path):
    from .test_hostile import make_client, post

    buffer = io.BytesIO()
    Image.new("RGB", (7000, 7000), (10, 200, 30)).save(buffer, "PNG")
    data = buffer.getvalue()
    idat = data.index(b"IDAT") - 4
    kept = data[: data.index(b"IDAT", idat + 8) - 4] if b"IDAT" in data[idat + 8 :] else data[:idat]  # the first IDAT only
    end = b"\0\0\0\0IEND" + zlib.crc32(b"IEND").to_bytes(4, "big")
    with make_client(tmp_path / "data") as client:
        response = post(client, {}, kept + end)  # every chunk whole, the pixels cut short
        assert response.status_code == 415 and "ends early" in response.json()["error"], response.text
        buffer = io.BytesIO()
        Image.new("RGB", (300, 200)).save(buffer, "JPEG")
        jpeg = buffer.getvalue()
        assert post(client, {}, jpeg[: len(jpeg) - 40]).status_code == 415


# --- 18. a shared studio offers its own trained networks only ---------------------------------


def test_a_studio_does_not_offer_its_users_private_networks(tmp_path, monkeypatch):
    from inceptionism.models import list_models

    from .test_hostile import make_client

    private = tmp_path / "home-data" / "networks"
    private.mkdir(parents=True)
    monkeypatch.setenv("INCEPTIONISM_DATA", str(tmp_path / "home-data"))
    fake = private / "secret.safetensors"
    _train_a_tiny_network(fake)
    assert "trained/secret" in list_models()  # the user's own commands see it
    with make_client(tmp_path / "data") as client:
        names = [m["name"] for m in client.get("/api/models").json()]
        assert "trained/secret" not in names
        assert client.get("/api/classes", params={"model": "trained/secret"}).status_code == 404
    assert "trained/secret" in list_models()  # and again once the studio is gone


def _train_a_tiny_network(path: Path) -> None:
    """A real trained file (two classes, one epoch) written where the test wants it."""
    folder = path.parent / "motifs"
    for name, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        (folder / name).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (48, 48), tuple(max(0, c - 20 * i) for c in colour)).save(folder / name / f"{i}.png")
    result = invoke("train", folder, "-o", path, "--epochs", "1", "--image-size", "64", "-q")
    assert result.exit_code == 0, result.output


# --- 24. where the studio writes ---------------------------------------------------------------


def test_a_studio_writes_only_under_its_data_dir_and_the_documented_cache(tmp_path, small_photo):
    """A real ``serve`` process and one dream; then every file newer than its start, on this file
    system, must lie under the data directory or the weights cache ($INCEPTIONISM_HOME, here
    under its HOME), apart from Python's own byte-code caches."""
    import urllib.request

    from inceptionism.service.background import free_port

    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    marker = tmp_path / "marker"
    marker.write_text("")
    time.sleep(0.05)
    port = free_port()
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp_path / "tmp")}
    env.pop("INCEPTIONISM_HOME", None)
    env.pop("INCEPTIONISM_DATA", None)
    (tmp_path / "tmp").mkdir()
    server = subprocess.Popen([sys.executable, "-m", "inceptionism", "serve", "--port", str(port), "--data-dir", str(data)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert "studio on" in server.stderr.readline()
        boundary = "x-boundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"params\"\r\n\r\n"
                '{"steps": 2, "octaves": 2, "max_size": 96}\r\n'
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.png\"\r\n"
                "Content-Type: image/png\r\n\r\n").encode() + small_photo.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/dreams", data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            job_id = json.load(answer)["id"]
        deadline = time.monotonic() + 120
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/dreams/{job_id}", timeout=30) as answer:
                if json.load(answer)["status"] == "done":
                    break
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=60)
    found = subprocess.run(["find", "/", "-xdev", "-newer", str(marker), "-type", "f", "-not", "-path", "/proc/*",
                            "-not", "-path", "/sys/*", "-not", "-path", "/dev/*", "-not", "-path", "/run/*",
                            "-not", "-path", "*/__pycache__/*"], capture_output=True, text=True).stdout.split("\n")
    allowed = (str(data) + "/", str(home / ".cache" / "inceptionism") + "/")
    elsewhere = [f for f in found if f and not f.startswith(allowed)]
    assert not elsewhere, elsewhere
    assert any(f.startswith(str(data)) for f in found)  # it did write its job
