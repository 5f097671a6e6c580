"""Any timm or torchvision architecture by name: ``timm/inception_v3``, ``torchvision/googlenet``.

Their weights are never downloaded at run time. They are looked up, in order, in the
project's cache (``$INCEPTIONISM_HOME/weights``), torch hub's checkpoints folder and the
Hugging Face cache that timm uses; ``--weights PATH`` names a file directly and
``--weights random`` keeps random weights (benchmarks, tests). Preprocessing comes
from the architecture's own metadata (timm's ``pretrained_cfg``, torchvision's weights
transforms). Their dream layers are chosen from the network's depth at load time.
"""

from __future__ import annotations

import difflib
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any, Callable

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

from ..errors import ModelError, WeightsMissingError
from ..paths import weights_cache_dir
from ..imports import import_timm, import_torchvision
from .spec import InputRule, Measured, ModelSpec, Shape, Source, Tokens
from .weights import load_file

__all__ = ["family_spec", "FAMILIES", "CLASSICS", "classic_weights"]

FAMILIES = ("timm", "torchvision")

# Smallest input side of timm architectures whose stem shrinks more than 32 px to nothing
# (torchvision's weights carry this fact themselves, as meta["min_size"]).
TIMM_MIN_SIZE = {"inception_v3": 75, "inception_v4": 75, "inception_resnet_v2": 75}

# Hardware classes where bf16 was measured faster than fp32 (at most 0.8x at 256 and 640 px on
# 2 threads and 512 px on 1) and as good (a short dream's gain within 3%) for these networks:
# benchmarks/bench_precision.py networks, docs/performance.md "Precision". Precision "auto"
# picks bf16 there only. A network measured and left out (depthwise convolutions: MobileNetV3,
# EfficientNet, MobileViT; or a random-weight dream that does not move) stays fp32, as does
# every network nobody has measured.
_AVX512_BF16 = frozenset({"cpu-avx512-bf16"})
BF16_FASTER = {
    **dict.fromkeys(("timm/inception_v3", "timm/vgg16", "timm/resnet50", "timm/resnext50_32x4d", "timm/densenet121",
                     "timm/convnext_tiny", "timm/regnety_016"), _AVX512_BF16),
    **dict.fromkeys(("torchvision/vgg16", "torchvision/vgg19", "torchvision/resnet50", "torchvision/resnet18"),
                    _AVX512_BF16),
}


# The networks of the classic tutorials, listed by name (any other timm/NAME or torchvision/NAME
# works too), with what ``inceptionism models`` shows of them, read without importing timm or
# torchvision, and with them torch: where their weights come from, the checkpoint file torch
# hub keeps them as, and the Hugging Face repository timm fetches them from.
# tests/test_models.py holds each row to what the libraries say.
CLASSICS: dict[str, tuple[str, str | None, str | None]] = {
    "timm/inception_v3": ("timm checkpoint (timm/inception_v3.tv_in1k)", "inception_v3_google-1a9a5a14.pth",
                          "timm/inception_v3.tv_in1k"),
    "timm/inception_resnet_v2": ("timm checkpoint (timm/inception_resnet_v2.tf_in1k)", None,
                                 "timm/inception_resnet_v2.tf_in1k"),
    "timm/vgg16": ("timm checkpoint (timm/vgg16.tv_in1k)", None, "timm/vgg16.tv_in1k"),
    "torchvision/googlenet": ("torchvision checkpoint googlenet-1378be20.pth", "googlenet-1378be20.pth", None),
    "torchvision/vgg16": ("torchvision checkpoint vgg16-397923af.pth", "vgg16-397923af.pth", None),
    "torchvision/vgg19": ("torchvision checkpoint vgg19-dcbb9e9d.pth", "vgg19-dcbb9e9d.pth", None),
    "torchvision/inception_v3": ("torchvision checkpoint inception_v3_google-0cc3c7bd.pth",
                                 "inception_v3_google-0cc3c7bd.pth", None),
    "torchvision/resnet50": ("torchvision checkpoint resnet50-11ad3fa6.pth", "resnet50-11ad3fa6.pth", None),
}


def classic_weights(name: str) -> tuple[str, Path | None]:
    """A classic network's weights source and file (None when absent), from :data:`CLASSICS`
    alone: the same search as its spec's, without importing timm, torchvision or torch."""
    source, hub_file, repo = CLASSICS[name]
    candidates = ([_hub_dir() / hub_file] if hub_file else []) + (_hf_files(repo) if repo else [])
    try:
        return source, _find_weights(name, candidates)
    except WeightsMissingError:
        return source, None


