"""The default model's weights are real; the registry behaves."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from inceptionism.errors import ModelError
from inceptionism.images import load_image, to_tensor
from inceptionism.models import get_spec, list_models, load_model, register
from inceptionism.models.weights import load_by_order

from .support import modules_a_dream_imports


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


@pytest.mark.parametrize("k", [0, 1, 2])
def test_lite_networks_are_timms_layer_for_layer(k):
    """The Lite networks are built without timm (a fast start), but are timm's module for module."""
    import timm

    from inceptionism.models.efficientnet import EfficientNetLite

    reference, ours = timm.create_model(f"tf_efficientnet_lite{k}").eval(), EfficientNetLite(k).eval()
    assert [name for name, _ in ours.named_modules()] == [name for name, _ in reference.named_modules()]
    shapes = [(name, tuple(t.shape)) for name, t in reference.state_dict().items()]
    assert [(name, tuple(t.shape)) for name, t in ours.state_dict().items()] == shapes  # the weights load by order
    ours.load_state_dict(reference.state_dict())
    assert ours.group_matcher(coarse=True) == reference.group_matcher(coarse=True)  # training's stages
    x = torch.randn(1, 3, 97, 130, requires_grad=True)  # odd and even sides: both "same" paddings
    y, y_ref = ours(x), reference(x)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.autograd.grad(y[0, 281], x)[0], torch.autograd.grad(y_ref[0, 281], x)[0],
                               rtol=1e-4, atol=1e-6)


def test_a_default_dream_does_not_import_timm_or_torchvision_or_torch_meta_kernels(tmp_path):
    """Importing timm costs about 1.5 s (torchvision, torch._dynamo), and torch's meta kernels
    0.3 s (imports.defer_torch_meta_kernels): the default command must pay neither."""
    imported = modules_a_dream_imports(tmp_path / "out.png")
    assert not {name for name in imported if name.split(".")[0] in ("timm", "torchvision")}
    assert not {name for name in imported if name.split(".")[:2] in (["torch", "_decomp"], ["torch", "_refs"], ["torch", "_prims"])}


def test_a_network_whose_weights_are_loaded_skips_its_random_initialization():
    """Initializing is wasted where the weights replace every parameter (1.3 s for VGG-16)."""
    from dataclasses import replace

    from inceptionism.models.loading import _build_uninitialized

    spec = get_spec("efficientnet-lite0")
    before = torch.random.get_rng_state()
    net = _build_uninitialized(spec)
    assert torch.equal(torch.random.get_rng_state(), before)  # no initializer drew a random number
    spec.build()
    assert not torch.equal(torch.random.get_rng_state(), before)  # as the usual build does
    reference = spec.build()
    spec.load_weights(net), spec.load_weights(reference)
    for (name, ours), (_, theirs) in zip(net.state_dict().items(), reference.state_dict().items()):
        assert torch.equal(ours, theirs), name

    class Projection(nn.Module):  # a random buffer that no weights file holds
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 4)
            self.register_buffer("plane", torch.randn(4, 4), persistent=False)

    class Attribute(nn.Module):  # a random tensor kept as a plain attribute
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 4)
            self.plane = torch.randn(4, 4)

    for kind in (Projection, Attribute):
        torch.manual_seed(0)
        usual = kind().plane
        torch.manual_seed(0)
        built = _build_uninitialized(replace(spec, build=kind))
        assert torch.equal(built.plane, usual), kind.__name__  # built the usual way


def test_skipping_initialization_on_one_thread_leaves_other_threads_random():
    """The studio builds networks on one thread while another dreams: only the builder's fills are skipped."""
    import threading

    from inceptionism.models.uninit import NoRandomFills as _NoRandomFills

    inside, done, filled = threading.Event(), threading.Event(), {}

    def elsewhere() -> None:
        inside.wait(timeout=30)
        filled["other"] = bool(torch.zeros(100).uniform_().abs().sum() > 0)
        done.set()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    with _NoRandomFills():
        inside.set()
        done.wait(timeout=30)
        filled["here"] = bool(torch.zeros(100).uniform_().abs().sum() > 0)
    thread.join()
    assert filled == {"other": True, "here": False}


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


