"""One objective over several networks: an ensemble ``A+B`` is one network to the package
(models/ensemble.py), with the bundled Lite0 and Lite1's real weights."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import inceptionism
from inceptionism.errors import ModelError
from inceptionism.images import picture_from_pil, read_metadata, to_tensor
from inceptionism.labels import resolve_class
from inceptionism.models import get_spec, load_model, spec_for
from inceptionism.taps import auto_layers, capture

from .support import EXAMPLES, invoke, one_line

PAIR = "efficientnet-lite0+efficientnet-lite1"


@pytest.fixture(scope="module")
def pair():
    return load_model(PAIR)


def test_the_spec_joins_its_members_layers_classes_and_sizes():
    spec = get_spec(PAIR)
    assert spec.name == PAIR and spec.labels == "imagenet-1k" and spec.input_size == 224
    assert spec.default_layers == ("net0.blocks.4.1.bn1,net0.blocks.5.0.bn1,"
                                   "net1.blocks.4.1.bn1,net1.blocks.5.0.bn1")
    assert spec.layers_for("subtle").startswith("net0.blocks.3.1.bn1,net0.blocks.4.0.bn1,net1.")
    assert (get_spec("efficientnet-lite1").input_size, get_spec("efficientnet-lite2").input_size) == (240, 260)


def test_its_output_is_the_mean_of_its_members_each_at_its_own_input_size(pair):
    lite0, lite1 = load_model("efficientnet-lite0"), load_model("efficientnet-lite1")
    x = to_tensor(picture_from_pil(Image.open(EXAMPLES / "chelsea.jpg").resize((224, 224))), pair.device)
    with torch.no_grad():
        at_240 = F.interpolate(x, size=(240, 240), mode="bilinear", align_corners=False)
        wanted = (lite0(x) + lite1(at_240)) / 2
        got = pair(x)
        assert torch.allclose(got, wanted, atol=1e-4), (got - wanted).abs().max()
        assert not torch.allclose(got, (lite0(x) + lite1(x)) / 2, atol=1e-3)  # Lite1 saw 240 px, not 224
    assert int(got.argmax()) in (281, 282, 285)  # a cat, as each member says


def test_a_members_layer_is_reached_under_its_prefix_and_batch_norms_fold_in_both(pair):
    lite1 = load_model("efficientnet-lite1")
    x = torch.rand(1, 3, 112, 112, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), capture(pair, ["net1.blocks.5.0.bn1"]) as run, capture(lite1, ["blocks.5.0.bn1"]) as alone:
        mine = run(x)["net1.blocks.5.0.bn1"]
        theirs = alone(F.interpolate(x, size=(120, 120), mode="bilinear", align_corners=False))["blocks.5.0.bn1"]
    assert mine.shape == theirs.shape and torch.allclose(mine, theirs, atol=1e-4)
    assert len(pair.folds) == len(load_model("efficientnet-lite0").folds) + len(lite1.folds) > 0
    assert {fold.conv.split(".")[0] for fold in pair.folds} == {"net0", "net1"}


def test_a_class_picture_climbs_the_class_in_every_member(pair):
    lite0, lite1 = load_model("efficientnet-lite0"), load_model("efficientnet-lite1")
    zebra = resolve_class("zebra")
    shown = inceptionism.visualize("class", "zebra", model=pair, param="fft", size=96, steps=24, seed=0)
    start = torch.full((1, 3, 96, 96), 0.5)
    x = to_tensor(picture_from_pil(shown), pair.device)
    with torch.no_grad():
        for member in (lite0, lite1):
            side = member.spec.input_size * 96 // 224
            grown = member(F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False))[0, zebra]
            grey = member(F.interpolate(start, size=(side, side)))[0, zebra]
            assert grown > grey + 5, (member.spec.name, float(grown), float(grey))
    assert shown.info["inceptionism"]["model"] == PAIR


def test_a_dream_on_the_default_layers_dreams_both_members_and_its_recipe_loads_it_again(pair, tmp_path):
    image = np.asarray(Image.open(EXAMPLES / "chelsea.jpg").convert("RGB").resize((128, 96)))
    result = inceptionism.render(image, model=pair, seed=0, octaves=2, steps=3)
    assert result.config.model == PAIR and result.config.layers == get_spec(PAIR).default_layers
    assert result.score_end > result.score_start
    out = tmp_path / "d.png"
    ran = invoke("dream", EXAMPLES / "chelsea.jpg", "--model", PAIR, "--octaves", "1", "--steps", "1",
                 "--max-size", "64", "-q", "-o", out)
    assert ran.exit_code == 0, ran.output
    again = invoke("dream", EXAMPLES / "chelsea.jpg", "--config", out, "--octaves", "1", "-q", "-o", tmp_path / "e.png")
    assert again.exit_code == 0, again.output
    assert read_metadata(tmp_path / "e.png")["config"]["model"] == PAIR


@pytest.mark.parametrize("name, words", [
    ("efficientnet-lite0+efficientnet-lite9", "unknown model 'efficientnet-lite9'"),
    ("efficientnet-lite0+efficientnet-lite0", "names efficientnet-lite0 twice"),
    ("efficientnet-lite0 + efficientnet-lite0", "names efficientnet-lite0 twice"),
    ("efficientnet-lite0+efficientnet-lite9", "in the ensemble 'efficientnet-lite0+efficientnet-lite9': unknown model"),
    ("trained/mine+efficientnet-lite0", "trained/mine cannot be in an ensemble"),
    ("efficientnet-lite0+", "none empty"),
    ("+".join(["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2", "inception5h", "timm/resnet18"]),
     "joins 5 networks; an ensemble takes 2 to 4"),
    ("efficientnet-lite0+inception5h", "must share their classes (efficientnet-lite0: imagenet-1k, inception5h: no classes)"),
])
def test_a_bad_ensemble_is_refused_naming_what_is_wrong(name, words):
    with pytest.raises(ModelError, match=re.escape(words)):
        get_spec(name)


def test_an_ensemble_takes_its_members_own_weights(tmp_path):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"x")
    with pytest.raises(ModelError, match="each of its networks takes its own weights; leave --weights out"):
        spec_for(PAIR, str(weights))
    one_line(invoke("dream", EXAMPLES / "chelsea.jpg", "--model", PAIR, "--weights", weights, "-o", tmp_path / "o.png"),
             4, "leave --weights out")


def test_a_spelling_with_spaces_is_the_same_ensemble_and_scales_any_member_order():
    assert get_spec(" efficientnet-lite0 + efficientnet-lite1 ") is get_spec(PAIR)
    assert load_model(" efficientnet-lite0 + efficientnet-lite1 ") is load_model(PAIR)
    backwards = get_spec("efficientnet-lite2+efficientnet-lite0")  # Lite0 sees 224/260 of the picture's side
    assert backwards.input_size == 260 and backwards.min_size == 38  # 32 px for Lite0 at that scale


def test_a_member_without_tuned_layers_dreams_its_own_blocks(tmp_path):
    mixed = load_model("efficientnet-lite0+timm/resnet18", weights="random")
    assert mixed.spec.default_layers == ""  # not every member's are tuned: each member's are picked
    assert auto_layers(mixed) == "net0.blocks.4.1.bn1,net0.blocks.5.0.bn1," + ",".join(
        "net1." + layer for layer in auto_layers(load_model("timm/resnet18", weights="random")).split(","))


def test_an_ensemble_is_neither_trained_nor_judged_by_its_own_member(pair, tmp_path):
    from inceptionism.command_config import TrainConfig
    from inceptionism.errors import ConfigError
    from inceptionism.featurevis import check_judge
    from inceptionism.training import train

    with pytest.raises(ModelError, match="is an ensemble; fine-tune one of its networks"):
        train(tmp_path / "no-data-read", tmp_path / "net.safetensors", TrainConfig(model=PAIR))
    for judge, source in ((load_model("efficientnet-lite1"), pair), (pair, load_model("efficientnet-lite0"))):
        with pytest.raises(ConfigError, match="share efficientnet-lite[01]; choose a network that took no part"):
            check_judge(judge, source)
    check_judge(load_model("efficientnet-lite2"), pair)  # took no part: a judge
