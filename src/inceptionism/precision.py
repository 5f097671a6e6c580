"""``precision="auto"``: the network's arithmetic from a fixed rule, never from a stopwatch.

The rule: bf16 where the network's spec lists the device's hardware class in
``ModelSpec.bf16_faster``, fp32 everywhere else. A class is listed for a network only
where bf16 was measured both faster and as good (``benchmarks/bench_precision.py
networks``; docs/performance.md, "Precision"): on a CPU with AVX512-BF16 the dense
networks (Inception, VGG, ResNet, ConvNeXt) take 0.5-0.7x fp32's time in bf16, while
the networks built on depthwise convolutions (EfficientNet-Lite, MobileNet) take 1.1-1.5x,
so the choice is the network's as much as the machine's. A class nobody measured is fp32.

A timing taken when a dream starts would follow whatever else the machine is doing at
that moment: the same command with the same seed gave different bytes from one run to
the next, and a cluster's workers settled on another precision than their driver. With
a rule, the same command, seed, device type and thread count give the same bytes on
every machine of a kind, whatever its load.

The hardware class is what a device offers for bf16: ``cpu`` (no bf16 units: oneDNN
emulates bf16, about 15x slower), ``cpu-avx512-bf16`` (AVX512-BF16 dot products: AMD
Zen 4 and 5, Intel Cooper Lake), ``cpu-amx-bf16`` (Intel AMX tiles: Sapphire Rapids and
later), ``cuda-bf16`` (a GPU with bf16 units) and ``cuda``; any other device is its type.

The driver of a run (a command, a studio job, the batch/video/zoom drivers) resolves
``auto`` once (:func:`inceptionism.api.resolve_machine_choices`) and hands the resolved
configuration, whole, to every worker, local or on a cluster; outputs record it, and
``--config OUTPUT`` reuses it.

``INCEPTIONISM_HARDWARE_CLASS`` names the class to use for devices of its type instead of
the detected one (``cpu`` on a Zen 4 takes the no-bf16 branch; ``cpu-avx512-bf16`` on a
Zen 3 the other), so tests take every branch on any machine.
"""

from __future__ import annotations

import os

import torch

from .errors import ConfigError
from .models.spec import ModelSpec
from .machine import cpu_flags

__all__ = ["CLASSES", "hardware_class", "native_bf16", "resolve_precision"]

ENV = "INCEPTIONISM_HARDWARE_CLASS"
CLASSES = ("cpu", "cpu-avx512-bf16", "cpu-amx-bf16", "cuda", "cuda-bf16")


def hardware_class(device: torch.device) -> str:
    """What ``device`` offers for bf16: one of :data:`CLASSES`, or the device type for others.

    Raises:
        ConfigError: ``INCEPTIONISM_HARDWARE_CLASS`` names no class of :data:`CLASSES`.
    """
    forced = os.environ.get(ENV, "").strip()
    if forced:
        if forced not in CLASSES:
            raise ConfigError(f"{ENV}={forced!r} is not a hardware class; use one of {', '.join(CLASSES)}")
        if forced.split("-")[0] == device.type:
            return forced
    if device.type == "cuda":
        return "cuda-bf16" if torch.cuda.is_bf16_supported() else "cuda"
    if device.type != "cpu":
        return device.type
    flags = cpu_flags()
    if "amx_bf16" in flags:
        return "cpu-amx-bf16"
    return "cpu-avx512-bf16" if "avx512_bf16" in flags else "cpu"


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 in hardware (its class says so)."""
    return hardware_class(device).endswith("bf16")


def resolve_precision(wanted: str, device: torch.device, spec: ModelSpec) -> str:
    """``wanted`` ("fp32", "bf16" or "auto") as the precision to run ``spec``'s network
    with: "auto" is bf16 where ``spec.bf16_faster`` lists the hardware class of the
    device it runs on, else fp32.

    Examples:
        >>> from inceptionism.models import get_spec
        >>> cpu, lite0 = torch.device("cpu"), get_spec("efficientnet-lite0")
        >>> resolve_precision("auto", cpu, lite0)
        'fp32'
    """
    if wanted != "auto":
        return wanted
    return "bf16" if hardware_class(device) in spec.bf16_faster else "fp32"
