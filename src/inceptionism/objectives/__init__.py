"""Objectives: small composable callables over captured activations.

An objective maps ``{layer: activation}`` to one scalar per image and knows which
layers it needs. Objectives add, scale and negate::

    obj = layer("blocks.4.1.bn1") + 0.5 * channel("blocks.5.0.bn1", 12)

The string form used by ``--layers`` parses into the same thing::

    parse("blocks.4.1.bn1,blocks.5.0.bn1:12*0.5")

``terms`` holds the one-picture terms, ``batch`` the feature-visualization terms (per-item
targets, diversity, directions, caricature, staying close to a photo), ``grammar`` the
written form and the registry of term kinds.
"""

from .batch import caricature, direction, diversity, per_item_channels, per_item_classes, stay_close
from .grammar import (
    LAYER,
    TERM_KINDS,
    LayerFacts,
    LayerTerm,
    TermContext,
    TermKind,
    channel_combination,
    file_terms,
    kind_of,
    parse,
    parse_terms,
    register,
    split_terms,
    term_objective,
    term_text,
    unregister,
)
from .terms import (
    MAX_TERMS,
    MAX_WEIGHT,
    OUTPUT,
    Activations,
    Objective,
    avoid_classes,
    channel,
    class_logit,
    guide,
    layer,
    neuron,
    total,
)

__all__ = [
    "OUTPUT", "Activations", "Objective", "MAX_TERMS", "MAX_WEIGHT",
    "layer", "channel", "neuron", "class_logit", "avoid_classes", "guide", "total",
    "per_item_channels", "per_item_classes", "diversity", "direction", "caricature", "stay_close",
    "LayerTerm", "LayerFacts", "TermContext", "TermKind", "TERM_KINDS", "LAYER", "register", "unregister", "kind_of", "split_terms", "file_terms",
    "parse_terms", "parse", "channel_combination", "term_objective", "term_text",
]  # fmt: skip
