"""The render loop: parameterization x transforms x objective x optimizer x steps.

Each piece is swappable (lucent's ``render_vis``, ours)::

    from inceptionism.featurevis import render, picture_for, parse_transforms
    from inceptionism.objectives import channel, diversity

    gen = torch.Generator().manual_seed(0)
    picture = picture_for("fft", 4, 224, gen=gen, device=model.device)
    objective = channel("blocks.4.1.bn1", 7) + 0.5 * diversity("blocks.4.1.bn1", 4)
    out = render(model, objective, picture, transforms=parse_transforms("crops"), steps=128, gen=gen)
    out.images  # (4, 3, 224, 224) in [0, 1]

Item k of the batch is scored by ``objective(acts)[k]``; every item climbs its own value in
one forward/backward pass. A picture with an alpha channel is laid over random
backgrounds before the transforms, and its opaque area costs a share of its own score,
so what does not matter turns transparent. With ``grow_from_centre``, the network first sees
only a disc around the picture's centre, widening to the whole picture: one thing grows in the
middle, where without it the same pattern fills the picture (what people read in either: the
blind panel, docs/featurevis.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..errors import ConfigError
from ..models.loaded import LoadedModel
from ..objectives import Objective
from ..runtime import with_gradients
from ..taps import capture
from .param import Picture, checked_whole
from .transforms import Transform, parse_transforms

__all__ = ["Rendered", "render", "ALPHA_COST", "centre_disc", "check_side"]

ALPHA_COST = 0.5  # an alpha picture's score is cut by this share of itself times its mean opacity
# grow_from_centre: the disc the network sees, in half sides from the centre, from its first
# radius to its last (then the whole picture), and the steepness of its soft edge
DISC_FIRST, DISC_LAST, DISC_EDGE = 0.35, 1.1, 12.0
MAX_STEPS = 100_000  # VisualizeConfig's bound

Optimizer = Callable[[list[torch.Tensor]], torch.optim.Optimizer]


@dataclass
class Rendered:
    """What :func:`render` grew."""

    images: torch.Tensor  # (B, C, H, W) in [0, 1]; C = 4 with alpha
    values: torch.Tensor  # (B,) the objective on the untransformed pictures (over grey, with alpha)
    importance: torch.Tensor  # (B, H, W) in [0, 1]: where the objective's gradient was, over all steps


def _over_background(img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """RGBA pictures laid over a random smooth colour background each step."""
    if img.shape[1] == 3:
        return img
    count = img.shape[0]
    colour = torch.rand(count, 3, 2, 2, generator=gen).to(img.device, img.dtype)
    background = torch.nn.functional.interpolate(colour, size=img.shape[-2:], mode="bilinear", align_corners=False)
    opacity = img[:, 3:]
    return img[:, :3] * opacity + background * (1 - opacity)


def centre_disc(step: int, steps: int, share: float, height: int, width: int,
                device: torch.device | str = "cpu") -> torch.Tensor | None:
    """What the network sees of a picture at ``step`` of ``steps`` when it grows from the centre
    over the first ``share`` of them: (H, W) in [0, 1], a soft disc whose radius widens from
    :data:`DISC_FIRST` to :data:`DISC_LAST` half sides (the corners, at 1.41, still all but hidden);
    None once the whole picture is seen."""
    until = share * steps
    if step >= until:
        return None
    radius = DISC_FIRST + (DISC_LAST - DISC_FIRST) * step / until
    rows, cols = torch.linspace(-1, 1, height, device=device), torch.linspace(-1, 1, width, device=device)
    return torch.sigmoid((radius - (rows[:, None].square() + cols[None, :].square()).sqrt()) * DISC_EDGE)


def _in_disc(img: torch.Tensor, disc: torch.Tensor | None) -> torch.Tensor:
    """The picture as the network sees it inside ``disc``: mid grey outside (transparent, with alpha)."""
    if disc is None:
        return img
    disc = disc.to(img.dtype)
    if img.shape[1] == 4:
        return torch.cat([img[:, :3], img[:, 3:] * disc], 1)
    return img * disc + 0.5 * (1 - disc)


def _shown(img: torch.Tensor) -> torch.Tensor:
    """RGBA over mid grey (what is scored and saved without alpha), RGB as it is."""
    return img if img.shape[1] == 3 else img[:, :3] * img[:, 3:] + 0.5 * (1 - img[:, 3:])


def _checked(model: LoadedModel, objective: Objective, picture: Picture, steps: int,
             transforms: Sequence[Transform] | str | None, grow_from_centre: float) -> Sequence[Transform]:
    """render's arguments checked before any work; written transforms parsed."""
    if not isinstance(model, LoadedModel):
        raise ConfigError(f"model must be a loaded network (inceptionism.load_model), not {type(model).__name__}",
                          field="model")
    if not isinstance(picture, Picture):
        raise ConfigError(f"picture must be a Picture (featurevis.picture_for), not {type(picture).__name__}",
                          field="picture")
    if not callable(objective) or not isinstance(getattr(objective, "layers", None), frozenset):
        raise ConfigError(f"objective must be an Objective (inceptionism.objectives), not {type(objective).__name__}",
                          field="objective")
    checked_whole(steps, "steps", 1, MAX_STEPS)
    if isinstance(grow_from_centre, bool) or not isinstance(grow_from_centre, (int, float)) \
            or not 0 <= grow_from_centre <= 1:
        raise ConfigError(f"grow_from_centre {grow_from_centre!r} is not a share of the steps from 0 to 1",
                          field="grow_from_centre")
    if transforms is None:
        return ()
    if isinstance(transforms, str):
        return parse_transforms(transforms)
    if not isinstance(transforms, (list, tuple)) or not all(callable(t) for t in transforms):
        raise ConfigError("transforms must be a list of functions f(x, generator) -> x, or their written form "
                          "such as 'pad:16,crops:2x0.5'", field="transforms")
    return transforms


