"""Bad input on the command line: one line naming what was wrong, a distinct exit code, no
traceback, before any work: numbers, config files and metadata, objectives, weights files,
pictures too large to dream."""

from __future__ import annotations

import io
import json
import os
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from typer.testing import CliRunner

import inceptionism
from inceptionism.cli import app
from inceptionism.errors import ConfigError
from inceptionism.images import read_metadata

from .support import FAST_FLAGS as FAST, invoke, one_line, post, studio_client


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["zoom", "noise", "-o", "z.gif", "--fps", "nan"], "fps must be a finite number"),
        (["dream", "noise", "-o", "o.png", "--step-size", "inf"], "step_size must be a finite number"),
        (["dream", "noise", "-o", "o.png", "--octave-range", "10000:10000"], "octave_range 10000:10000 is too wide"),
        (["dream", "noise", "-o", "o.png", "--config", "/dev/zero"], "is not a regular file"),
    ],
)
def test_bad_values_are_one_line_errors(tmp_path, args, words):
    result = CliRunner().invoke(app, [a.replace("z.gif", str(tmp_path / "z.gif")).replace("o.png", str(tmp_path / "o.png")) for a in args])
    assert result.exit_code == 2 and words in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


@pytest.mark.parametrize(
    "text",
    ["[" * 5000 + "]" * 5000, '{"steps": ' + "9" * 5000 + "}", json.dumps({"layers": "x" * 60_000_000})[:2_000_000]],
)
def test_hostile_config_files_are_one_line_errors(tmp_path, text):
    path = tmp_path / "cfg.json"
    path.write_text(text)
    result = invoke("dream", "noise", "-o", tmp_path / "o.png", "--config", path, "-q")
    assert result.exit_code == 2 and len(result.output) < 300 and "Traceback" not in result.output, result.output[:300]


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


def test_class_and_target_class_together_are_refused(tmp_path, small_photo):
    from inceptionism.config import layered

    with pytest.raises(ConfigError, match="'target_class' and 'class' name the same parameter"):
        layered(explicit={"target_class": "goldfinch", "class": "tabby"})
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"class": "goldfinch", "target_class": "tabby"}))
    one_line(invoke("dream", small_photo, "-o", tmp_path / "d.png", "--config", cfg, *FAST), 2, "name the same parameter")
    with studio_client(tmp_path / "data", workers=0) as client:
        response = post(client, {"class": "goldfinch", "target_class": "tabby"}, small_photo.read_bytes())
        assert response.status_code == 422, response.text


def test_octaves_grown_past_the_pixel_limit_are_refused_before_any_work(small_photo, tmp_path, monkeypatch):
    # --octave-range=-30:30 --octave-scale 8 ran the machine out of memory (killed by the kernel).
    started = time.perf_counter()
    result = invoke("dream", small_photo, "-o", tmp_path / "o.png", "--octave-range=-30:30", "--octave-scale", "8", "-q")
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        "error: octave 30 at octave_scale 8 would dream this 96x64 picture at over 10 million px a side; at most "
        "100 megapixels (lower the top of octave_range or octave_scale; INCEPTIONISM_MAX_PIXELS raises the limit)")
    assert time.perf_counter() - started < 10 and not (tmp_path / "o.png").exists()
    from inceptionism import images
    from inceptionism.api import check_config, resolve_config
    from inceptionism.errors import ConfigError
    from inceptionism.models import load_model

    monkeypatch.setattr(images, "MAX_PIXELS", 20_000)  # 96x64 photo: octave 1 at 1.5 is 144x96 = 13,824 px
    model = load_model()
    check_config(resolve_config(None, octave_range="-2:1", octave_scale=1.5), model, 96, 64)
    with pytest.raises(ConfigError, match=r"octave 2 at octave_scale 1.5 would dream this 96x64 picture at 216x144 px"):
        check_config(resolve_config(None, octave_range="-2:2", octave_scale=1.5), model, 96, 64)


