"""Image input in every common mode, bad files, atomic writes, embedded parameters."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inceptionism import images, outputs
from inceptionism.errors import ImageError, OutputError


def _gradient_rgb(w=40, h=30) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)[None, :, None].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.uint8)[:, None, None].repeat(w, 1)
    return Image.fromarray(np.concatenate([x, y, 255 - x], axis=2), "RGB")


def test_greyscale_becomes_rgb(tmp_path):
    path = tmp_path / "g.png"
    _gradient_rgb().convert("L").save(path)
    pic = images.load_image(path)
    assert pic.rgb.shape == (30, 40, 3) and pic.alpha is None
    assert np.allclose(pic.rgb[..., 0], pic.rgb[..., 2])


def test_palette_with_transparency_keeps_alpha(tmp_path):
    im = _gradient_rgb().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    path = tmp_path / "p.png"
    im.save(path, transparency=0)
    pic = images.load_image(path)
    assert pic.alpha is not None and pic.alpha.min() == 0.0 and pic.alpha.max() == 1.0


def test_rgba_alpha_is_separated(tmp_path):
    im = _gradient_rgb().convert("RGBA")
    im.putalpha(77)
    path = tmp_path / "a.png"
    im.save(path)
    pic = images.load_image(path)
    assert np.allclose(pic.alpha, 77 / 255)
    assert np.allclose(pic.rgb, np.asarray(_gradient_rgb(), np.float32) / 255)


def test_cmyk_jpeg_is_converted(tmp_path):
    path = tmp_path / "c.jpg"
    _gradient_rgb().convert("CMYK").save(path, quality=95)
    pic = images.load_image(path)
    ref = np.asarray(_gradient_rgb(), np.float32) / 255
    assert np.abs(pic.rgb - ref).mean() < 0.05


def test_sixteen_bit_greyscale_keeps_precision(tmp_path):
    values = (np.arange(64 * 16, dtype=np.uint16).reshape(16, 64) * 64 + 7).astype(np.uint16)
    path = tmp_path / "16.png"
    Image.fromarray(values).save(path)
    pic = images.load_image(path)
    assert np.allclose(pic.rgb[..., 0], values / 65535.0, atol=1e-6)
    assert len(np.unique(pic.rgb[..., 0])) > 256  # more levels than 8 bits could hold


def test_exif_rotation_is_applied(tmp_path):
    im = _gradient_rgb(40, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "r.jpg"
    im.save(path, exif=exif.tobytes(), quality=95)
    pic = images.load_image(path)
    assert pic.size == (30, 40)
    clockwise = np.rot90(np.asarray(im, np.float32) / 255, k=-1)  # what orientation 6 displays
    assert np.abs(pic.rgb - clockwise).mean() < 0.02  # the right way round: the other way is far off
    assert np.abs(pic.rgb - np.rot90(np.asarray(im, np.float32) / 255, k=1)).mean() > 0.2


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("these are words, not pixels")
    with pytest.raises(ImageError, match=r"'.*notes.png' is not an image format"):
        images.load_image(path)


def test_truncated_image(tmp_path):
    full = tmp_path / "full.png"
    _gradient_rgb(200, 200).save(full)
    cut = tmp_path / "cut.png"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        images.load_image(cut)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("L", (4000, 3000)).save(path)  # small file, 12 MP
    with pytest.raises(ImageError, match=r"4000x3000 = 12,000,000 pixels; the limit is 1,000,000"):
        images.load_image(path, max_pixels=1_000_000)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        images.load_image(tmp_path / "nope.png")


def test_output_equal_to_input_is_refused(tmp_path):
    path = tmp_path / "photo.png"
    _gradient_rgb().save(path)
    with pytest.raises(OutputError, match="is the input file"):
        outputs.check_output_path(tmp_path / "." / "photo.png", inputs=(path,))


def test_missing_output_directory(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        outputs.check_output_path(tmp_path / "missing" / "out.png")


def test_unwritable_output_directory_is_caught_before_any_work():
    # /sys refuses new files even for root, for whom permission bits mean nothing.
    with pytest.raises(OutputError, match=r"output directory '/sys' is not writable"):
        outputs.check_output_path("/sys/out.png")


def test_read_only_directory_for_ordinary_users():
    # Root ignores permission bits, so under root the check runs as "nobody" (its effective
    # uid only, and back after), in a directory it may enter but not write to.
    as_root = os.geteuid() == 0
    parent = Path(tempfile.mkdtemp())
    parent.chmod(0o755)
    locked = parent / "locked"
    locked.mkdir(mode=0o555)
    try:
        if as_root:
            os.seteuid(65534)
        try:
            with pytest.raises(OutputError, match=r"output directory '.*locked' is not writable"):
                outputs.check_output_path(locked / "out.png")
        finally:
            if as_root:
                os.seteuid(0)
    finally:
        locked.chmod(0o700)
        shutil.rmtree(parent)


def test_unknown_extension(tmp_path):
    with pytest.raises(OutputError, match=r"unknown extension '.bmp'; use one of .png, .jpg, .jpeg, .webp"):
        outputs.check_output_path(tmp_path / "out.bmp", formats=images.OUTPUT_FORMATS)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_metadata_round_trip(tmp_path, suffix):
    meta = {"config": {"steps": 3, "layers": "a<b>&c"}, "seed": 1}
    path = images.save_image(_gradient_rgb(), tmp_path / f"out{suffix}", meta)
    assert images.read_metadata(path) == meta
    assert [p.name for p in tmp_path.iterdir()] == [f"out{suffix}"]  # no temporary left behind


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"old contents")

    def broken(fh):
        fh.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="No space left on device"):
        outputs.write_atomic(path, broken)
    assert path.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_jpeg_drops_alpha_png_keeps_it(tmp_path):
    im = _gradient_rgb().convert("RGBA")
    im.putalpha(100)
    assert Image.open(images.save_image(im, tmp_path / "a.png")).mode == "RGBA"
    assert Image.open(images.save_image(im, tmp_path / "a.jpg")).mode == "RGB"
