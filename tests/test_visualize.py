"""``inceptionism visualize``'s promises on what it is given: bounded transforms, one set of
allowed combinations of its flags (the library's too), numbers in the digits 0-9."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

import inceptionism
import inceptionism.unit_pictures
from inceptionism.errors import ConfigError
from inceptionism.images import read_metadata
from inceptionism.featurevis import parse_transforms
from inceptionism.featurevis.transforms import MAX_COPIES, MAX_PAD, MAX_TRANSFORMS
from inceptionism.command_config import VISUALIZE_RECIPE, VisualizeConfig

from .support import invoke, one_line, plain

LAYER = "blocks.4.1.bn1"


@pytest.fixture()
def no_work(monkeypatch):
    monkeypatch.setattr(inceptionism.unit_pictures, "visualize_targets",
                        lambda *a, **k: pytest.fail("a picture grew from a refused command"))


@pytest.mark.parametrize(("transforms", "words"), [
    (",".join(["pad:16"] * 200), "transforms has 200 steps; at most 32"),  # 22 GB and the OOM killer before
    (",".join(["jitter:1"] * 10_000), "transforms has 10000 steps"),
    ("pad:300,pad:300", "pad the picture by 600 px a side together; at most 512"),
    ("crops:16x0.5,crops:2x0.5", "crops make 32 copies of each picture together; at most 16"),
    ("scale:2-1", "'scale:2-1' is an empty range: write the lower scale first, e.g. scale:1-2"),
    ("pad:٣", "(digits 0-9)"),
    ("scale:0.05-1", "is out of range: scale takes 0.1 to 10"),  # the low end is checked too
])  # fmt: skip
def test_transforms_that_would_exhaust_memory_or_read_wrongly_are_refused_before_work(tmp_path, no_work, transforms,
                                                                                     words):
    result = invoke("visualize", LAYER, "7", "-o", tmp_path / "t.png", "--param", "fft", "--transforms", transforms, "-q")
    one_line(result, 2, words)


def test_the_bounds_allow_every_written_set_and_what_the_limits_name():
    assert parse_transforms("standard") and parse_transforms("crops") and parse_transforms("none") == []
    assert len(parse_transforms(",".join(["jitter:4"] * MAX_TRANSFORMS))) == MAX_TRANSFORMS
    assert len(parse_transforms(f"pad:{MAX_PAD // 2},pad:{MAX_PAD // 2},crops:{MAX_COPIES}x0.5")) == 3
    with pytest.raises(ConfigError, match="transforms must be text") as caught:
        parse_transforms(None)  # type: ignore[arg-type]
    assert caught.value.field == "transforms"


@pytest.mark.parametrize(("params", "field", "words"), [
    ({"photo": "x.jpg"}, "photo", "photo (feature accentuation) works with param fft or maco, not pixel"),
    ({"photo": "x.jpg", "param": "alpha"}, "photo", "not alpha"),
    ({"lapnorm": True, "param": "fft"}, "lapnorm", "lapnorm works with param pixel only"),
    ({"importance": True}, "importance", "importance works with param fft, alpha or maco"),
])  # fmt: skip
def test_flags_that_do_not_go_together_are_refused_by_the_library_and_the_command(tmp_path, no_work, params, field,
                                                                                   words):
    with pytest.raises(ConfigError, match=re.escape(words)) as caught:
        VisualizeConfig(**params)
    assert caught.value.field == field
    flags = [f"--{k}" if v is True else f"--{k}={v}" for k, v in params.items()]
    one_line(invoke("visualize", LAYER, "7", "-o", tmp_path / "v.png", *flags, "-q"), 2, words)


@pytest.mark.parametrize(("args", "words"), [
    (["٣"], "is not a whole number (digits 0-9)"),  # Arabic-Indic three
    (["7", "--size", "٣٢"], "is not a whole number written with the digits 0-9"),
    (["7", "--size", "6_4"], "is not a whole number written with the digits 0-9"),
    (["7", "--step-size", "٠.٥"], "is not a number written with the digits 0-9"),
])  # fmt: skip
def test_numbers_are_read_in_the_digits_people_see(tmp_path, no_work, args, words):
    result = invoke("visualize", LAYER, *args, "-o", tmp_path / "v.png", "-q")
    assert result.exit_code == 2 and words in plain(result.output), result.output


@pytest.mark.parametrize(("flags", "words"), [
    (["--layers", "blocks.4.1.bn1:٣"], "channel '٣' in 'blocks.4.1.bn1:٣' is not a whole number"),
    (["--layers", "blocks.4.1.bn1:1_0"], "is not a whole number"),
    (["--layers", "class:١"], "unknown class '١'"),  # a name then, and no class is called so
    (["--octave-range", "٠:١"], "is not of the form LO:HI"),
    (["--steps", "٣"], "is not a number or START:END"),
    (["--channels", "strong:٣"], "is not MODE:K"),
])  # fmt: skip
def test_a_dreams_written_numbers_are_the_digits_0_to_9_too(small_photo, tmp_path, flags, words):
    result = invoke("dream", small_photo, "-o", tmp_path / "d.png", *flags, "-q")
    assert result.exit_code in (2, 4) and words in result.output, result.output


@pytest.mark.parametrize("flags", [["--octaves", "1"], ["--param", "fft"]])
def test_a_picture_carries_its_recipe_and_grows_again_from_it(tmp_path, flags):
    """visualize -o a.png, then --config a.png (or the JSON of --save-config): the same bytes;
    flags still override the file."""
    first = invoke("visualize", LAYER, "7", "-o", tmp_path / "a.png", "--size", "40", "--steps", "3", *flags,
                   "--save-config", tmp_path / "a.json", "-q")
    assert first.exit_code == 0, first.output
    recipe = json.loads((tmp_path / "a.json").read_text())
    assert recipe["size"] == 40 and isinstance(recipe["seed"], int) and recipe["model"] == "efficientnet-lite0"
    assert read_metadata(tmp_path / "a.png")[VISUALIZE_RECIPE] == recipe
    for source, name in ((tmp_path / "a.png", "b.png"), (tmp_path / "a.json", "c.png")):
        again = invoke("visualize", LAYER, "7", "--config", source, "-o", tmp_path / name, "-q")
        assert again.exit_code == 0, again.output
        assert (tmp_path / name).read_bytes() == (tmp_path / "a.png").read_bytes(), name
    smaller = invoke("visualize", LAYER, "7", "--config", tmp_path / "a.png", "--size", "32", "-o", tmp_path / "d.png",
                     "-q")
    assert smaller.exit_code == 0 and Image.open(tmp_path / "d.png").size == (32, 32)


def test_visualize_s_config_has_a_schema_that_its_saved_configs_meet(tmp_path):
    import jsonschema

    shown = invoke("schema", "--command", "visualize")
    assert shown.exit_code == 0, shown.output
    schema = json.loads(shown.output)
    saved = invoke("visualize", LAYER, "7", "-o", tmp_path / "a.png", "--size", "32", "--steps", "1", "--octaves", "1",
                   "--save-config", tmp_path / "a.json", "-q")
    assert saved.exit_code == 0, saved.output
    jsonschema.validate(json.loads((tmp_path / "a.json").read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"size": 40, "octave_scale": 1.2}, schema)  # not visualize's
    assert {"param", "transforms", "diversity", "photo", "importance", "judge", "model"} <= set(schema["properties"])


def test_a_config_that_is_not_visualize_s_is_one_line(tmp_path, no_work, examples):
    (tmp_path / "bad.json").write_text('{"size": 40, "octave_scale": 1.2}')
    one_line(invoke("visualize", LAYER, "7", "--config", tmp_path / "bad.json", "-o", tmp_path / "e.png", "-q"), 2,
             "holds octave_scale: not parameters of visualize")
    dreamed = invoke("dream", examples / "chelsea.jpg", "--max-size", "48", "--steps", "1", "--octaves", "1",
                     "-o", tmp_path / "dream.png", "-q")
    assert dreamed.exit_code == 0, dreamed.output
    one_line(invoke("visualize", LAYER, "7", "--config", tmp_path / "dream.png", "-o", tmp_path / "e.png", "-q"), 2,
             "holds no visualize parameters: another command wrote it")


def test_the_library_s_pictures_carry_the_recipe_too(model):
    picture = inceptionism.visualize(LAYER, 7, model=model, size=32, steps=2, octaves=1, seed=3)
    recipe = picture.info["inceptionism"][VISUALIZE_RECIPE]
    assert recipe["seed"] == 3 and recipe["size"] == 32 and recipe["model"] == model.spec.name
