"""Any architecture of timm and torchvision, transformers included: with random weights,
each network lists its layers, dreams a non-square picture for a step (the objective
rising), grows a channel's picture and shows a layer's activations. Token layers are read
as patch grids, channels-last layers turned round, and input sizes follow each network's
own rule (patch multiples, one fixed size)."""

from __future__ import annotations

import json


import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from inceptionism.cli import app
from inceptionism.images import load_image, read_metadata, to_tensor
from inceptionism.models import get_spec, load_model
from inceptionism.models.spec import InputRule, Tokens
from inceptionism.taps import capture, layouts, list_layers

from .support import alive_layer

# One or more of each family a user might pick, in their smallest sizes.
NETWORKS = [
    "timm/resnet18", "timm/resnext26ts", "timm/vgg11", "timm/inception_v3", "timm/inception_v4",
    "timm/inception_resnet_v2", "timm/densenet121", "timm/mobilenetv2_050", "timm/mobilenetv3_small_050",
    "timm/efficientnet_b0", "timm/regnetx_002", "timm/convnext_atto", "timm/vit_tiny_patch16_224",
    "timm/deit_tiny_patch16_224", "timm/beit_base_patch16_224", "timm/swin_tiny_patch4_window7_224",
    "timm/maxvit_rmlp_pico_rw_256", "timm/efficientvit_b0", "timm/coatnet_nano_rw_224", "timm/cait_xxs24_224",
    "timm/vit_base_patch32_clip_224", "timm/eva02_tiny_patch14_224",
    "torchvision/vit_b_16", "torchvision/swin_t", "torchvision/resnet18", "torchvision/mobilenet_v3_small",
]


@pytest.fixture(scope="module")
def photo(tmp_path_factory, examples):
    path = tmp_path_factory.mktemp("photo") / "chelsea.png"
    Image.open(examples / "chelsea.jpg").convert("RGB").resize((192, 128)).save(path)
    return path


