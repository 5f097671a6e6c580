"""The same results on every CPU kind and under any load: ``precision="auto"`` is a rule per
hardware class (never a timing), the driver of a run makes the machine's choices once and
hands them to its workers, and the tile size does not follow free memory.

No test here depends on the CPU it runs on: the hardware class is faked (the CPU flags,
or ``INCEPTIONISM_HARDWARE_CLASS``), and the rule table is replaced where a test needs
``auto`` to resolve to bf16, so every branch runs on every machine.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import inceptionism
from inceptionism import precision
from inceptionism.cli import app
from inceptionism.config import DreamConfig
from inceptionism.errors import ConfigError
from inceptionism.images import read_metadata
from inceptionism.models import load_model

CPU = torch.device("cpu")
FAST = ["--octaves", "2", "--steps", "2", "--quiet"]


@pytest.fixture(autouse=True)
def detected(monkeypatch):
    """Each test starts from the detected class, whatever the environment CI runs under."""
    monkeypatch.delenv(precision.ENV, raising=False)


@pytest.fixture()
def auto_is_bf16(monkeypatch):
    """Drivers that resolve without a loaded network (``api.spec_for``) see every network as
    one measured faster in bf16 on every hardware class; a loaded network, or another
    process (a cluster's worker), still has its real spec, which says fp32 for Lite0."""
    import dataclasses

    import inceptionism.api

    real = inceptionism.api.spec_for
    every = frozenset(precision.CLASSES)
    monkeypatch.setattr(inceptionism.api, "spec_for", lambda *a: dataclasses.replace(real(*a), bf16_faster=every))


@pytest.mark.parametrize(("flags", "expected"), [
    (set(), "cpu"),
    ({"avx2", "avx512f"}, "cpu"),
    ({"avx512f", "avx512_bf16"}, "cpu-avx512-bf16"),
    ({"avx512_bf16", "amx_bf16", "amx_tile"}, "cpu-amx-bf16"),
])  # fmt: skip
def test_the_hardware_class_follows_the_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(flags))
    assert precision.hardware_class(CPU) == expected
    assert precision.native_bf16(CPU) == (expected != "cpu")


def test_the_hardware_class_can_be_named_for_devices_of_its_type(monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    monkeypatch.setenv(precision.ENV, "cpu")  # the no-bf16 branch on a machine with bf16 units
    assert precision.hardware_class(CPU) == "cpu" and not precision.native_bf16(CPU)
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset())
    monkeypatch.setenv(precision.ENV, "cpu-avx512-bf16")  # and the other way round
    assert precision.hardware_class(CPU) == "cpu-avx512-bf16"
    monkeypatch.setenv(precision.ENV, "cuda-bf16")  # a GPU's class says nothing of the CPU
    assert precision.hardware_class(CPU) == "cpu"
    monkeypatch.setenv(precision.ENV, "avx512")
    with pytest.raises(ConfigError, match="INCEPTIONISM_HARDWARE_CLASS='avx512' is not a hardware class; use one of cpu, "):
        precision.hardware_class(CPU)


def spec(*classes: str):
    import dataclasses

    from inceptionism.models import get_spec

    return dataclasses.replace(get_spec("efficientnet-lite0"), bf16_faster=frozenset(classes))


@pytest.mark.parametrize("name", [name for name in precision.CLASSES if name.startswith("cpu")])
def test_auto_is_bf16_only_where_the_network_lists_the_class(monkeypatch, name):
    monkeypatch.setenv(precision.ENV, name)
    assert precision.resolve_precision("auto", CPU, spec()) == "fp32"  # listed nowhere
    assert precision.resolve_precision("auto", CPU, spec(name)) == "bf16"
    others = [other for other in precision.CLASSES if other != name]
    assert precision.resolve_precision("auto", CPU, spec(*others)) == "fp32"  # another class's listing is its own
    for asked in ("fp32", "bf16"):  # asked for: kept, whatever the spec says
        assert precision.resolve_precision(asked, CPU, spec(name)) == asked
        assert precision.resolve_precision(asked, CPU, spec()) == asked


