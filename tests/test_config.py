"""DreamConfig validation, presets and JSON round trip."""

from __future__ import annotations

import json

import pytest

from inceptionism.config import PRESETS, DreamConfig, load_config_mapping
from inceptionism.errors import ConfigError


@pytest.mark.parametrize("field, value, message", [
    ("steps", 0, "steps = 0 is out of range"),
    ("steps", -3, "steps = -3"),
    ("steps", 2.5, "steps must be a whole number"),
    ("octaves", 0, "octaves = 0"),
    ("octave_scale", 1.0, "octave_scale = 1.0 is out of range; it must be greater than 1.0"),
    ("octave_scale", 0.5, "octave_scale = 0.5"),
    ("step_size", 0, "step_size = 0.0"),
    ("step_size", float("nan"), "step_size must be a finite number"),
    ("jitter", -1, "jitter = -1"),
    ("tile_size", 0, "tile_size = 0"),
    ("objective", "l3", "objective 'l3' is not one of l2, mean"),
    ("grad_norm", "max", "grad_norm 'max'"),
    ("octave_range", "2:-1", "octave_range 2:-1 is empty"),
    ("octave_range", "a:b", "not of the form LO:HI"),
    ("size", "12by4", "not of the form WxH"),
    ("preset", "wild", "preset 'wild'"),
])
def test_impossible_values_name_the_value(field, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        DreamConfig(**{field: value})


def test_unknown_key_suggests_the_field():
    with pytest.raises(ConfigError, match="unknown parameter 'step_sise'; did you mean step_size"):
        DreamConfig.from_dict({"step_sise": 0.1})


def test_json_round_trip_is_exact():
    cfg = DreamConfig(layers="blocks.4.1.bn1:3*2", octave_range="-4:2", size="64x48", seed=7, lapnorm=True)
    again = DreamConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert again.octave_range == (-4, 2) and again.size == (64, 48)


def test_metadata_shape_is_accepted(tmp_path):
    cfg = DreamConfig(seed=3)
    path = tmp_path / "info.json"  # what `inceptionism info` prints: the config inside the metadata
    path.write_text(json.dumps({"model": "x", "config": cfg.to_dict()}))
    assert DreamConfig.from_dict(load_config_mapping(path)) == cfg


def test_presets_differ_and_apply():
    assert DreamConfig.from_preset("deep").steps == PRESETS["deep"]["steps"]
    assert DreamConfig.from_preset("subtle", steps=3).steps == 3
    assert DreamConfig() == DreamConfig.from_preset("classic")


def test_octave_indices():
    assert DreamConfig(octaves=3).octave_indices() == [-2, -1, 0]
    assert DreamConfig(octave_range="-2:2", octaves=9).octave_indices() == [-2, -1, 0, 1, 2]


def test_steering_fields_validate_and_round_trip():
    cfg = DreamConfig.from_dict({"class": 954, "guide": ["a.png", "b.png"], "avoid_class": "dog", "mask": "m.png"})
    assert cfg.target_class == "954" and cfg.guide == ("a.png", "b.png")
    assert DreamConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ConfigError, match="avoid_weight = -1.0 is out of range"):
        DreamConfig(avoid_weight=-1)
    with pytest.raises(ConfigError, match="mask must be a non-empty string"):
        DreamConfig(mask="")
    with pytest.raises(ConfigError, match="guide must be a list of image paths"):
        DreamConfig(guide=("", 3))
