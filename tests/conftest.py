"""Shared fixtures: the bundled real model is loaded once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import inceptionism
from inceptionism.models import LoadedModel

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
