"""The octave plan: which image sizes a dream visits, smallest first."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Octave", "plan_octaves", "octave_factors"]


@dataclass(frozen=True)
class Octave:
    """One octave: its exponent k (scale = octave_scale**k) and its size (H, W)."""

    k: int
    height: int
    width: int


def plan_octaves(
    height: int, width: int, indices: list[int], scale: float, min_size: int
) -> tuple[list[Octave], list[Octave]]:
    """Sizes for octave exponents ``indices`` of an image of ``height`` x ``width``.

    Octave k has size ``round(side * scale**k)``; octave 0 is the input size and
    positive k go above it. Octaves whose shorter side falls below ``min_size`` are
    returned separately as skipped, so the caller can say so instead of crashing.

    Returns:
        (octaves to run, smallest first; skipped octaves)
    """
    run, skipped = [], []
    for k, factor in octave_factors(indices, scale):
        octave = Octave(k, max(1, round(height * factor)), max(1, round(width * factor)))
        (skipped if min(octave.height, octave.width) < min_size else run).append(octave)
    return run, skipped


def octave_factors(indices: list[int], scale: float) -> list[tuple[int, float]]:
    """Each octave exponent k of ``indices`` (smallest first, each once) and the factor its
    octave scales a picture's sides by, ``scale**k``: the one place an octave's size comes from
    (the plan above, a server's limits, a job's progress weighted by area)."""
    return [(k, scale**k) for k in sorted(set(indices))]
