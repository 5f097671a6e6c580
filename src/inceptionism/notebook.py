"""What a person at a notebook (or a terminal) sees: progress, previews, results that show themselves.

Library calls stay quiet by default (callbacks only); ``progress=True`` adds a
``tqdm.auto`` bar (a widget in Jupyter, text in a terminal) with octave, step and score,
and, in a notebook, a live preview of the picture that is replaced after every octave
(``IPython.display``). Outside a notebook the preview is skipped. A :class:`~inceptionism.api.Dream`
displays itself as its before and after and its recipe (:func:`dream_html`).
"""

from __future__ import annotations

import base64
import html
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .engine import Callbacks, OctaveInfo, StepInfo

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["shown_progress", "epoch_progress", "counted_progress", "in_notebook", "dream_html"]

RECIPE = ("model", "preset", "layers", "octaves", "octave_scale", "steps", "step_size", "jitter", "seed")


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where a picture can be displayed)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _chained(*functions: Callable[[Any], None] | None) -> Callable[[Any], None] | None:
    present = [f for f in functions if f is not None]
    if not present:
        return None

    def call(info: Any) -> None:
        for function in present:
            function(info)

    return call


def _bar(what: str, total: int | None, unit: str) -> Any:
    try:  # a widget in Jupyter where ipywidgets is installed; else text (tqdm.auto would warn)
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm import tqdm
    # No monitor: tqdm's starts a thread that outlives the call (a library leaves none behind)
    quiet = type("Bar", (tqdm,), {"monitor_interval": 0})
    return quiet(total=total, desc=what, unit=unit, leave=True)


@contextmanager
def counted_progress(what: str, unit: str, then: Callable[..., None] | None = None, *,
                     shown: bool = True) -> Iterator[Callable[..., None] | None]:
    """A callback ``(count, total, ...)`` that moves a bar to ``count`` of ``total``
    ``unit``s (frames, files), then calls ``then`` with the same arguments; with ``shown``
    False no bar, and ``then`` itself."""
    if not shown:
        yield then
        return
    bar = _bar(what, None, unit)

    def done(count: int, total: int, *rest: Any) -> None:
        bar.total = total
        bar.update(count - bar.n)
        if then is not None:
            then(count, total, *rest)

    try:
        yield done
    finally:
        bar.close()


@contextmanager
def epoch_progress(epochs: int, on_epoch: Callable[[Any], None] | None = None) -> Iterator[Callable[[Any], None]]:
    """An ``on_epoch`` that drives a bar over ``epochs`` (loss and validation accuracy
    beside it), chained before ``on_epoch``."""
    bar = _bar("train", epochs, "epoch")

    def tick(epoch: Any) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{epoch.loss:.3f}", val_accuracy=f"{epoch.val_accuracy:.2f}")

    try:
        yield _chained(tick, on_epoch)  # type: ignore[misc]
    finally:
        bar.close()


@contextmanager
def shown_progress(what: str, callbacks: Callbacks | None = None, *, preview: bool | None = None) -> Iterator[Callbacks]:
    """Callbacks that drive a progress bar (and a preview), chained before ``callbacks``.

    ``preview`` None: a preview where a notebook can show one.
    """
    from .images import to_pil

    bar = _bar(what, None, "step")
    shown: dict[str, Any] = {}
    live = in_notebook() if preview is None else preview and in_notebook()

    def on_step(info: StepInfo) -> None:
        if bar.total is None:
            bar.total = info.octaves * info.steps
        bar.update(1)
        readable = info.score.device.type == "cpu" or info.step == info.steps  # no GPU sync every step
        score = {"score": f"{float(info.score):.3f}"} if readable else {}
        bar.set_postfix(octave=f"{info.octave}/{info.octaves}", step=f"{info.step}/{info.steps}", **score,
                        refresh=False)

    def on_octave(info: OctaveInfo) -> None:
        if not live:
            return
        from IPython.display import display

        picture = to_pil(info.image)
        if "handle" in shown:
            shown["handle"].update(picture)
        else:
            shown["handle"] = display(picture, display_id=True)

    given = callbacks or Callbacks()
    try:
        yield Callbacks(on_step=_chained(on_step, given.on_step), on_octave=_chained(on_octave, given.on_octave),
                        on_notice=given.on_notice, on_tile=given.on_tile)
    finally:
        bar.close()


def _inline(image: "Image.Image", side: int = 360) -> str:
    from .images import encode_image

    shown = image.convert("RGB")
    shown.thumbnail((side, side))
    data = base64.b64encode(encode_image(shown, ".jpg", quick=True)).decode()
    return f'<img src="data:image/jpeg;base64,{data}" style="max-width:{side}px">'


def dream_html(dream: Any) -> str:
    """Before and after side by side, the scores and the recipe (the parameters that made it),
    for an :class:`~inceptionism.api.Dream` (``image``, ``prepared``, ``config``, the scores)."""
    used = dream.config.to_dict()
    recipe = "".join(f"<tr><td>{html.escape(key)}</td><td><code>{html.escape(str(used.get(key)))}</code></td></tr>"
                     for key in RECIPE if used.get(key) is not None)
    before = f"<figure>{_inline(dream.prepared)}<figcaption>before</figcaption></figure>" if dream.prepared else ""
    return (
        '<div style="display:flex;gap:12px;align-items:flex-start;flex-wrap:wrap">'
        f"{before}<figure>{_inline(dream.image)}<figcaption>after: objective {dream.score_start:.3f} &rarr; "
        f"{dream.score_end:.3f}</figcaption></figure>"
        f'<table style="font-size:12px">{recipe}</table></div>'
    )