def test_a_gpu_follows_its_own_class(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    gpu = torch.device("cuda")
    assert precision.hardware_class(gpu) == "cuda-bf16"
    assert precision.resolve_precision("auto", gpu, spec("cpu-avx512-bf16")) == "fp32"
    assert precision.resolve_precision("auto", gpu, spec("cuda-bf16")) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert precision.resolve_precision("auto", gpu, spec("cuda-bf16")) == "fp32"
    assert precision.hardware_class(torch.device("mps")) == "mps"  # a class no spec lists: fp32
    assert precision.resolve_precision("auto", torch.device("mps"), spec(*precision.CLASSES)) == "fp32"


def test_the_measured_networks_get_bf16_on_their_class_only(monkeypatch):
    """The tables as measured (docs/performance.md, "Precision"): on AVX512-BF16 the dense
    networks take bf16, the ones built on depthwise convolutions stay fp32."""
    from inceptionism.models import spec_for

    monkeypatch.setenv(precision.ENV, "cpu-avx512-bf16")
    assert precision.resolve_precision("auto", CPU, spec_for("torchvision/resnet50", "random")) == "bf16"
    assert precision.resolve_precision("auto", CPU, spec_for("timm/inception_v3", "random")) == "bf16"
    for name in ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"):
        assert precision.resolve_precision("auto", CPU, spec_for(name, None)) == "fp32"
    monkeypatch.setenv(precision.ENV, "cpu")
    assert precision.resolve_precision("auto", CPU, spec_for("torchvision/resnet50", "random")) == "fp32"


def test_auto_with_bf16_units_computes_nothing_in_bf16_to_decide(model, small_photo, monkeypatch):
    """The old ``auto`` timed bf16 against fp32 before the dream, so its choice followed the
    machine's load at that moment. Now no gradient runs in bf16 unless bf16 is the answer."""
    monkeypatch.setenv(precision.ENV, "cpu-avx512-bf16")
    entered = []
    real = torch.autocast

    def spy(*args, **kwargs):
        entered.append(kwargs.get("enabled", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "autocast", spy)
    result = inceptionism.render(small_photo, model=model, octaves=1, steps=2, seed=0)
    assert result.config.precision == "fp32" and entered and not any(entered)


def test_each_cpu_class_dreams_in_its_rules_precision_and_nothing_else(small_photo, monkeypatch):
    """A network with a bf16 rule (ResNet-18: bf16 on AVX512-BF16 only) dreamed under each CPU
    class: the class changes the bytes only through the precision its rule gives, which is
    recorded; the same precision asked for by name gives the same bytes. (The default network
    is fp32 on every class, so it could not tell the classes apart.)"""
    net = load_model("torchvision/resnet18", weights="random")
    args = dict(model=net, layers="layer2", octaves=1, steps=2, seed=5)
    by_name = {p: np.asarray(inceptionism.render(small_photo, precision=p, **args).image) for p in ("fp32", "bf16")}
    assert not np.array_equal(by_name["fp32"], by_name["bf16"])  # the two precisions are told apart
    for name in (n for n in precision.CLASSES if n.startswith("cpu")):
        monkeypatch.setenv(precision.ENV, name)
        result = inceptionism.render(small_photo, **args)
        expected = "bf16" if name in net.spec.bf16_faster else "fp32"
        assert result.metadata["config"]["precision"] == expected, name  # the resolved choice, not "auto"
        assert np.array_equal(np.asarray(result.image), by_name[expected]), name
    assert net.spec.bf16_faster == {"cpu-avx512-bf16"}  # the rule this test was written against


def test_config_from_an_output_reuses_its_resolved_precision(small_photo, tmp_path, monkeypatch):
    """A dense network dreamed where bf16 is its rule records bf16; read back on a machine
    whose rule says fp32, the output's recipe still says bf16, and the bytes are the same."""
    first, again, fresh = tmp_path / "first.png", tmp_path / "again.png", tmp_path / "fresh.png"
    net = ["--model", "torchvision/resnet18", "--weights", "random", "--layers", "layer2", "--seed", "2", *FAST]
    monkeypatch.setenv(precision.ENV, "cpu-avx512-bf16")
    assert CliRunner().invoke(app, ["dream", str(small_photo), "-o", str(first), *net]).exit_code == 0
    assert read_metadata(first)["config"]["precision"] == "bf16"
    monkeypatch.setenv(precision.ENV, "cpu")
    assert CliRunner().invoke(app, ["dream", str(small_photo), "-o", str(again), "--config", str(first), "-q"]).exit_code == 0
    assert read_metadata(again)["config"]["precision"] == "bf16"  # reused, though auto here now says fp32
    assert np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(again)))
    assert CliRunner().invoke(app, ["dream", str(small_photo), "-o", str(fresh), *net]).exit_code == 0
    assert read_metadata(fresh)["config"]["precision"] == "fp32"


def test_a_batch_hands_its_runner_the_resolved_precision(small_photo, tmp_path, auto_is_bf16):
    from inceptionism.motion.batch import dream_folder

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(small_photo.read_bytes())
    seen = []

    class Runner:  # what a cluster's runner receives, to ship to its workers
        def dream_files(self, items, cfg):
            seen.append(cfg.precision)
            return iter(())

    dream_folder(folder, tmp_path / "out", DreamConfig(seed=1, steps=1, octaves=1), runner=Runner())
    assert seen == ["bf16"]


def test_a_studio_job_reaches_its_worker_with_the_servers_precision(tmp_path, small_photo, monkeypatch, auto_is_bf16):
    from inceptionism.runners import LocalRunner

    from .support import TINY, studio_client, submit, wait

    seen = []
    real = LocalRunner.dream_job
    monkeypatch.setattr(LocalRunner, "dream_job", lambda self, image, name, cfg, events: seen.append(cfg.precision)
                        or real(self, image, name, cfg, events))
    with studio_client(tmp_path / "data", workers=1) as client:
        job = wait(client, submit(client, small_photo.read_bytes(), **TINY).json()["id"])
    assert job["status"] == "done", job["error"]
    assert seen == ["bf16"] and job["config"]["precision"] == "bf16"  # resolved by the server, before the worker


def test_the_tile_size_does_not_follow_free_memory(model, monkeypatch):
    from inceptionism.engine import tiles

    layers = frozenset({"blocks.4.1.bn1", "blocks.5.0.bn1"})
    quiet = tiles.auto_tile_size(model, layers, 3000, 4000)
    real = tiles.os.sysconf

    def busy(name):  # another process holds all but 256 MB
        return (256 << 20) // real("SC_PAGE_SIZE") if name == "SC_AVPHYS_PAGES" else real(name)

    monkeypatch.setattr(tiles.os, "sysconf", busy)
    assert tiles.auto_tile_size(model, layers, 3000, 4000) == quiet
