"""A typo never destroys an input: every output a command writes (the named one and every name
it derives from it) is checked against every file it reads, and against device nodes, FIFOs
and names the file system refuses, before any work; outputs are written whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

import inceptionism.featurevis
import inceptionism.visualization

from .support import invoke, nodes, one_line, still_nodes

LAYER = "blocks.4.1.bn1"
QUICK = ["--size", "32", "--steps", "1", "-q"]


@pytest.fixture()
def no_work(monkeypatch):
    """Any picture grown or photo scanned fails the test: refusals come before the work."""
    def refused(*args, **kwargs):
        raise AssertionError("the work began before the outputs were checked")

    monkeypatch.setattr(inceptionism.visualization, "visualize_targets", refused)
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