def _foreign_file(folder: Path, name: str) -> Path:
    """A file a user might pass as --weights that holds no weights."""
    import torch

    path = folder / name
    if name == "whole-module.pt":
        torch.save(torch.nn.Linear(2, 2), path)  # a pickled module, not a state dict
    else:
        path.write_bytes({"garbage.pt": b"garbage bytes here", "broken-zip.pt": b"PK\x03\x04junk",
                          "text.pth": b"hello\nworld\n", "bad.safetensors": b"xx"}[name])
    return path


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("garbage.pt", "(Unsupported operand"),
        ("broken-zip.pt", "(PytorchStreamReader failed reading zip archive: not a ZIP archive)"),
        ("text.pth", "not a state dict saved by torch.save, nor a .safetensors file"),
        ("bad.safetensors", "it is not a .safetensors file (file cut short in its header)"),
        ("whole-module.pt", "(Unsupported global: GLOBAL torch.nn.modules.linear.Linear"),
    ],
)
def test_files_that_are_not_weights_are_one_line_errors(tmp_path, name, words):
    # torch.load's own messages run over many lines and tell the user to pass weights_only=False
    # and to file an issue with PyTorch: the error keeps one short cause instead.
    path = _foreign_file(tmp_path, name)
    result = invoke("dream", "noise", "-o", tmp_path / "o.png", "--weights", path, "-q")
    assert result.exit_code == 4, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot read weights file") and repr(str(path)) in lines[0]
    assert words in lines[0], lines[0]
    assert "weights_only" not in lines[0] and "file an issue" not in lines[0] and len(lines[0]) < 400, lines[0]
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("command", [["classes"], ["visualize", "blocks.4.1.bn1", "3", "-o", "OUT", "-q"], ["dream", "noise", "-o", "OUT", "-q"]])
def test_a_weights_path_that_is_no_file_is_refused_by_every_command(tmp_path, command):
    # `classes` reads only the spec; it listed ImageNet's classes for any path before.
    for path in (tmp_path / "missing.pt", tmp_path):
        result = invoke(*[str(tmp_path / "o.png") if a == "OUT" else a for a in command], "--weights", path)
        assert result.exit_code == 5, result.output
        assert result.output.strip() == f"error: weights file {str(path)!r} does not exist or is not a file"


def test_cause_is_one_short_line_of_another_librarys_message():
    from inceptionism.errors import cause

    unpickler = RuntimeError("Weights only load failed. In PyTorch 2.6, we changed the default.\n"
                             "Please file an issue with the following: WeightsUnpickler error: \n\n"
                             "Unsupported operand 103\n\nCheck the documentation of torch.load")
    assert cause(unpickler) == "Unsupported operand 103"
    assert cause(OSError("not a ZIP archive. This is an internal error. If you see it, report it.")) == \
        "not a ZIP archive"
    assert cause(ValueError("\n\n  first line  \nsecond line")) == "first line"
    assert cause(KeyError()) == "KeyError"
    long = cause(ValueError("x" * 500))
    assert len(long) == 160 and long.endswith("...")


def test_an_error_message_is_always_one_line():
    from inceptionism.errors import ModelError

    assert str(ModelError("cannot read 'a': first\n  second\r\nthird")) == "cannot read 'a': first second third"
    assert str(ModelError("unchanged  spacing 'a  b'")) == "unchanged  spacing 'a  b'"


def test_classify_a_long_thin_strip_costs_nothing(model, tmp_path):
    strip = tmp_path / "strip.png"
    Image.new("RGB", (100_000, 1), (200, 150, 50)).save(strip)
    assert strip.stat().st_size < 1000
    top = inceptionism.top_classes(model, strip)  # scaled short side first asked for 78 GB
    assert len(top) == 5 and all(0 <= p <= 1 for _, _, p in top)
    assert invoke("classify", strip).exit_code == 0