def _transformed(transform: Transform, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    seen = transform(x, gen)
    if not isinstance(seen, torch.Tensor) or seen.dim() != 4 or seen.shape[1] != 3 or seen.shape[0] % x.shape[0]:
        shown = tuple(seen.shape) if isinstance(seen, torch.Tensor) else type(seen).__name__
        raise ConfigError(f"transform {getattr(transform, '__name__', transform)!r} returned {shown}; a transform "
                          f"returns the pictures (copies x {x.shape[0]}, 3, H, W)", field="transforms")
    return seen


def check_side(model: LoadedModel, size: int) -> None:
    """Refuse pictures of ``size`` px that ``model`` cannot see (below its smallest input).

    Raises:
        ConfigError: naming ``size`` and the network's smallest input.
    """
    if size < model.spec.min_size:
        raise ConfigError(f"size {size} is below {model.spec.name}'s smallest input, {model.spec.min_size} px",
                          field="size")


def _check_seen(model: LoadedModel, picture: torch.Tensor, seen: torch.Tensor) -> None:
    """Refuse a picture, or transforms (``view:0.1`` of a small picture), that show the network
    less than its smallest input, before the network fails on it."""
    smallest, side = model.spec.min_size, min(seen.shape[-2:])
    if side >= smallest:
        return
    check_side(model, min(picture.shape[-2:]))
    raise ConfigError(f"the transforms show {model.spec.name} pictures of {side} px a side, below its smallest "
                      f"input, {smallest} px: use a larger view:SCALE or a larger picture", field="transforms")


def _per_picture(values: torch.Tensor, seen: int, pictures: int) -> torch.Tensor:
    """The objective's values (one per picture seen: copies x B) as each picture's mean (B,)."""
    if not isinstance(values, torch.Tensor) or values.dim() != 1 or values.shape[0] != seen:
        shown = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise ConfigError(f"the objective gave values of shape {shown} for {seen} pictures seen; it must give one "
                          "value per picture the network sees", field="objective")
    return values.view(-1, pictures).mean(0)


@with_gradients
def render(
    model: LoadedModel,
    objective: Objective,
    picture: Picture,
    *,
    steps: int,
    gen: torch.Generator,
    transforms: Sequence[Transform] | str | None = (),
    optimizer: Optimizer | None = None,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
    grow_from_centre: float = 0.0,
) -> Rendered:
    """Optimize ``picture`` so that item k maximizes ``objective(acts)[k]``.

    Args:
        steps: optimizer steps, 1 to :data:`MAX_STEPS`.
        objective: one value per item; if a transform stacks copies, it sees copies x B items
            (per-item terms repeat their targets) and each item's value is its copies' mean.
        transforms: functions ``f(x, generator) -> x``, or their written form (``"pad:16,crops:2x0.5"``,
            see :func:`~inceptionism.featurevis.parse_transforms`).
        optimizer: builds the optimizer from the picture's tensors (default: Adam at ``picture.lr``).
        on_step: called with (step, values (B,)) after each step.
        grow_from_centre: for this share of the steps (0 to 1) the network sees only a disc
            around the centre (:func:`centre_disc`), the rest mid grey; the picture drawn and
            returned is always whole.

    Raises:
        ConfigError: an argument of the wrong kind or out of range, a transform that returns
            no batch of pictures, a picture or transforms that show the network less than its
            smallest input (checked on the first step, before the network runs), or an
            objective whose values do not match the pictures seen.
    """
    transforms = _checked(model, objective, picture, steps, transforms, grow_from_centre)
    opt = optimizer(picture.tensors) if optimizer is not None else torch.optim.Adam(picture.tensors, lr=picture.lr)
    importance: torch.Tensor | None = None
    with capture(model, sorted(objective.layers)) as run:
        for step in range(steps):
            opt.zero_grad(set_to_none=True)
            img = picture.draw()
            img.retain_grad()
            disc = centre_disc(step, steps, grow_from_centre, *img.shape[-2:], img.device) if grow_from_centre else None
            seen = _over_background(_in_disc(img, disc), gen)
            for transform in transforms:
                seen = _transformed(transform, seen, gen)
            if step == 0:
                _check_seen(model, img, seen)
            values = _per_picture(objective(run(seen)), seen.shape[0], img.shape[0])
            score = values
            if img.shape[1] == 4:
                score = values - ALPHA_COST * values.detach().abs() * img[:, 3].flatten(1).mean(1)
            (-score.sum()).backward()
            grad = img.grad.detach().abs().sum(1)  # type: ignore[union-attr]
            importance = grad if importance is None else importance + grad
            opt.step()
            if on_step is not None:
                on_step(step + 1, values.detach())
        with torch.no_grad():
            img = picture.draw()
            final = objective(run(_shown(img)))
    if importance is None:
        importance = torch.zeros(img.shape[0], *img.shape[-2:], device=img.device)
    peak = importance.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1)
    return Rendered(img.detach(), final.detach(), (importance / peak).detach())
