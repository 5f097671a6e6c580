"""Your own motifs: fine-tune a dreaming network on a folder of photos (``inceptionism train``).

The output is one ``.safetensors`` file with the weights, the class names, the base
network and its preprocessing (:mod:`inceptionism.models.trained`); everything that
takes ``--weights`` then knows the new classes. Beside it go a checkpoint (each epoch;
``resume`` continues from it) and a report (per-class accuracy, confusion matrix).

Examples:
    >>> result = train("motifs/", "motifs.safetensors", TrainConfig(epochs=5))  # doctest: +SKIP
    >>> result.val_accuracy  # doctest: +SKIP
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..device import resolve_device
from ..errors import ConfigError, ModelError, OutputError
from ..models.ensemble import SEPARATOR, is_ensemble
from ..outputs import check_output_path, write_atomic
from ..models.trained import TrainedInfo, encode_trained
from ..command_config import TrainConfig
from ..runtime import with_gradients
from . import data as datasets
from .loop import Epoch, checkpoint_path, run_pass, fit, network, read_checkpoint, write_checkpoint
from .report import confusion, per_class, report_paths, write_report

__all__ = ["train", "Trained", "Epoch", "check_output"]

_SETTINGS = ("model", "image_size", "unfreeze", "val_split", "seed", "batch_size", "lr")  # fixed for a run: resume checks


@dataclass(frozen=True)
class Trained:
    """A finished training."""

    output: Path  # the trained network
    classes: tuple[str, ...]
    epochs: int  # epochs run in all (across resumes)
    best_epoch: int  # whose weights were kept
    val_accuracy: float
    per_class: dict[str, float]  # validation accuracy of each class
    report: Path  # the report picture (the JSON lies beside it)
    skipped: list[tuple[Path, str]]  # unreadable files and why
    images: tuple[int, int]  # training and validation images
    stopped_early: bool


def check_output(output: str | Path) -> Path:
    """The output must be a ``.safetensors`` file that can be written (in an existing,
    writable folder; not a folder, a device or a FIFO), and so must the files written
    beside it (the checkpoint, the report): checked before any training.

    Raises:
        OutputError: another suffix, or an output that cannot be written.
    """
    output = Path(output)
    if output.suffix != ".safetensors":
        raise OutputError(f"output {str(output)!r} must end in .safetensors (the trained network's file)")
    check_output_path(output)
    for beside in (checkpoint_path(output), *report_paths(output.with_suffix(""))):
        check_output_path(beside, outputs=(output,))
    return output


def _start_state(cfg: TrainConfig, classes: tuple[str, ...], files: list[str], checkpoint: Path) -> dict:
    """The training's state to start from: the checkpoint's (``cfg.resume``, checked against
    this run), or a new one (the seed set)."""
    if cfg.resume:
        state = read_checkpoint(checkpoint)
        _check_resumable(state, cfg, classes, files, checkpoint)
        return state
    torch.manual_seed(cfg.seed)
    return {"settings": {k: getattr(cfg, k) for k in _SETTINGS}, "classes": list(classes), "files": files,
            "history": [], "best": {"epoch": 0, "accuracy": -1.0, "loss": float("inf")}}


@with_gradients
def train(
    data_dir: str | Path,
    output: str | Path,
    cfg: TrainConfig | None = None,
    *,
    on_epoch: Callable[[Epoch], None] | None = None,
    on_file: Callable[[Path], None] | None = None,
    progress: bool = False,
) -> Trained:
    """Fine-tune ``cfg.model`` on the images of ``data_dir`` (one subfolder per class) and write ``output``.

    ``on_file`` is called for each file read, ``on_epoch`` after each epoch; ``progress``
    shows a bar over the epochs (a widget in Jupyter, text in a terminal). An interrupted
    training keeps its last checkpoint; nothing is written at ``output`` until the end.

    Raises:
        ConfigError: bad data (see :func:`inceptionism.training.data.scan`) or a checkpoint
            that does not fit this run.
        OutputError: ``output`` cannot be written.
    """
    cfg = cfg or TrainConfig()
    if progress:
        from ..notebook import epoch_progress

        with epoch_progress(cfg.epochs, on_epoch) as shown:
            return train(data_dir, output, cfg, on_epoch=shown, on_file=on_file)
    if is_ensemble(cfg.model):
        raise ModelError(f"model {cfg.model} is an ensemble; fine-tune one of its networks "
                         f"(e.g. --model {cfg.model.split(SEPARATOR)[0].strip()})", field="model")
    output = check_output(output)
    folder = datasets.scan(data_dir, keep_side=datasets.keep_side(cfg.image_size), on_file=on_file)
    train_items, val_items = datasets.split(folder, cfg.val_split, cfg.seed)
    files = [str(path.relative_to(folder.root)) for name in folder.classes for path, _ in folder.images[name]]
    checkpoint = checkpoint_path(output)
    state = _start_state(cfg, folder.classes, files, checkpoint)
    device = resolve_device(cfg.device)
    model = network(cfg, len(folder.classes))
    model.net.to(device=device, memory_format=torch.channels_last)
    loader = torch.utils.data.DataLoader(
        datasets.Pictures(folder, train_items, datasets.transforms(cfg.image_size, train=True)),
        batch_size=cfg.batch_size, shuffle=True, drop_last=len(train_items) > cfg.batch_size,
        generator=torch.Generator().manual_seed(cfg.seed))
    val_loader = torch.utils.data.DataLoader(
        datasets.Pictures(folder, val_items, datasets.transforms(cfg.image_size, train=False)), batch_size=cfg.batch_size)
    state = fit(model, loader, val_loader, cfg, state, lambda s: write_checkpoint(checkpoint, s), on_epoch=on_epoch)

    model.net.load_state_dict(state["best"]["net"])
    _, accuracy, labels, predicted = run_pass(model, val_loader)
    matrix = confusion(labels, predicted, len(folder.classes))
    accuracies = dict(zip(folder.classes, per_class(matrix)))
    spec = model.spec
    summary = {"model": cfg.model, "classes": list(folder.classes), "best_epoch": state["best"]["epoch"],
               "epochs": len(state["history"]), "val_accuracy": accuracy, "per_class_accuracy": accuracies,
               "confusion": matrix, "images": {"train": len(train_items), "validation": len(val_items)},
               "trained_stages": model.trained_stages, "history": state["history"],
               "settings": state["settings"], "skipped": [[str(p), why] for p, why in folder.skipped]}
    info = TrainedInfo(base=cfg.model, classes=folder.classes, image_size=cfg.image_size, mean=spec.mean, std=spec.std,
                       value_scale=spec.value_scale, bgr=spec.bgr, head=model.head,
                       extra={"val_accuracy": accuracy, "epochs": len(state["history"]), "best_epoch":
                              state["best"]["epoch"], "trained_stages": model.trained_stages})
    _, picture = write_report(output.with_suffix(""), summary)
    data = encode_trained(model.net, info)
    write_atomic(output, lambda fh: fh.write(data))
    return Trained(output, folder.classes, len(state["history"]), state["best"]["epoch"], accuracy, accuracies,
                   picture, folder.skipped, (len(train_items), len(val_items)), bool(state.get("stopped")))


def _check_resumable(state: dict, cfg: TrainConfig, classes: tuple[str, ...], files: list[str], path: Path) -> None:
    """A checkpoint continues only the same training: same settings, classes and images."""
    for key in _SETTINGS:
        if state["settings"].get(key) != getattr(cfg, key):
            raise ConfigError(
                f"checkpoint {str(path)!r} was made with {key} {state['settings'].get(key)!r}, not {getattr(cfg, key)!r}; "
                f"give the same {key} to resume, or train without --resume", field=key)
    if tuple(state["classes"]) != classes or state["files"] != files:
        raise ConfigError(f"the training folder changed since checkpoint {str(path)!r} (classes or images); train "
                          "without --resume", field="resume")
