"""A dream's record, step by step, and a figure of it (the classic blog's ``show_gradient``
and the score-per-step plot of the tutorials).

``StepRecorder`` is an ``on_step`` callback: per step it keeps the objective and the raw
gradient's mean |g|, standard deviation and maximum, and per octave the last gradient.
``write_plot`` draws them with matplotlib and writes the numbers beside the figure as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .engine import StepInfo
from .errors import OutputError
from .formats import fit_longest_side
from .outputs import write_atomic

__all__ = ["StepRecorder", "Snapshots", "write_gif", "write_plot"]


@dataclass
class StepRecorder:
    """Collects one row per step; call it as ``on_step``."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    last_gradients: dict[int, np.ndarray] = field(default_factory=dict)  # octave -> (h, w, 3) of its last step

    def __call__(self, info: StepInfo) -> None:
        row = {"octave": info.octave, "k": info.k, "step": info.step, "objective": float(info.score)}
        if info.gradient is not None:
            g = info.gradient.detach().float()
            row.update(mean_abs=float(g.abs().mean()), std=float(g.std()), max=float(g.abs().max()))
            if info.step == info.steps:
                self.last_gradients[info.octave] = g[0].permute(1, 2, 0).cpu().numpy()
        self.rows.append(row)


@dataclass
class Snapshots:
    """An ``on_step`` callback that keeps the picture every ``every`` steps (at its octave's
    size, as 8-bit RGB): for --save-every and --progress-gif. ``pictures(size)`` gives them
    at the output's size."""

    every: int
    frames: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (step counted over all octaves, (h, w, 3))
    count: int = 0

    def __call__(self, info: StepInfo) -> None:
        self.count += 1
        if info.image is None or self.count % self.every:
            return
        picture = info.image.detach().clamp(0, 1)[0].permute(1, 2, 0).float().cpu().numpy()
        self.frames.append((self.count, (picture * 255 + 0.5).astype(np.uint8)))

    def pictures(self, size: tuple[int, int]) -> list[tuple[int, Image.Image]]:
        """Each kept picture at ``size`` (width, height)."""
        return [(step, Image.fromarray(frame).resize(size, Image.Resampling.BICUBIC)) for step, frame in self.frames]


def write_gif(pictures: list[Image.Image], path: str | Path, *, max_side: int = 512, frame_ms: int = 100) -> Path:
    """The pictures as one looping animation, at most ``max_side`` px, the last one held longer."""
    if not pictures:
        raise OutputError(f"no snapshots for {str(path)!r}: the dream took fewer steps than --save-every")
    size = fit_longest_side(*pictures[0].size, max_side)
    frames = [p.convert("RGB").resize(size, Image.Resampling.LANCZOS) for p in pictures]
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * 10]
    return write_atomic(path, lambda fh: frames[0].save(fh, format="GIF", save_all=True, append_images=frames[1:],
                                                        duration=durations, loop=0))  # fmt: skip


def write_plot(record: StepRecorder, path: str | Path) -> tuple[Path, Path]:
    """Write the figure to ``path`` (PNG) and the numbers to the same name with ``.json``."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    path = Path(path)
    octaves = sorted(record.last_gradients)
    figure = plt.figure(figsize=(10, 7), layout="constrained")
    grid = figure.add_gridspec(3, max(1, len(octaves)))
    steps = np.arange(1, len(record.rows) + 1)
    ax = figure.add_subplot(grid[0, :])
    ax.plot(steps, [r["objective"] for r in record.rows], color="tab:orange")
    ax.set(title="objective per step", xlabel="step (all octaves)", ylabel="objective")
    _octave_lines(ax, record.rows)
    ax = figure.add_subplot(grid[1, :])
    for key, colour in (("mean_abs", "tab:blue"), ("std", "tab:green"), ("max", "tab:red")):
        ax.plot(steps, [r.get(key, np.nan) for r in record.rows], label={"mean_abs": "mean |g|"}.get(key, key), color=colour)
    ax.set(title="raw gradient per step", xlabel="step (all octaves)", yscale="log")
    ax.legend(loc="upper right")
    _octave_lines(ax, record.rows)
    for column, octave in enumerate(octaves):
        g = record.last_gradients[octave]
        shown = np.clip(0.5 + g / (4 * g.std() + 1e-12), 0, 1)  # the usual show_gradient stretch around grey
        ax = figure.add_subplot(grid[2, column])
        ax.imshow(shown)
        ax.set(title=f"octave {octave}: last gradient", xticks=[], yticks=[])
    write_atomic(path, lambda fh: figure.savefig(fh, format="png", dpi=100))
    plt.close(figure)
    numbers = path.with_suffix(".json")
    text = json.dumps({"steps": record.rows}, indent=1)
    write_atomic(numbers, lambda fh: fh.write(text.encode()))
    return path, numbers


def _octave_lines(ax: Any, rows: list[dict[str, Any]]) -> None:
    for n, (before, row) in enumerate(zip(rows, rows[1:]), start=1):
        if row["octave"] != before["octave"]:
            ax.axvline(n + 0.5, color="grey", lw=0.6, ls=":")
