"""Networks beyond the default: every listed one dreams; weights from files and caches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from typer.testing import CliRunner

import inceptionism
from inceptionism.cli import app
from inceptionism.errors import ModelError, WeightsMissingError
from inceptionism.models import get_spec, list_models, load_model
from inceptionism.images import picture_from_pil, to_tensor
from inceptionism.models.weights import load_file

from .support import alive_layer


@pytest.mark.parametrize("name", list_models())
def test_every_listed_network_dreams_with_random_weights(name):
    model = load_model(name, weights="random", cache=False)
    side = max(96, model.spec.min_size + 21)
    image = np.random.default_rng(0).integers(0, 255, (side, side, 3), dtype=np.uint8)
    result = inceptionism.render(image, model=model, seed=0, octaves=1, steps=1, score=False)
    assert result.image.size == (side, side)
    assert result.config.layers  # tuned layers, or chosen by depth
    assert result.metadata["weights_sha256"] == "random"
    # Random weights leave some layers without a signal a step could raise (the default Lite0's
    # dream layers reach 3e-12): the objective must rise on one that carries the picture.
    alive = alive_layer(model, to_tensor(picture_from_pil(result.prepared)))
    climbed = inceptionism.render(image, model=model, seed=0, octaves=1, steps=2, layers=alive, jitter=0)
    assert climbed.score_end > climbed.score_start, (alive, climbed.score_start, climbed.score_end)


def test_lite1_and_lite2_weights_are_real(examples):
    from inceptionism.images import load_image, to_tensor

    for name, size in (("efficientnet-lite1", 240), ("efficientnet-lite2", 260)):
        try:
            model = load_model(name)
        except WeightsMissingError:
            pytest.skip(f"{name}'s optional weights package is not installed")
        x = torch.nn.functional.interpolate(to_tensor(load_image(examples / "chelsea.jpg")), size=(size, size), mode="bilinear", antialias=True)
        with torch.no_grad():
            assert 281 <= int(model(x).argmax()) <= 285


def test_unknown_family_architecture_suggests():
    with pytest.raises(ModelError, match="unknown timm architecture 'inception_v9'; did you mean"):
        get_spec("timm/inception_v9")
    with pytest.raises(ModelError, match="unknown torchvision architecture 'googlenett'; did you mean googlenet"):
        get_spec("torchvision/googlenett")


def _toy() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "module-prefix", "renamed", "safetensors"])
def test_load_file_formats(tmp_path, wrap):
    src, dst = _toy(), _toy()
    state = src.state_dict()
    path = tmp_path / ("w.safetensors" if wrap == "safetensors" else "w.pth")
    if wrap == "safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    elif wrap == "state_dict":
        torch.save({"state_dict": state, "epoch": 3}, path)
    elif wrap == "module-prefix":
        torch.save({f"module.{k}": v for k, v in state.items()}, path)
    elif wrap == "renamed":
        torch.save({f"other.{i}": v for i, v in enumerate(state.values())}, path)
    else:
        torch.save(state, path)
    sha = load_file(dst, path, "toy")
    assert len(sha) == 64
    assert all(torch.equal(a, b) for a, b in zip(src.state_dict().values(), dst.state_dict().values()))


def test_load_file_mismatch_names_the_tensor(tmp_path):
    path = tmp_path / "w.pth"
    other = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 5, 1))
    torch.save(other.state_dict(), path)
    with pytest.raises(ModelError, match=r"'2.weight' has shape \(5, 4, 1, 1\), the network needs \(2, 4, 1, 1\)"):
        load_file(_toy(), path, "toy")
    with pytest.raises(WeightsMissingError, match="does not exist"):
        load_file(_toy(), tmp_path / "nope.pth", "toy")


def test_cached_checkpoint_is_found(tmp_path, monkeypatch):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path))
    (tmp_path / "weights").mkdir()
    random_net = load_model("torchvision/resnet50", weights="random", cache=False).net
    torch.save(random_net.state_dict(), tmp_path / "weights" / "torchvision--resnet50.pth")
    model = load_model("torchvision/resnet50", cache=False)
    assert model.weights_sha256 != "random"
    assert torch.equal(model.net.fc.weight, random_net.fc.weight)


def test_missing_weights_one_line_exit_5_nothing_written(small_photo, tmp_path, monkeypatch):
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    out = tmp_path / "o.png"
    result = CliRunner().invoke(app, ["dream", str(small_photo), "-o", str(out), "--model", "timm/inception_v3", "-q"])
    assert result.exit_code == 5, result.output
    assert result.output.count("\n") == 1 and "weights for 'timm/inception_v3' are missing" in result.output
    assert "--weights PATH" in result.output and not out.exists()


def test_tutorial_workload_is_expressible(tmp_path):
    # The TensorFlow DeepDream tutorial's settings (speed issue, W3), on a small image.
    image = tmp_path / "in.png"
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(image)
    args = ["dream", str(image), "-o", str(tmp_path / "w3.png"), "--model", "timm/inception_v3", "--weights", "random",
            "--layers", "Mixed_6a,Mixed_6c", "--octave-range=-2:2", "--octave-scale", "1.3", "--steps", "1",
            "--step-size", "0.01", "--grad-norm", "std", "--jitter", "512", "--tile-size", "512", "-q"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "w3.png").is_file()


def test_layers_listing_needs_no_weights():
    result = CliRunner().invoke(app, ["layers", "--model", "torchvision/googlenet", "--filter", "inception4c"])
    assert result.exit_code == 0 and "inception4c" in result.output and "512" in result.output


def test_random_weights_are_the_same_every_time():
    a = load_model("torchvision/googlenet", weights="random", cache=False)
    b = load_model("torchvision/googlenet", weights="random", cache=False)
    assert torch.equal(a.net.inception4c.branch1.conv.weight, b.net.inception4c.branch1.conv.weight)
