"""The parameter declarations and what is generated from them: CLI options, JSON schema,
the studio's form, the docs table; one check of a value from every source."""

from __future__ import annotations

import io
import json
import tokenize
from pathlib import Path

import jsonschema
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st

from inceptionism.cli import app
from inceptionism.config import PRESETS, DreamConfig, config_schema, dream_params, layered
from inceptionism.errors import ConfigError

SRC = Path(__file__).resolve().parents[1] / "src" / "inceptionism"


def _options(command: str) -> dict[str, typer.core.TyperOption]:
    group = typer.main.get_command(app)
    cmd = group.commands[command]
    return {p.name: p for p in cmd.params if isinstance(p, typer.core.TyperOption)}


@pytest.mark.parametrize("command", ["dream", "zoom", "video", "batch"])
def test_every_dream_parameter_is_a_flag_of_every_dream_command(command):
    options = _options(command)
    for p in dream_params("cli"):
        assert p.name in options, f"{command} lacks --{p.name}"
        assert p.flag in options[p.name].opts
        assert p.help[:20].lower() in options[p.name].help.lower()


def test_schema_lists_exactly_the_declared_parameters_with_their_defaults():
    schema = config_schema()
    names = {p.name for p in dream_params("file")}
    assert set(schema["properties"]) == names | {"class"}  # the alias of target_class
    assert schema["additionalProperties"] is False
    for p in dream_params("file"):
        default = list(p.default) if isinstance(p.default, tuple) else p.default
        assert schema["properties"][p.name]["default"] == default == DreamConfig().to_dict()[p.name]


def test_written_configs_and_presets_validate_against_the_schema():
    schema = config_schema()
    for preset in PRESETS:
        jsonschema.validate(layered(explicit={"preset": preset, "seed": 1, "octave_range": "-2:1"}).to_dict(), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"steps": 0}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"mask": "/etc/shadow"}, config_schema("studio"))  # a server path: not offered


NUMERIC = [p for p in dream_params() if p.kind in (int, float)]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(NUMERIC), st.one_of(st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False)))
def test_schema_and_validation_agree_on_numbers(p, value):
    schema_ok = jsonschema.Draft202012Validator(config_schema()).is_valid({p.name: value})
    try:
        DreamConfig(**{p.name: value})
        accepted = True
    except ConfigError as exc:
        accepted = False
        assert exc.field == p.name and p.name in str(exc)  # the error names the field
    assert schema_ok == accepted, (p.name, value)


def test_layering_order_is_defaults_preset_command_file_explicit():
    file = {"preset": "deep", "steps": 3, "jitter": 4}
    cfg = layered(explicit={"jitter": 5}, file=file, command={"preset": "subtle", "octaves": 2})
    assert (cfg.preset, cfg.step_size, cfg.steps, cfg.jitter, cfg.octaves) == ("deep", 0.012, 3, 5, 4)
    cfg = layered(explicit={"jitter": 5}, command={"preset": "subtle", "octaves": 2})
    assert (cfg.preset, cfg.step_size, cfg.octaves) == ("subtle", PRESETS["subtle"]["step_size"], 2)
    assert layered(explicit={"preset": None}).preset is None
    with pytest.raises(ConfigError, match="unknown parameter 'stepz'; did you mean steps") as info:
        layered(file={"stepz": 1})
    assert info.value.field == "stepz"


def test_engine_receives_only_the_ascent_parameters():
    cfg = DreamConfig(steps=3, layers="blocks.1", target_class="cat")
    ascent = cfg.ascent
    assert ascent.steps == 3 and not hasattr(ascent, "layers") and not hasattr(ascent, "model")
    assert cfg.steering.target_class == "cat" and not hasattr(cfg.steering, "steps")


def _string_literals(value: str) -> list[str]:
    """Places in src/ where ``value`` is written as a string literal of its own (not in docs)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            if token.type == tokenize.STRING and token.string.strip("\"'") == value:
                found.append(f"{path.relative_to(SRC)}:{token.start[0]}")
    return found


def test_each_default_is_written_once():
    assert _string_literals("efficientnet-lite0") == ["config.py:" + _line("config.py", 'DEFAULT_MODEL = "efficientnet-lite0"')]
    text = "\n".join(path.read_text() for path in SRC.rglob("*.py"))
    assert text.count("(512, 512)") == 1  # NOISE_SIZE
    assert text.count("168.0") == 1 and "7 * 24" not in text  # the studio's keep time
    device_defaults = [f"{path.name}:{n}" for path in sorted(SRC.rglob("*.py"))
                       for n, line in enumerate(path.read_text().splitlines(), 1) if "device" in line and '"auto"' in line]
    assert device_defaults == ["config.py:" + _line("config.py", 'DEFAULT_DEVICE = "auto"')]


def _line(name: str, needle: str) -> str:
    return str(next(i for i, line in enumerate((SRC / name).read_text().splitlines(), 1) if needle in line))


def test_the_docs_table_is_current():
    import runpy

    made = runpy.run_path(str(SRC.parents[1] / "scripts" / "make_parameter_docs.py"))["render"]()
    assert (SRC.parents[1] / "docs" / "parameters.md").read_text() == made, "run scripts/make_parameter_docs.py"


def test_command_options_are_checked_by_their_declaration(tmp_path):
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["zoom", "noise", "-o", str(tmp_path / "z.gif"), "--fps", "nan"])
    assert result.exit_code == 2 and "fps must be a finite number" in result.output
    result = CliRunner().invoke(app, ["visualize", "blocks.1", "0", "-o", str(tmp_path / "v.png"), "--size", "5"])
    assert result.exit_code == 2 and "size = 5 is out of range" in result.output


def test_studio_settings_carry_the_form(tmp_path):
    from fastapi.testclient import TestClient

    from inceptionism.service import ServiceSettings, create_app

    with TestClient(create_app(ServiceSettings(data_dir=tmp_path, workers=0)), base_url="http://127.0.0.1") as client:
        form = client.get("/api/settings").json()["parameters"]
        schema = client.get("/api/schema").json()
    assert [row["name"] for row in form] == [p.name for p in dream_params("studio")]
    assert set(schema["properties"]) == {p.name for p in dream_params("studio")} | {"class"}
    steps = next(row for row in form if row["name"] == "steps")
    assert steps["default"] == 12 and steps["min"] == 1 and steps["widget"]["control"] == "range"
    assert json.dumps(form)  # plain JSON


def test_a_new_front_door_offers_the_parameters_declared_for_its_kind(monkeypatch):
    from inceptionism import declare
    from inceptionism.doors import form

    monkeypatch.setattr(declare, "_DOORS", dict(declare._DOORS))  # the registry as it was, after the test
    declare.add_door("notebook", local=True, about="a notebook helper")
    declare.add_door("chat", local=False, about="a bot answering strangers")
    notebook, chat = {p.name for p in dream_params("notebook")}, {p.name for p in dream_params("chat")}
    assert notebook == {p.name for p in dream_params("cli")}  # every local parameter: guide, mask, device, ...
    assert {"guide", "mask", "device", "weights", "precision"} <= notebook
    assert chat == {p.name for p in dream_params("studio")} and not {"guide", "mask", "device"} & chat
    assert [row["name"] for row in form("chat")] == [p.name for p in dream_params("chat")]
    with pytest.raises(ConfigError, match="no front door 'fax'.*cli, file, api, studio, comfyui, notebook, chat"):
        dream_params("fax")
