"""Shared fixtures: the bundled real model is loaded once per session."""

from __future__ import annotations

import os
from pathlib import Path

from inceptionism.runtime import defer_torch_meta_kernels

# The tests run as the command does: torch without its meta kernels until something needs
# them (runtime.defer_torch_meta_kernels), so every in-process test checks that too.
if not defer_torch_meta_kernels() and os.environ.get("INCEPTIONISM_DEFER_TORCH_META") != "0":
    raise RuntimeError("torch was imported before the tests' conftest, so they would not run as the command does")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

import inceptionism  # noqa: E402
from inceptionism.models import LoadedModel  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="session")
def model() -> LoadedModel:
    return inceptionism.load_model("efficientnet-lite0", device="cpu")


@pytest.fixture(scope="session")
def examples() -> Path:
    return EXAMPLES


@pytest.fixture()
def small_photo(tmp_path: Path) -> Path:
    """A 96x64 crop-and-shrink of the chelsea photo, written as PNG."""
    im = Image.open(EXAMPLES / "chelsea.jpg").convert("RGB").resize((96, 64), Image.Resampling.LANCZOS)
    path = tmp_path / "small.png"
    im.save(path)
    return path


def hf_fraction(image: Image.Image) -> float:
    """Share of an image's variance above a Gaussian blur at sigma 1 (high frequencies)."""
    import torch

    from inceptionism.engine.filters import gaussian_blur

    x = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    high = x - gaussian_blur(x, 1.0)
    return float(high.square().mean() / (x - x.mean((2, 3), keepdim=True)).square().mean())


def modules_a_dream_imports(output: Path, *flags: str) -> set[str]:
    """Every module a 64 px, one-step ``inceptionism dream`` of the chelsea photo imports
    (``python -X importtime``), with ``flags`` added; the command must succeed."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "inceptionism", "dream", str(EXAMPLES / "chelsea.jpg"),
                           "-o", str(output), "--max-size", "64", "--steps", "1", "--quiet", *flags],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "torch" in imported and output.exists()  # the listing is real
    return imported
