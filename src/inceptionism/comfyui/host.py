"""ComfyUI's progress bar and Cancel button, reached through the library's callbacks. Outside
ComfyUI (a test, a script) the same callbacks count and never cancel."""

from __future__ import annotations

from typing import Any, Callable

from ..engine import Callbacks

__all__ = ["Progress"]


def _comfy() -> tuple[Any, Callable[[], None]]:
    """ComfyUI's ``ProgressBar`` class and its interrupt check, or stand-ins outside ComfyUI."""
    try:
        import comfy.model_management
        import comfy.utils
    except ImportError:
        return None, lambda: None
    return comfy.utils.ProgressBar, comfy.model_management.throw_exception_if_processing_interrupted


class Progress:
    """One node's run: ``total`` gradient steps on ComfyUI's progress bar. ``callbacks`` move
    it a step at a time and stop the dream within a step (between tiles too) when Cancel is
    pressed (ComfyUI's ``InterruptProcessingException`` leaves through the library, which
    releases what it holds on the way)."""

    def __init__(self, total: int) -> None:
        bar, self.check = _comfy()
        self.total = max(1, int(total))
        self.done = 0
        self.bar = bar(self.total) if bar is not None else None

    def step(self, *_: Any) -> None:
        self.check()
        self.done = min(self.done + 1, self.total)
        if self.bar is not None:
            self.bar.update_absolute(self.done, self.total)

    @property
    def callbacks(self) -> Callbacks:
        return Callbacks(on_step=self.step, on_tile=lambda: self.check())
