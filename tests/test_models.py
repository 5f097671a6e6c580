"""The default model's weights are real; the registry behaves."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from inceptionism.errors import ModelError
from inceptionism.images import load_image, to_tensor
from inceptionism.models import get_spec, list_models, load_model, register
from inceptionism.models.weights import load_by_order


def _top1(model, path) -> tuple[int, float]:
    x = to_tensor(load_image(path))
    x = F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        probs = model(x).softmax(-1)[0]
    p, i = probs.max(0)
    return int(i), float(p)


def test_chelsea_is_a_cat(model, examples):
    cls, p = _top1(model, examples / "chelsea.jpg")
    assert 281 <= cls <= 285, (cls, p)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert p > 0.5


def test_coffee_is_espresso_or_cup(model, examples):
    cls, p = _top1(model, examples / "coffee.jpg")
    assert cls in (967, 968), (cls, p)


def test_random_weights_do_not_classify(examples):
    random_model = load_model("efficientnet-lite0", pretrained=False, cache=False)
    assert random_model.weights_sha256 == "random"
    _, p = _top1(random_model, examples / "chelsea.jpg")
    assert p < 0.5


def test_default_model_is_listed_first_and_has_a_weights_checksum(model):
    assert list_models()[0] == "efficientnet-lite0"
    assert len(model.weights_sha256) == 64
    assert not any(p.requires_grad for p in model.parameters())


def test_unknown_model_suggests_nearest():
    with pytest.raises(ModelError, match=r"unknown model 'efficientnet-lite9'.*efficientnet-lite0"):
        get_spec("efficientnet-lite9")


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register(get_spec("efficientnet-lite0"))


def test_preprocess_maps_unit_range_to_minus_one_one():
    spec = get_spec("efficientnet-lite0")
    x = torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1)
    assert spec.preprocess(x).flatten().tolist() == [-1.0, 0.0, 1.0]


def test_load_by_order_names_the_first_shape_mismatch(tmp_path):
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 8, 1))
    other = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 9, 1))
    path = tmp_path / "w.pth"
    torch.save(other.state_dict(), path)
    with pytest.raises(ModelError, match=r"tensor #2 '1.weight' has shape \(9, 4, 1, 1\)"):
        load_by_order(net, path, "toy")


def test_load_by_order_copies_values(tmp_path):
    src = nn.Sequential(nn.Conv2d(3, 4, 3))
    dst = nn.Sequential(nn.Conv2d(3, 4, 3))
    path = tmp_path / "w.pth"
    torch.save({f"renamed.{k}": v for k, v in src.state_dict().items()}, path)
    load_by_order(dst, path, "toy")
    assert torch.equal(dst[0].weight, src[0].weight)