def test_packaged_weights_are_read_through_a_safetensors_copy_kept_whole(tmp_path, monkeypatch):
    """The legacy .pth's safe reader is slow (0.033 s of every command); a copy in the cache
    is read instead, gives the same weights, and a damaged or unwritable one costs nothing."""
    from inceptionism.models import weights
    from inceptionism.models.loading import _build_uninitialized
    from inceptionism.models.registered import lite_file

    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "home"))
    spec, path = get_spec("efficientnet-lite0"), lite_file(0)
    reference = _build_uninitialized(spec)
    load_by_order(reference, path, "lite0")
    reads = []
    real_read = weights._read_state_dict
    monkeypatch.setattr(weights, "_read_state_dict", lambda *a: reads.append(a) or real_read(*a))

    def load() -> nn.Module:
        net = _build_uninitialized(spec)
        assert weights.load_packaged(net, path, "lite0") == weights.sha256_file(path)  # the original's checksum
        for (name, mine), theirs in zip(net.state_dict().items(), reference.state_dict().values()):
            assert torch.equal(mine, theirs), name
        return net

    load()
    (copy,) = (tmp_path / "home" / "weights").glob("*.safetensors")
    assert len(reads) == 1 and not list(copy.parent.glob(".*.tmp"))
    load()
    assert len(reads) == 1, "the copy was not used"
    copy.write_bytes(copy.read_bytes()[: copy.stat().st_size // 2])  # cut short, as by a full disk
    load()
    assert len(reads) == 2 and copy.stat().st_size > 18_000_000, "the damaged copy was not replaced"
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("INCEPTIONISM_HOME", str(tmp_path / "a-file" / "home"))  # a cache that cannot be made
    load()
    assert len(reads) == 3


def test_listing_the_networks_builds_none_and_their_size_facts_are_measured_once_on_first_use(monkeypatch):
    import inceptionism.models as models
    from inceptionism.models import families

    monkeypatch.setattr(models.registry, "_FAMILY_SPECS", {})
    built = []
    real = families._read_only
    monkeypatch.setattr(families, "_read_only", lambda build: built.append(build) or real(build))
    specs = [models.get_spec(name) for name in models.list_models()]
    [models.weights_path(spec) for spec in specs]  # what `inceptionism models` shows
    assert built == [] and not any(spec.shape.measured for spec in specs if "/" in spec.name)
    inception = models.get_spec("timm/inception_v3")
    assert (inception.min_size, inception.inputs.plain, inception.tokens) == (75, True, None)
    vit = models.get_spec("torchvision/vit_b_16")
    assert (vit.inputs.fixed, vit.tokens.patch, vit.min_size) == (224, 16, 32)
    assert len(built) == 2 and vit.min_size == 32 and len(built) == 2  # each measured once


def test_the_classics_listed_without_their_libraries_are_what_the_libraries_say(monkeypatch):
    """``inceptionism models`` describes the classic networks from a table (no timm, torchvision
    or torch imported): each row's weights source and checkpoint names are their spec's."""
    import inceptionism.models as models
    from inceptionism.models import families

    monkeypatch.setattr(models.registry, "_FAMILY_SPECS", {})
    for name, (source, hub_file, repo) in families.CLASSICS.items():
        spec = families.family_spec(name)
        assert spec.weights_source == source, name
        candidates = [p.name for p in spec.weights_file.args[1]]  # partial(_find_weights, name, candidates, ...)
        assert candidates[:1] == ([hub_file] if hub_file else []), name
        if name.startswith("timm/"):
            from inceptionism.imports import import_timm

            assert import_timm().models.get_pretrained_cfg(name.split("/")[1]).hf_hub_id == repo, name


def test_listing_the_networks_imports_no_torch(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "inceptionism", "models", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "inceptionism.models" in imported and not {"torch", "timm", "torchvision"} & imported
    assert len(json.loads(done.stdout)) >= 12  # every network listed
