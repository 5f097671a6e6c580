"""The ComfyUI nodes in this process (no server): widgets from the declarations, the preset
rule, unset values, pictures as sockets, determinism, one-line errors."""

from __future__ import annotations

import json

import pytest
import torch

from inceptionism.comfyui import NODE_CLASS_MAPPINGS as NODES
from inceptionism.comfyui.widgets import Widgets
from inceptionism.config import PRESETS
from inceptionism.errors import InceptionismError
from inceptionism.declare import Param, declared

from .support import EXAMPLES


def _script():
    import importlib.util

    path = EXAMPLES.parent / "scripts" / "make_comfyui_examples.py"
    spec = importlib.util.spec_from_file_location("make_comfyui_examples", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _defaults(node: str) -> dict:
    required = NODES[node].INPUT_TYPES()["required"]
    return {name: spec[1]["default"] for name, spec in required.items() if len(spec) > 1 and "default" in spec[1]}


@pytest.fixture(scope="module")
def network():
    (loaded,) = NODES["InceptionismNetwork"]().run(**_defaults("InceptionismNetwork"))
    return loaded


def _photo(width: int = 96, height: int = 64) -> torch.Tensor:
    from PIL import Image
    import numpy as np

    image = Image.open(EXAMPLES / "chelsea.jpg").convert("RGB").resize((width, height))
    return torch.from_numpy(np.asarray(image, np.float32) / 255)[None]


def _dream(network, image=None, **changes):
    given = {**_defaults("InceptionismDream"), "octaves": 1, "steps": 2, "seed": 3, **changes}
    return NODES["InceptionismDream"]().run(network, image, **given)


def test_a_parameter_declared_later_appears_without_touching_the_nodes(monkeypatch):
    from inceptionism import config

    extra = Param("sparkle", float, False, 0.25, "how much sparkle", low=0.0, high=1.0)
    monkeypatch.setitem(config.declared.__globals__["_DECLARED"], config.DreamConfig,
                        [*declared(config.DreamConfig), extra])
    kind, spec = NODES["InceptionismDream"].INPUT_TYPES()["required"]["sparkle"]
    assert kind == "FLOAT" and spec["default"] == 0.25 and spec["max"] == 1.0 and spec["tooltip"] == "how much sparkle"


def test_widgets_left_at_their_default_follow_the_preset_and_changed_ones_win(network):
    preset_sets = {key for values in PRESETS.values() for key in values}  # octaves, steps, step_size, ...
    given = _defaults("InceptionismDream") | {"preset": "deep"}
    values = Widgets().values(given)
    assert values["preset"] == "deep" and not preset_sets & set(values)
    assert "preset" not in Widgets().values(_defaults("InceptionismDream"))  # left at classic: the default
    assert values["seed"] == 0 and values["jitter"] == 32  # the others are all explicit
    assert Widgets().values(given | {"steps": 3})["steps"] == 3
    made = json.loads(_dream(network, _photo(), preset="deep", octaves=4, steps=12)[1])["config"]
    assert (made["steps"], made["step_size"]) == (PRESETS["deep"]["steps"], PRESETS["deep"]["step_size"])


def test_empty_text_and_zero_mean_unset():
    values = Widgets().values(_defaults("InceptionismDream") | {"layers": "  ", "tile_size": 0, "max_size": 0,
                                                               "size": "", "threads": 0})
    assert not {"layers", "tile_size", "max_size", "size", "threads"} & set(values)


def test_pictures_are_sockets_of_comfyuis_types():
    optional = NODES["InceptionismDream"].INPUT_TYPES()["optional"]
    assert optional["mask"][0] == "MASK" and optional["guide"][0] == "IMAGE" and optional["image"] == ("IMAGE",)
    assert NODES["InceptionismVisualize"].INPUT_TYPES()["optional"]["photo"][0] == "IMAGE"
    assert NODES["InceptionismVisualize"].RETURN_TYPES == ("IMAGE", "MASK", "STRING")


def test_a_dream_is_the_same_for_the_same_seed_and_its_recipe_repeats_it(network):
    photo = _photo()
    first, recipe = _dream(network, photo)
    again, _ = _dream(network, photo)
    other, _ = _dream(network, photo, seed=4)
    assert first.shape == (1, 64, 96, 3) and torch.equal(first, again) and not torch.equal(first, other)
    made = json.loads(recipe)["config"]
    assert made["seed"] == 3 and made["steps"] == 2 and made["model"] == "efficientnet-lite0"


def test_each_image_of_a_batch_takes_its_own_mask(network):
    photos = torch.cat([_photo(), _photo()])
    masks = torch.zeros(2, 64, 96)
    masks[0, :, :48] = 1  # the first dreams its left half, the second its right half
    masks[1, :, 48:] = 1
    dreamed, _ = _dream(network, photos, mask=masks, steps=4)
    change = (dreamed - photos).abs().mean(-1)
    assert change[0, :, :40].mean() > 10 * change[0, :, 56:].mean()
    assert change[1, :, 56:].mean() > 10 * change[1, :, :40].mean()


def test_bad_input_is_one_line_naming_the_widget(network):
    with pytest.raises(InceptionismError) as bad_mask:
        _dream(network, _photo(), mask=torch.ones(1, 90, 20))
    assert str(bad_mask.value).startswith("mask 'input:mask.png' is 20x90 but the image is 96x64")
    with pytest.raises(InceptionismError) as bad_class:
        _dream(network, _photo(), target_class="100000")
    assert str(bad_class.value).startswith("target_class") and "\n" not in str(bad_class.value)


def test_zoom_from_noise_loops_and_says_how_its_seam_measures(network):
    given = {**_defaults("InceptionismZoom"), "frames": 8, "zoom": 1.1, "loop": True, "size": "64x48", "seed": 1,
             "octaves": 1, "steps": 2, "preset": "subtle"}
    frames, recipe = NODES["InceptionismZoom"]().run(network, None, **given)
    assert frames.shape == (8, 48, 64, 3)
    made = json.loads(recipe)
    assert made["zoom"]["loop"] is True and made["loop_seam"]["ratio"] <= 1.2
    assert made["config"]["preset"] == "subtle"


def test_a_zoom_left_at_its_defaults_dreams_as_the_zoom_command_does(network):
    from inceptionism.config import layered
    from inceptionism.command_config import ZOOM_DREAM_DEFAULTS

    given = {**_defaults("InceptionismZoom"), "frames": 2, "size": "48x48", "max_size": 0, "seed": 1}
    made = json.loads(NODES["InceptionismZoom"]().run(network, None, **given)[1])["config"]
    command = layered(command=ZOOM_DREAM_DEFAULTS)
    assert (made["preset"], made["octaves"], made["steps"]) == (command.preset, command.octaves, command.steps)


def test_the_example_workflows_are_current():
    """Made from the nodes' defaults: a parameter added to the library needs them made again."""
    for name, build in _script().EXAMPLES.items():
        prompt = build()
        stored = json.loads((EXAMPLES / "comfyui" / f"{name}.api.json").read_text())
        assert stored == prompt, f"{name}: run scripts/make_comfyui_examples.py --ui URL"
        ui = json.loads((EXAMPLES / "comfyui" / f"{name}.json").read_text())
        assert sorted(n["type"] for n in ui["nodes"]) == sorted(n["class_type"] for n in prompt.values())
        for node in ui["nodes"]:
            if node["type"].startswith("Inceptionism"):
                widgets = [k for k, v in prompt[str(node["id"])]["inputs"].items() if not isinstance(v, list)]
                assert len(node["widgets_values"]) == len(widgets) + ("seed" in widgets), node["type"]


def test_a_recipe_is_a_config_the_command_line_reads_weights_and_batches_included(network, tmp_path):
    from inceptionism.config import layered, load_config_mapping

    (random,) = NODES["InceptionismNetwork"]().run(**{**_defaults("InceptionismNetwork"), "weights": "random"})
    _, recipe = _dream(random, torch.cat([_photo(), _photo()]))
    path = tmp_path / "recipe.json"
    path.write_text(recipe)
    again = layered(file=load_config_mapping(path))
    assert again.weights == "random" and again.seed == 3 and again.steps == 2
    assert len(json.loads(recipe)["images"]) == 2


def test_each_frame_of_a_clip_takes_its_own_mask(network):
    frames = torch.cat([_photo(), _photo()])
    masks = torch.zeros(2, 64, 96)
    masks[0, :, :48] = 1
    masks[1, :, 48:] = 1
    given = {**_defaults("InceptionismVideo"), "octaves": 1, "steps": 4, "seed": 2, "coherence": "off"}
    dreamed, _ = NODES["InceptionismVideo"]().run(network, frames, mask=masks, **given)
    change = (dreamed - frames).abs().mean(-1)
    assert change[0, :, :40].mean() > 10 * change[0, :, 56:].mean()
    assert change[1, :, 56:].mean() > 10 * change[1, :, :40].mean()


def test_the_nodes_open_no_file_a_workflow_names(network, tmp_path, monkeypatch):
    """A concept term names a dictionary file: a workflow may come from anyone who reaches the
    ComfyUI server, so the nodes refuse it before any file is opened."""
    import inceptionism.dictionaries as dictionaries

    opened: list = []
    monkeypatch.setattr(dictionaries, "load_dictionary", lambda path: opened.append(path))
    secret = tmp_path / "secret.safetensors"
    with pytest.raises(InceptionismError, match="names a file; the ComfyUI nodes open no file"):
        _dream(network, _photo(), layers=f"concept:{secret}:0")
    given = {**_defaults("InceptionismVisualize"), "steps": 2}
    given.pop("layer", None), given.pop("target", None)
    with pytest.raises(InceptionismError, match="names a file"):
        NODES["InceptionismVisualize"]().run(network, "concept", f"{secret}:0", **given)
    assert opened == []
