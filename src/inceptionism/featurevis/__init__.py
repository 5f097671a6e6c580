"""Feature visualization: pictures of what a network's units respond to.

One render loop (:func:`render`) takes its pieces by name or as objects: a
parameterization (:data:`PARAMS`: pixels, fft, alpha, maco), a list of transforms
(:func:`parse_transforms`), an objective (:mod:`inceptionism.objectives`: channels,
classes, directions, diversity, caricature, staying close to a photo), an optimizer and a
step count. On top of it: pictures of units (:func:`visualize_features`), pictures grown
from a photo (:func:`accentuate`, :func:`caricature`), dataset examples
(:func:`scan_photos`) and honest scores (:func:`transferability`, :func:`sanity`,
:func:`chroma`).
"""

from .examples import Example, PhotoScan, examples_sheet, photo_files, scan_photos, write_layer_examples
from .param import PARAMS, Picture, alpha, fourier, maco, picture_for, pixels
from .photos import accentuate, caricature, of_photo, photo_features
from .render import Rendered, centre_disc, render
from .scores import Judged, Sanity, check_judge, chroma, sanity, transferability
from .transforms import TRANSFORM_SETS, Transform, affine, chosen, crops, jitter, noise, pad, parse_transforms, view
from .units import FeatureVisConfig, Visualization, check_side, importance_image, target_text, visualize_features

__all__ = [
    "render", "Rendered", "centre_disc", "Picture", "PARAMS", "picture_for", "pixels", "fourier", "alpha", "maco",
    "Transform", "TRANSFORM_SETS", "parse_transforms", "chosen", "pad", "jitter", "affine", "crops", "view", "noise",
    "FeatureVisConfig", "Visualization", "importance_image", "target_text", "visualize_features", "check_side",
    "accentuate", "caricature", "of_photo", "photo_features",
    "Example", "PhotoScan", "photo_files", "scan_photos", "examples_sheet", "write_layer_examples",
    "chroma", "Judged", "check_judge", "transferability", "Sanity", "sanity",
]  # fmt: skip
