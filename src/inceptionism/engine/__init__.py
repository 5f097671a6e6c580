"""The dreaming engine: ascent loop, octave plan, tiled gradients, gradient filters."""

from .ascent import Callbacks, DreamResult, OctaveInfo, StepInfo, normalize_gradient, run_dream
from .filters import cascade_smooth, gaussian_blur, lap_normalize, resize
from .octaves import Octave, octave_factors, plan_octaves
from .tiles import auto_tile_size, objective_gradient, objective_value, split_even

__all__ = [
    "Callbacks",
    "DreamResult",
    "OctaveInfo",
    "StepInfo",
    "normalize_gradient",
    "run_dream",
    "cascade_smooth",
    "gaussian_blur",
    "lap_normalize",
    "resize",
    "Octave",
    "plan_octaves",
    "octave_factors",
    "auto_tile_size",
    "objective_gradient",
    "objective_value",
    "split_even",
]
