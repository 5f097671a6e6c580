"""The report beside a trained network: per-class accuracy, the confusion matrix and the
learning curves, as a picture and as JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from ..outputs import write_atomic

__all__ = ["confusion", "per_class", "write_report"]


def confusion(labels: torch.Tensor, predicted: torch.Tensor, classes: int) -> list[list[int]]:
    """Counts: row = true class, column = predicted class."""
    counts = torch.zeros(classes, classes, dtype=torch.long)
    counts.index_put_((labels, predicted), torch.ones_like(labels), accumulate=True)
    return counts.tolist()


def per_class(matrix: list[list[int]]) -> list[float]:
    """Accuracy of each class: the share of its validation images predicted as it."""
    return [row[i] / sum(row) if sum(row) else 0.0 for i, row in enumerate(matrix)]


def report_paths(base: Path) -> tuple[Path, Path]:
    """Where :func:`write_report` writes: ``BASE.report.json`` and ``BASE.report.png``."""
    return base.with_name(base.name + ".report.json"), base.with_name(base.name + ".report.png")


def write_report(base: Path, summary: dict[str, Any]) -> tuple[Path, Path]:
    """``BASE.report.json`` and ``BASE.report.png`` (confusion matrix and learning curves), written atomically."""
    json_path, png_path = report_paths(base)
    data = json.dumps(summary, indent=2).encode()
    write_atomic(json_path, lambda fh: fh.write(data))
    picture = _picture(summary)
    write_atomic(png_path, lambda fh: fh.write(picture))
    return json_path, png_path


def _picture(summary: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes, matrix, history = summary["classes"], summary["confusion"], summary["history"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1, 1.15]})
    left.imshow(matrix, cmap="Blues")
    most = max(max(row) for row in matrix) or 1
    for r, row in enumerate(matrix):
        for c, count in enumerate(row):
            left.text(c, r, str(count), ha="center", va="center", color="white" if count > most / 2 else "black")
    ticks = range(len(classes))
    accuracy = summary["per_class_accuracy"]
    left.set_xticks(ticks, classes, rotation=30, ha="right")
    left.set_yticks(ticks, [f"{name} ({accuracy[name]:.0%})" for name in classes])
    left.set_xlabel("predicted")
    left.set_ylabel("true class (accuracy)")
    left.set_title(f"validation, epoch {summary['best_epoch']}: {summary['val_accuracy']:.1%} correct")
    epochs = [h["epoch"] for h in history]
    right.plot(epochs, [h["loss"] for h in history], "o-", label="training loss")
    right.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation loss")
    right.plot(epochs, [h["train_accuracy"] for h in history], "s--", label="training accuracy")
    right.plot(epochs, [h["val_accuracy"] for h in history], "s--", label="validation accuracy")
    right.axvline(summary["best_epoch"], color="grey", lw=0.8, ls=":")
    right.set_xlabel("epoch")
    right.set_ylim(bottom=0)
    right.legend(loc="best", fontsize=8)
    right.set_title(f"{summary['model']} on {len(classes)} classes")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()
