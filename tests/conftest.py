"""Shared fixtures: the bundled real model is loaded once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from inceptionism.imports import defer_torch_meta_kernels

# The tests run as the command does: torch without its meta kernels until something needs
# them (imports.defer_torch_meta_kernels), so every in-process test checks that too.
if not defer_torch_meta_kernels() and os.environ.get("INCEPTIONISM_DEFER_TORCH_META") != "0":
    raise RuntimeError("torch was imported before the tests' conftest, so they would not run as the command does")

import pytest  # noqa: E402
from PIL import Image  # noqa: E402

import inceptionism  # noqa: E402
from inceptionism.models import LoadedModel  # noqa: E402

from .support import EXAMPLES, report_unchecked  # noqa: E402


@pytest.fixture(scope="session")
def model() -> LoadedModel:
    return inceptionism.load_model("efficientnet-lite0", device="cpu")


@pytest.fixture(scope="session")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example photos (examples/*.jpg) alone in a folder: tests scan it as a folder of photos,
    and the repository's examples/ holds more pictures than photos (the ComfyUI mask)."""
    folder = tmp_path_factory.mktemp("examples")
    for photo in EXAMPLES.glob("*.jpg"):
        shutil.copy(photo, folder / photo.name)
    return folder


@pytest.fixture()
def small_photo(tmp_path: Path) -> Path:
    """A 96x64 crop-and-shrink of the chelsea photo, written as PNG."""
    im = Image.open(EXAMPLES / "chelsea.jpg").convert("RGB").resize((96, 64), Image.Resampling.LANCZOS)
    path = tmp_path / "small.png"
    im.save(path)
    return path


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    """A 6-frame 96x64 clip at 12 fps: the chelsea photo sliding right by 3 px a frame."""
    import numpy as np

    from inceptionism.motion.videoio import write_video

    cat = np.asarray(Image.open(EXAMPLES / "chelsea.jpg").convert("RGB").resize((96, 64)))
    return write_video(tmp_path / "clip.mp4", [np.ascontiguousarray(np.roll(cat, 3 * t, axis=1)) for t in range(6)], 12)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    report_unchecked(terminalreporter)
