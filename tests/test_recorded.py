"""Recorded command lines: their outputs stay the same when the code is reorganized.

``recorded/commands.json`` lists command lines (dreams with presets, guide, mask, class,
lapnorm, an octave range, noise; visualize pixel, lapnorm, fft and class; zoom; configs
read back from JSON and from an output image). Each output's decoded pixels are hashed
and its recorded parameters kept, per machine kind (CPU model with its family and model
numbers, torch version, threads), because float results differ between CPUs.

On a machine with a record, every output must match it pixel for pixel and every
recorded parameter must be unchanged (a parameter added later may appear beside them).
On a machine without one the commands still run and must reproduce themselves from
their own outputs, the comparison with a record is reported as not checked in the test
run's last lines, and a record for this machine kind is added with::

    bash scripts/record.sh
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

HERE = Path(__file__).resolve().parent / "recorded"
EXAMPLES = HERE.parents[1] / "examples"


def fingerprint() -> str:
    """The machine kind a record holds for: the CPU's model name with its family and model
    numbers (a virtual machine may name Zen 3, 4 and 5 all "AMD EPYC", and they round
    differently), torch's version and the thread count."""
    import torch

    from inceptionism.machine import cpu_info, cpu_model

    info = cpu_info()
    kind = f"{cpu_model()} (family {info.get('cpu family', '?')} model {info.get('model', '?')})"
    return f"{kind} | torch {torch.__version__} | {torch.get_num_threads()} threads"


def _commands() -> dict[str, list[str]]:
    return json.loads((HERE / "commands.json").read_text())["commands"]


def _run_all(out: Path) -> dict[str, dict]:
    """Run every command in-process; return per output file its pixel hash and parameters."""
    from typer.testing import CliRunner

    from inceptionism.cli import app
    from inceptionism.images import read_metadata

    runner = CliRunner()
    record: dict[str, dict] = {}
    for name, argv in _commands().items():
        args = [a.format(ex=EXAMPLES, rec=HERE, out=out) for a in argv]
        before = set(out.iterdir())
        result = runner.invoke(app, [*args, "--quiet"])
        assert result.exit_code == 0, f"{name}: exit {result.exit_code}: {result.output}"
        for path in sorted(set(out.iterdir()) - before):
            if path.suffix == ".json":
                record[path.name] = {"parameters": json.loads(path.read_text())}
                continue
            meta = read_metadata(path) if path.suffix == ".png" else None
            params = (meta or {}).get("config", {k: v for k, v in (meta or {}).items() if k != "inceptionism"})
            record[path.name] = {"command": name, "pixels": _pixel_hash(path), "parameters": params}
    # Paths are recorded as the placeholders of the command lines, so a record holds in any checkout.
    text = json.dumps(record)
    for folder, mark in ((out, "{out}"), (EXAMPLES, "{ex}"), (HERE, "{rec}")):
        text = text.replace(json.dumps(str(folder))[1:-1], mark)
    return json.loads(text)


def _pixel_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with Image.open(path) as im:
        for frame in ImageSequence.Iterator(im):
            digest.update(np.asarray(frame.convert("RGBA")).tobytes())
    return digest.hexdigest()


def _recorded() -> dict[str, dict]:
    path = HERE / "outputs.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return _run_all(tmp_path_factory.mktemp("recorded"))


def test_every_command_writes_its_outputs(outputs: dict[str, dict]) -> None:
    made = {entry.get("command") for entry in outputs.values()}
    assert made >= set(_commands()), f"commands without output: {set(_commands()) - made}"


def test_configs_read_back_reproduce_the_pixels(outputs: dict[str, dict]) -> None:
    assert outputs["from-json.png"]["pixels"] == outputs["saved.png"]["pixels"]
    assert outputs["from-json.png"]["parameters"] == outputs["saved.png"]["parameters"]
    assert outputs["from-image.png"]["parameters"]["steps"] == 2
    assert outputs["from-image.png"]["parameters"]["seed"] == outputs["deep.png"]["parameters"]["seed"]


def test_outputs_match_the_record_for_this_machine(outputs: dict[str, dict]) -> None:
    record = _recorded().get(fingerprint())
    if record is None:
        pytest.skip(f"recorded pixels: no record for {fingerprint()!r}; record this machine kind with: "
                    "bash scripts/record.sh")
    assert set(record) <= set(outputs), f"outputs no longer written: {set(record) - set(outputs)}"
    for name, want in record.items():
        got = outputs[name]
        if "pixels" in want:
            assert got["pixels"] == want["pixels"], f"{name} ({want['command']}): pixels changed"
        changed = {k: (v, got["parameters"].get(k)) for k, v in want["parameters"].items() if got["parameters"].get(k) != v}
        assert not changed, f"{name}: recorded parameters changed (was, now): {changed}"


if __name__ == "__main__" and "--record" in sys.argv:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        made = _run_all(Path(folder))
    everything = _recorded()
    everything[fingerprint()] = made
    (HERE / "outputs.json").write_text(json.dumps(everything, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(made)} outputs for {fingerprint()!r}")
