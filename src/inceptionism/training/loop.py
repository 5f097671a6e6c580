"""Fine-tuning: the network, which of its stages learn, and the epoch loop with its checkpoint.

The base network keeps its pretrained weights; its classifier is replaced by one for
the new classes, and its last stages learn too (timm's layer decay gives the earlier
of them smaller steps). Batch norms keep their ImageNet statistics: a few dozen photos
are too few to re-estimate them. Every epoch ends with a checkpoint beside the output
(written atomically), from which ``resume`` continues.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..errors import ConfigError, ModelError, cause
from ..outputs import write_atomic
from ..models import ModelSpec, get_spec, without_inplace
from ..models.trained import replace_head
from ..command_config import TrainConfig
from ..imports import import_timm

__all__ = ["Epoch", "Network", "network", "stages", "default_unfreeze", "fit", "run_pass", "checkpoint_path", "write_checkpoint",
           "read_checkpoint"]


@dataclass(frozen=True)
class Epoch:
    """One finished epoch, as reported to ``on_epoch``."""

    epoch: int  # 1-based
    epochs: int
    loss: float  # mean training loss
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    left: float  # estimated seconds to the last epoch
    best: bool  # the best validation so far (its weights are kept)


@dataclass
class Network:
    """The network being trained, with what it is made of."""

    spec: ModelSpec  # of the base network
    net: nn.Module
    head: str  # module path of the new classifier
    trained_stages: int  # stages that learn besides the head


def stages(net: nn.Module, head: str) -> list[list[str]]:
    """The network's stages, input to output, as lists of module names (the head left out).

    Networks that say their own (``group_matcher``: timm's, and EfficientNet-Lite, which
    follows timm) are split their way; others at their top-level children.
    """
    if hasattr(net, "group_matcher"):
        import_timm()  # without torch._dynamo (imports.import_timm)
        from timm.models import group_modules

        groups = group_modules(net, net.group_matcher(coarse=True))
        found = [names for _, names in sorted(groups.items())]
    else:
        found = [[name] for name, child in net.named_children() if any(True for _ in child.parameters())]
    found = [[n for n in names if not _within(n, head)] for names in found]
    return [names for names in found if names]


def _within(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".") or module.startswith(name + ".")


def default_unfreeze(spec: ModelSpec, parts: list[list[str]]) -> int:
    """Stages from the one holding the network's shallowest default dream layer to the end,
    so that plain layer dreams take on the motifs too."""
    layers = [layer for layer in spec.default_layers.split(",") if layer]
    for index, names in enumerate(parts):
        if any(_within(layer, name) for layer in layers for name in names):
            return len(parts) - index
    return min(2, len(parts))


def network(cfg: TrainConfig, classes: int) -> Network:
    """The base network with its own weights, a new head for ``classes`` and the chosen stages learning."""
    spec = get_spec(cfg.model)
    net = spec.build()
    if spec.labels is None and not any(isinstance(m, nn.Linear) for m in net.modules()):
        raise ModelError(f"model {cfg.model} is not a classifier, so it cannot be fine-tuned on classes", field="model")
    spec.load_weights(net)
    head = replace_head(net, classes)
    parts = stages(net, head)
    unfreeze = default_unfreeze(spec, parts) if cfg.unfreeze is None else cfg.unfreeze
    if unfreeze > len(parts):
        raise ConfigError(f"unfreeze {unfreeze} is more than {cfg.model}'s {len(parts)} stages", field="unfreeze")
    learning = [head, *(name for names in parts[len(parts) - unfreeze:] for name in names)]
    for name, parameter in net.named_parameters():
        parameter.requires_grad_(any(_within(name, module) for module in learning))
    return Network(spec, without_inplace(net), head, unfreeze)


def checkpoint_path(output: Path) -> Path:
    """Where a training's checkpoint lives: beside its output."""
    return output.with_name(output.name.removesuffix(".safetensors") + ".checkpoint.pt")