def _hub_dir() -> Path:
    """torch hub's checkpoints folder, as ``torch.hub.get_dir`` has it ($TORCH_HOME, else
    $XDG_CACHE_HOME/torch, else ~/.cache/torch; ``hub.set_dir`` too once torch is imported)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return Path(torch.hub.get_dir()) / "checkpoints"
    cache = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return Path(os.path.expanduser(os.environ.get("TORCH_HOME", os.path.join(cache, "torch")))) / "hub" / "checkpoints"


def _hf_files(repo: str) -> list[Path]:
    hf_home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    snapshots = hf_home / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots"
    return sorted(snapshots.glob("*/model.safetensors")) + sorted(snapshots.glob("*/pytorch_model.bin"))


def _find_weights(name: str, candidates: list[Path], source: Source | None = None) -> Path:
    own = weights_cache_dir() / name.replace("/", "--")
    cached = [p for p in sorted(own.parent.glob(own.name + ".*")) if p.suffix != ".part"]  # not half-downloaded files
    for path in [*cached, *candidates]:
        if path.is_file():
            return path
    fetch = f"{source.hint(name)}; or " if source is not None else ""
    raise WeightsMissingError(
        f"weights for {name!r} are missing: {fetch}put the checkpoint at {own}.pth (or .safetensors) "
        f"or in {_hub_dir()}, or pass --weights PATH (--weights random to use random weights)"
    )


def _load_found(name: str, candidates: list[Path], source: Source | None, net: nn.Module) -> str:
    return load_file(net, _find_weights(name, candidates, source), name)


def _check_arch(family: str, arch: str, names: list[str]) -> None:
    if arch not in names:
        near = difflib.get_close_matches(arch, names, n=3)
        raise ModelError(f"unknown {family} architecture {arch!r}" + (f"; did you mean {', '.join(near)}?" if near else ""))


def _timm_spec(arch: str) -> ModelSpec:
    timm = import_timm()

    _check_arch("timm", arch, timm.list_models())
    cfg = timm.models.get_pretrained_cfg(arch)
    info = cfg.to_dict() if cfg is not None else {}
    candidates = []
    if info.get("url"):
        candidates.append(_hub_dir() / Path(info["url"]).name)
    if info.get("hf_hub_id"):
        candidates.extend(_hf_files(info["hf_hub_id"]))
    name = f"timm/{arch}"
    shape = Shape(measure=partial(_timm_shape, arch, info))
    return _library_spec(
        name, partial(_timm_build, arch, shape), candidates,
        shape=shape,
        weights_source=f"timm checkpoint ({info.get('hf_hub_id') or info.get('url') or 'no public weights'})",
        mean=tuple(info.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(info.get("std", (0.229, 0.224, 0.225))),
        description=f"timm {arch}",
        labels="imagenet-1k" if info.get("num_classes", 1000) == 1000 else None,
        download=_timm_source(name, info),
    )


def _library_spec(name: str, build: Callable[[], nn.Module], candidates: list[Path], **facts: Any) -> ModelSpec:
    """The spec of a library's network ``name``: built by ``build``, its weights the first of
    ``candidates`` found (the libraries' own caches), its bf16 rule from BF16_FASTER."""
    source = facts.get("download")
    return ModelSpec(name=name, build=build, load_weights=partial(_load_found, name, candidates, source),
                     weights_file=partial(_find_weights, name, candidates, source),
                     bf16_faster=BF16_FASTER.get(name, frozenset()), **facts)


def _timm_build(arch: str, shape: Shape) -> nn.Module:
    from .same import without_pad_copies

    return without_pad_copies(import_timm().create_model(arch, pretrained=False, **shape.facts.options))


def _read_only(build: Callable[[], nn.Module]) -> nn.Module:
    """The architecture built without its random initialization (:class:`NoRandomFills`; a
    tenth of a second), only to be read: its class and attributes say which input sizes it
    takes and how its tokens lie. (On the meta device its initializers' and layer scales'
    arithmetic would import torch._dynamo, 1.7 s.)"""
    from .uninit import NoRandomFills

    try:
        with NoRandomFills():
            return build()
    except Exception:  # noqa: BLE001 - construction that computes with the values it did not get
        return build()


def _smallest_side(probe: nn.Module, documented: int) -> int:
    """The smallest square side (at least 32) the network's forward pass takes, tried from
    32 px up (milliseconds at those sizes): torchvision documents 224 for its Swins, which pad
    any size. ``documented`` when none smaller works."""
    for side in sorted({32, 64, 96, 128, 160, 192, 224, documented}):
        if side >= documented:
            return documented
        try:
            import torch

            with torch.no_grad():
                probe.eval()(torch.zeros(1, 3, side, side))
            return max(32, side)
        except Exception:  # noqa: BLE001 - any refusal of that size: try the next
            continue
    return documented


def _patch_tokens(net: nn.Module) -> Tokens | None:
    """The token layout of a network with a patch embedding (timm's ``patch_embed``/``stem``,
    torchvision's ``patch_size`` and ``class_token``), read from the network itself."""
    embed = next((m for m in (getattr(net, "patch_embed", None), getattr(net, "stem", None))
                  if m is not None and hasattr(m, "patch_size")), None)
    patch = getattr(embed, "patch_size", None) if embed is not None else getattr(net, "patch_size", None)
    if patch is None:
        return None
    side = patch[0] if isinstance(patch, (tuple, list)) else int(patch)
    prefix = getattr(net, "num_prefix_tokens", 1 if getattr(net, "class_token", None) is not None else 0)
    return Tokens(int(side), int(prefix))


def _timm_shape(arch: str, info: dict) -> Measured:
    """A timm network's input rule, its tokens and the options it is built with: one that can
    take any size (``dynamic_img_size``, as ViT, DeiT, EVA and Swin can) is built so, and
    fed multiples of its patch; one whose configuration says it takes a fixed size and that
    cannot take others (BEiT, CaiT, MaxViT, CoAtNet) gets its one size."""
    import inspect

    probe = _read_only(partial(import_timm().create_model, arch, pretrained=False))
    dynamic = "dynamic_img_size" in inspect.signature(type(probe).__init__).parameters
    tokens = _patch_tokens(probe)
    smallest = TIMM_MIN_SIZE.get(arch, 32)
    if dynamic:
        return Measured(InputRule(multiple=tokens.patch if tokens else 1), tokens, smallest, {"dynamic_img_size": True})
    if info.get("fixed_input_size"):
        return Measured(InputRule(fixed=int(info.get("input_size", (3, 224, 224))[-1])), tokens, smallest)
    return Measured(InputRule(), tokens, smallest)


def _timm_source(name: str, info: dict) -> Source | None:
    stem = name.replace("/", "--")
    if info.get("hf_hub_id"):
        return Source(f"https://huggingface.co/{info['hf_hub_id']}/resolve/main/model.safetensors", f"{stem}.safetensors", None)
    if info.get("url"):
        return Source(info["url"], f"{stem}.pth", None)
    return None


def _torchvision_build(arch: str) -> nn.Module:
    torchvision = import_torchvision()

    extra = {}
    if arch in ("googlenet", "inception_v3"):
        # As the pretrained weights expect: aux heads present, inputs re-normalized inside.
        extra = {"aux_logits": True, "transform_input": True, "init_weights": False}
    return torchvision.models.get_model(arch, weights=None, **extra)


def _torchvision_spec(arch: str) -> ModelSpec:
    torchvision = import_torchvision()

    _check_arch("torchvision", arch, torchvision.models.list_models(module=torchvision.models))
    weights = torchvision.models.get_model_weights(arch).DEFAULT
    transform = weights.transforms()
    name = f"torchvision/{arch}"
    candidates = [_hub_dir() / Path(weights.url).name]
    documented = max(32, *weights.meta.get("min_size", (32, 32)))
    return _library_spec(
        name, partial(_torchvision_build, arch), candidates,
        shape=Shape(measure=partial(_torchvision_shape, arch, documented)),
        weights_source=f"torchvision checkpoint {Path(weights.url).name}",
        mean=tuple(transform.mean),
        std=tuple(transform.std),
        description=f"torchvision {arch}",
        labels="imagenet-1k",
        download=Source(weights.url, f"{name.replace('/', '--')}.pth", _checksum_prefix(weights.url)),
    )


def _torchvision_shape(arch: str, documented: int) -> Measured:
    """A torchvision network's input rule and tokens, read from the architecture, and the
    smallest side it takes (tried from 32 px up; ``documented`` is its weights' own figure)."""
    probe = _read_only(partial(_torchvision_build, arch))
    fixed = getattr(probe, "image_size", None)  # its ViTs assert their one size
    inputs = InputRule(fixed=int(fixed)) if fixed else InputRule()
    return Measured(inputs, _patch_tokens(probe), 32 if fixed else _smallest_side(probe, documented))


def _checksum_prefix(url: str) -> str | None:
    """torchvision names its files NAME-SHA256PREFIX.pth and checks that prefix; so does fetch."""
    prefix = Path(url).stem.rsplit("-", 1)[-1]
    return prefix if len(prefix) >= 8 else None


def family_spec(name: str) -> ModelSpec:
    """Build the spec of ``timm/ARCH`` or ``torchvision/ARCH``."""
    family, _, arch = name.partition("/")
    if family == "timm":
        return _timm_spec(arch)
    if family == "torchvision":
        return _torchvision_spec(arch)
    raise ModelError(f"unknown model family {family!r}; use one of {', '.join(FAMILIES)}")
