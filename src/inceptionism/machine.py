"""What this machine is: its processor's model and feature flags, as ``/proc/cpuinfo`` says
(the precision rule's hardware class, and the record of where a figure was made)."""

from __future__ import annotations

import platform
from pathlib import Path

__all__ = ["cpu_info", "cpu_flags", "cpu_model"]


def cpu_info() -> dict[str, str]:
    """The first processor's fields in ``/proc/cpuinfo`` ("model name", "flags", ...); empty
    where there is no such file."""
    info: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if not colon:
            if info:
                break  # the blank line after the first processor
            continue
        info.setdefault(key.strip(), value.strip())
    return info


def cpu_flags() -> frozenset[str]:
    """The processor's feature flags (``avx2``, ``avx512_bf16``, ...); empty where unknown."""
    return frozenset(cpu_info().get("flags", "").split())


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``), for records of where a figure was made."""
    return cpu_info().get("model name") or platform.processor() or platform.machine()