def run_pass(model: Network, loader, optimizer=None) -> tuple[float, float, torch.Tensor, torch.Tensor]:
    """One pass: mean loss, accuracy, and the labels and predictions (training when ``optimizer``)."""
    net, spec = model.net, model.spec
    net.train(optimizer is not None)
    for module in net.modules():  # batch norms keep their statistics
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1 if optimizer is not None else 0.0)
    device = next(net.parameters()).device
    total, seen, labels, predictions = 0.0, 0, [], []
    with torch.set_grad_enabled(optimizer is not None):
        for x, y in loader:
            x, y = x.to(device).contiguous(memory_format=torch.channels_last), y.to(device)
            logits = net(spec.preprocess(x))
            loss = loss_fn(logits, y)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            total += float(loss.detach()) * len(y)
            seen += len(y)
            labels.append(y.cpu())
            predictions.append(logits.argmax(1).cpu())
    labels_all, predicted = torch.cat(labels), torch.cat(predictions)
    return total / max(seen, 1), float((labels_all == predicted).float().mean()), labels_all, predicted


def fit(
    model: Network,
    train_loader,
    val_loader,
    cfg: TrainConfig,
    state: dict[str, Any],
    save: Callable[[dict[str, Any]], None],
    *,
    on_epoch: Callable[[Epoch], None] | None = None,
) -> dict[str, Any]:
    """Train from ``state`` (a fresh one or a checkpoint's) to ``cfg.epochs`` or an early stop.

    After every epoch ``state`` is brought up to date and handed to ``save``. Returns it;
    ``state["best"]["net"]`` holds the weights of the best validation.
    """
    import_timm()  # without torch._dynamo (imports.import_timm)
    from timm.optim import create_optimizer_v2
    from timm.scheduler import CosineLRScheduler

    optimizer = create_optimizer_v2(model.net, opt="adamw", lr=cfg.lr, weight_decay=0.01, layer_decay=0.8)
    scheduler = CosineLRScheduler(optimizer, t_initial=cfg.epochs, lr_min=cfg.lr / 50, warmup_t=1 if cfg.epochs > 2 else 0,
                                  warmup_lr_init=cfg.lr / 10)
    if "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
        model.net.load_state_dict(state["net"])
        torch.set_rng_state(state["rng"])
        train_loader.generator.set_state(state["loader_rng"])
    durations = [h["seconds"] for h in state["history"]]
    for epoch in range(len(state["history"]), cfg.epochs):
        if state.get("stopped"):
            break
        scheduler.step(epoch)
        started = time.perf_counter()
        loss, train_accuracy, _, _ = run_pass(model, train_loader, optimizer)
        val_loss, val_accuracy, _, _ = run_pass(model, val_loader)
        durations.append(time.perf_counter() - started)
        best = state["best"]
        better = val_accuracy > best["accuracy"] or (val_accuracy == best["accuracy"] and val_loss < best["loss"])
        if better:
            state["best"] = {"epoch": epoch + 1, "accuracy": val_accuracy, "loss": val_loss, "net": _copy(model.net)}
        state["stopped"] = epoch + 1 - state["best"]["epoch"] >= cfg.patience
        left = 0.0 if state["stopped"] else sum(durations) / len(durations) * (cfg.epochs - epoch - 1)
        record = Epoch(epoch + 1, cfg.epochs, loss, train_accuracy, val_loss, val_accuracy, durations[-1], left, better)
        state["history"].append(record.__dict__)
        state.update(net=model.net.state_dict(), optimizer=optimizer.state_dict(), rng=torch.get_rng_state(),
                     loader_rng=train_loader.generator.get_state())
        save(state)
        if on_epoch is not None:
            on_epoch(record)
    return state


def _copy(net: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in net.state_dict().items()}


def write_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``state`` saved atomically: a stop mid-write leaves the previous checkpoint whole."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(path, lambda fh: fh.write(buffer.getbuffer()))


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint written by :func:`write_checkpoint`.

    Raises:
        ConfigError: there is none, or it cannot be read.
    """
    if not path.is_file():
        raise ConfigError(f"no checkpoint {str(path)!r} to resume from; train without --resume", field="resume")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"checkpoint {str(path)!r} cannot be read ({cause(exc)}); train without --resume", field="resume") \
            from None

