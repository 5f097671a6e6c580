"""Uploads to the studio: the request handler reads headers and structure, never the pixels;
guides and masks a worker would refuse are refused at submit; files cut short are refused."""

from __future__ import annotations

import io
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from .support import png, post, studio_client


@pytest.fixture()
def client(tmp_path: Path):
    with studio_client(tmp_path / "data", workers=0) as c:
        yield c


def test_a_small_file_claiming_many_pixels_costs_the_request_handler_nothing(tmp_path):
    bomb = tmp_path / "big.png"
    bomb.write_bytes(png(7000, 7000))  # about 160 KB of a flat 49-megapixel picture
    code = f"""
import resource
from inceptionism.doors.limits import Limits, check_upload
data = open({str(bomb)!r}, "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for _ in range(6):
    check_upload(data, "image", Limits())
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""
    grown_mb = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                    timeout=120).stdout)
    assert grown_mb < 20, f"the request handler grew by {grown_mb:.0f} MB"  # decoding it would be ~150 MB each


def test_guides_and_masks_a_worker_would_refuse_are_refused_at_submit(client):
    photo = png(96, 64)
    colour_mask = {"image": ("p.png", photo, "image/png"), "mask": ("m.png", png(96, 64, (255, 0, 0)), "image/png")}
    wide_mask = {"image": ("p.png", photo, "image/png"), "mask": ("m.png", png(200, 40, (255, 255, 255)), "image/png")}
    tiny_guide = {"image": ("p.png", photo, "image/png"), "guide": ("g.png", png(20, 20), "image/png")}
    for files, field, words in ((colour_mask, "mask", "greyscale"), (wide_mask, "mask", "aspect ratios"),
                                (tiny_guide, "guide", "at least 32 px")):  # fmt: skip
        response = client.post("/api/dreams", data={"params": "{}"}, files=files)
        assert response.status_code == 422 and response.json()["field"] == field and words in response.json()["error"]
    grey = {"image": ("p.png", photo, "image/png"), "mask": ("m.png", png(192, 128, (200, 200, 200)), "image/png")}
    assert client.post("/api/dreams", data={"params": "{}"}, files=grey).status_code == 202


def test_a_truncated_png_claiming_many_pixels_is_refused_at_submit(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (7000, 7000), (10, 200, 30)).save(buffer, "PNG")
    data = buffer.getvalue()
    idat = data.index(b"IDAT") - 4
    kept = data[: data.index(b"IDAT", idat + 8) - 4] if b"IDAT" in data[idat + 8 :] else data[:idat]  # the first IDAT only
    end = b"\0\0\0\0IEND" + zlib.crc32(b"IEND").to_bytes(4, "big")
    with studio_client(tmp_path / "data", workers=0) as client:
        response = post(client, {}, kept + end)  # every chunk whole, the pixels cut short
        assert response.status_code == 415 and "ends early" in response.json()["error"], response.text
        buffer = io.BytesIO()
        Image.new("RGB", (300, 200)).save(buffer, "JPEG")
        jpeg = buffer.getvalue()
        assert post(client, {}, jpeg[: len(jpeg) - 40]).status_code == 415