@pytest.mark.parametrize("name", NETWORKS)
def test_a_network_lists_dreams_visualizes_and_shows_activations(name, photo, tmp_path):
    runner = CliRunner()
    listed = runner.invoke(app, ["layers", "--model", name, "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    chosen = [row["layer"] for row in rows if row["default"]]
    assert chosen
    layer = alive_layer(load_model(name, weights="random"), photo)
    out = tmp_path / "dream.png"
    # fp32 pinned: precision auto would pick bf16 for three of these on a CPU with bf16 units only
    dreamed = runner.invoke(app, ["dream", str(photo), "-o", str(out), "--model", name, "--weights", "random",
                                  "--layers", layer, "--steps", "2", "--jitter", "0", "--octaves", "1", "--seed", "1",
                                  "--precision", "fp32"])
    assert dreamed.exit_code == 0, dreamed.output
    assert Image.open(out).size == (192, 128)
    recorded = read_metadata(out)
    assert recorded["score_end"] > recorded["score_start"], recorded  # the step climbed the objective
    model = load_model(name, weights="random")
    channel = _strongest_channel(model, layer, photo)  # random weights leave some channels dead
    shown = runner.invoke(app, ["visualize", layer, str(channel), "-o", str(tmp_path / "ch.png"), "--model", name,
                                "--weights", "random", "--param", "fft", "--size", "96", "--steps", "6", "--seed", "1",
                                "-q"])
    assert shown.exit_code == 0, shown.output
    drawn = read_metadata(tmp_path / "ch.png")
    assert drawn["visualize"]["target"] == channel and drawn["visualize"]["layer"] == layer
    # its recorded score is this network's response to the picture written: the picture is this channel's
    # (that pictures climb their channel is tested on real weights, in test_featurevis; random ones need not)
    grown = to_tensor(load_image(tmp_path / "ch.png"))
    assert _channel_mean(model, layer, channel, grown) == pytest.approx(drawn["score"], rel=0.1, abs=1e-3)
    grid = runner.invoke(app, ["activations", str(photo), "--layer", layer, "-o", str(tmp_path / "acts.png"),
                               "--model", name, "--weights", "random", "--top", "4"])
    assert grid.exit_code == 0, grid.output
    maps = np.asarray(Image.open(tmp_path / "acts.png").convert("L"), np.float32)
    assert read_metadata(tmp_path / "acts.png")["inceptionism_activations"]["layer"] == layer
    assert maps.std() > 5  # maps of the photo, not a blank sheet


def _channel_mean(model, layer: str, channel: int, x: torch.Tensor) -> float:
    with capture(model, [layer]) as run, torch.no_grad():
        return float(run(x)[layer][0, channel].mean())


def _strongest_channel(model, layer: str, photo) -> int:
    with capture(model, [layer]) as run, torch.no_grad():
        return int(run(to_tensor(load_image(photo)))[layer][0].flatten(1).abs().mean(1).argmax())


def test_token_layers_are_patch_grids_and_swin_stages_are_turned_round():
    vit = load_model("timm/vit_tiny_patch16_224", weights="random")
    assert vit.spec.tokens == Tokens(16, 1) and vit.spec.inputs == InputRule(multiple=16)
    assert layouts(vit)["blocks.3"] == "tokens:1"
    with capture(vit, ["blocks.3"]) as run, torch.no_grad():
        act = run(torch.rand(1, 3, 96, 160))["blocks.3"]
    assert act.shape == (1, 192, 6, 10)  # 96/16 rows, 160/16 columns, the class token dropped
    with capture(vit, ["blocks.3"]) as run, torch.no_grad():
        assert run(torch.rand(1, 3, 90, 150))["blocks.3"].shape[-2:] == (6, 10)  # padded to 96x160, the picture's area
    swin = load_model("timm/swin_tiny_patch4_window7_224", weights="random")
    assert layouts(swin)["layers.1"] == "nhwc"
    info = {i.name: i for i in list_layers(swin)}["layers.1"]
    assert (info.channels, info.height, info.width) == (192, 28, 28)  # 224 / 8, its 192 channels first
    assert not any(i.height == 49 for i in list_layers(swin))  # attention's window maps are not feature maps
    # torchvision's Swin has no tokens either, yet its stages are channels last: turned round too,
    # so a channel term names one of its 192 channels (it named a row of the map)
    tv_swin = load_model("torchvision/swin_t", weights="random")
    info = {i.name: i for i in list_layers(tv_swin, tv_swin.spec.probe_size)}["features.3.1"]
    assert (info.channels, info.height, info.width) == (192, 8, 8)
    with capture(tv_swin, ["features.3.1"]) as run, torch.no_grad():
        assert run(torch.rand(1, 3, 64, 96))["features.3.1"].shape == (1, 192, 8, 12)


def test_a_network_of_one_size_is_tiled_at_that_size(photo):
    from inceptionism.engine.tiles import auto_tile_size

    beit = load_model("timm/beit_base_patch16_224", weights="random")
    assert beit.spec.inputs == InputRule(fixed=224)
    assert auto_tile_size(beit, frozenset({"blocks.7"}), 600, 900) == 224
    with capture(beit, ["blocks.7"]) as run, torch.no_grad():
        assert run(torch.rand(1, 3, 112, 224))["blocks.7"].shape[-2:] == (8, 14)  # padded to 224, cropped to the patches it covers


def test_what_cannot_work_is_one_line_exit_4(photo, tmp_path):
    result = CliRunner().invoke(app, ["dream", str(photo), "-o", str(tmp_path / "d.png"), "--model",
                                      "torchvision/vit_q_16", "--weights", "random"])
    assert result.exit_code == 4 and "unknown torchvision architecture 'vit_q_16'" in result.output


def test_each_spec_says_its_input_rule_and_tokens():
    assert get_spec("timm/cait_xxs24_224").inputs == InputRule(fixed=224)
    assert get_spec("torchvision/vit_b_16").tokens == Tokens(16, 1)
    assert get_spec("timm/resnet18").inputs == InputRule() and get_spec("timm/resnet18").tokens is None
    assert get_spec("torchvision/swin_t").min_size == 32  # it pads any size; torchvision documents 224


def test_a_network_not_differentiable_in_its_input_is_one_line_exit_4(photo):
    from torch import nn

    from inceptionism.engine.tiles import objective_gradient
    from inceptionism.errors import ModelError
    from inceptionism.models.loaded import LoadedModel
    from inceptionism.models.spec import ModelSpec

    class Detached(nn.Module):  # its features do not depend differentiably on the picture
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x.detach())

    spec = ModelSpec("toy/detached", Detached, lambda net: "random", "none", (0.5,) * 3, (0.5,) * 3)
    model = LoadedModel(spec, Detached().eval(), "random")
    with pytest.raises(ModelError, match="toy/detached: the objective's layers do not depend differentiably") as err, \
            capture(model, ["conv"]) as run:  # the engine's gradient, as every dream takes it
        objective_gradient(run, lambda acts: acts["conv"].pow(2).mean(), torch.rand(1, 3, 64, 64), tile=64, shift=(0, 0))
    assert err.value.exit_code == 4 and "\n" not in str(err.value)


def test_guides_neurons_and_channels_read_token_grids(photo, examples, tmp_path):
    runner, common = CliRunner(), ["--model", "timm/vit_tiny_patch16_224", "--weights", "random", "--seed", "1",
                                   "--steps", "2", "--octaves", "1"]
    guided = runner.invoke(app, ["dream", str(photo), "-o", str(tmp_path / "g.png"), "--guide",
                                 str(examples / "coffee.jpg"), *common])
    assert guided.exit_code == 0, guided.output
    neuron = runner.invoke(app, ["dream", str(photo), "-o", str(tmp_path / "n.png"), "--layers", "blocks.5:3@4,6",
                                 *common])
    assert neuron.exit_code == 0, neuron.output
    strong = runner.invoke(app, ["dream", str(photo), "-o", str(tmp_path / "c.png"), "--layers", "blocks.5",
                                 "--channels", "strong:4", *common])
    assert strong.exit_code == 0, strong.output
    outside = runner.invoke(app, ["dream", str(photo), "-o", str(tmp_path / "o.png"), "--layers", "blocks.5:3@40,6",
                                  *common])
    assert outside.exit_code != 0  # the grid of a 192x128 picture: 8 rows of 16 px patches, 12 columns
    assert "8x12 (rows x columns)" in " ".join(outside.output.split()), outside.output
