"""``precision="auto"``: bf16 where the hardware computes it natively and a short
calibration shows it faster; fp32 otherwise.

Native bf16 means a GPU with bf16 units (``torch.cuda.is_bf16_supported``) or a CPU
whose flags include ``avx512_bf16`` or ``amx_bf16``; elsewhere bf16 is emulated and
many times slower, so auto is fp32 without trying. Where it is native, a calibration
times a few gradient steps of the network in both precisions at the picture's size
class, and bf16 is chosen when it is at least 10% faster. The decision is cached per
machine, torch version, device, network and size class in ``cache_root()/precision.json``,
so it is measured once. The chosen precision is recorded in the output's parameters.
"""

from __future__ import annotations

import json
import time
from typing import Callable

import torch

from .engine.tiles import objective_gradient
from .errors import OutputError
from .images import write_atomic
from .models.spec import LoadedModel
from .objectives import Objective
from .paths import cache_root
from .runtime import cpu_flags, cpu_model
from .taps import capture

__all__ = ["native_bf16", "resolve_precision", "size_class", "calibrate"]

FASTER = 0.9  # bf16 is chosen when its step takes at most this share of an fp32 step


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 in hardware."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def size_class(height: int, width: int) -> int:
    """The power of two at or above the longer side, at least 256: calibration sizes."""
    side = 256
    while side < max(height, width):
        side *= 2
    return side


def calibrate(model: LoadedModel, objective: Objective, side: int, steps: int = 3) -> dict[str, float]:
    """Seconds per gradient step in fp32 and in bf16 on a ``side`` x ``side`` picture (the best of ``steps``)."""
    x = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0)).to(model.device)
    seconds = {}
    with capture(model, sorted(objective.layers)) as run:
        for precision in ("fp32", "bf16"):
            best = float("inf")
            for _ in range(steps + 1):  # the first is a warm-up
                started = time.perf_counter()
                score, grad = objective_gradient(run, objective, x, tile=side, shift=(0, 0), precision=precision)
                float(grad.abs().sum())  # wait for the device
                best = min(best, time.perf_counter() - started)
            seconds[precision] = best
    return seconds


def resolve_precision(
    wanted: str,
    model: LoadedModel,
    objective: Objective,
    size: tuple[int, int],
    *,
    measure: Callable[[LoadedModel, Objective, int], dict[str, float]] = calibrate,
) -> str:
    """``wanted`` ("fp32", "bf16" or "auto") as the precision to run with.

    Args:
        size: (H, W) of the picture, for its size class.
        measure: the calibration (replaced in tests).
    """
    if wanted != "auto":
        return wanted
    if not native_bf16(model.device):
        return "fp32"
    side = size_class(*size)
    key = f"{_machine(model.device)} | torch {torch.__version__} | {model.spec.name} | {model.weights_sha256[:12]} | {side}"
    cache = cache_root() / "precision.json"
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key not in known:
        seconds = measure(model, objective, side)
        choice = "bf16" if seconds["bf16"] <= FASTER * seconds["fp32"] else "fp32"
        known[key] = {"precision": choice, **{f"{p}_s": round(s, 5) for p, s in seconds.items()}}
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(known, indent=1, sort_keys=True)
            write_atomic(cache, lambda fh: fh.write(text.encode()))
        except (OSError, OutputError):
            pass  # a read-only cache only costs a calibration next time
    return known[key]["precision"]


def _machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_model()} ({torch.get_num_threads()} threads)"
