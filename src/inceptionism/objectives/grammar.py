"""The written form of an objective, as ``--layers`` and ``visualize`` take it.

A comma list of terms, each ``LAYER[:CHANNEL[@Y,X]][*WEIGHT]`` (a layer, a channel, a
neuron) or ``KIND:...[*WEIGHT]`` for a registered kind of term. Each kind is registered
once, here, with its syntax, how it parses and what it builds; nothing else tests for a
kind's name:

- ``class:CLASS``: a class logit, by index or name;
- ``direction:LAYER:3+7-2``: a direction in the layer's channel space (channel interaction);
- ``diversity:LAYER``: several pictures of one target differ at the layer (batches only);
- ``caricature:LAYER``: exaggerate what the layer sees in a photo (needs the photo);
- ``concept:DICTIONARY:INDEX``: a learned concept, a direction in its layer's space, read
  from a dictionary file that ``inceptionism concepts`` wrote.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..errors import ConfigError, LayerError
from ..written import decimal, is_whole, whole
from . import batch as batched
from .terms import MAX_TERMS, MAX_WEIGHT, Objective, channel, class_logit, layer, neuron, total

__all__ = ["LayerTerm", "TermContext", "LayerFacts", "TermKind", "TERM_KINDS", "LAYER", "register", "unregister", "kind_of",
           "split_terms", "file_terms", "parse_terms", "parse", "channel_combination", "term_objective", "term_text"]

_TERM = re.compile(
    r"^(?P<layer>[^:*@\s]+)(?::(?P<channel>[^*@\s](?:[^*@]*[^*@\s])?))?(?:@(?P<pos>[^*\s]+))?(?:\*(?P<weight>\S+))?$"
)
_COMBINATION = re.compile(r"^(?P<layer>[^:\s]+):(?P<combo>\S+)$")
_CHANNELS = re.compile(r"^[-+]?[0-9]+(?:[-+][0-9]+)*$")


@dataclass(frozen=True)
class LayerTerm:
    """One parsed term: a layer, channel or neuron (``kind`` "layer"), or a registered kind."""

    layer: str  # module path, or "class" for a class logit
    channel: int | None = None  # channel; the class index for "class" terms, the concept's for "concept"
    weight: float = 1.0
    position: tuple[int, int] | None = None  # (y, x) of a single neuron
    class_name: str | None = None  # a "class" term's class as typed, when given by name
    kind: str = "layer"  # "layer", or a key of TERM_KINDS
    combination: tuple[tuple[int, float], ...] = ()  # a direction's (channel, coefficient) pairs
    source: str | None = None  # a file the term reads, as written (a concept's dictionary)

    @property
    def whole(self) -> bool:
        """A whole layer (no channel, not another kind): what guides match at and --channels picks from."""
        return self.kind == "layer" and self.channel is None


@dataclass(frozen=True)
class TermContext:
    """What building a term may need beyond its own text."""

    kind: str = "l2"  # how a layer or channel is reduced: l2 or mean
    classes: Callable[[Any], int] | None = None  # class name or index -> index, checked
    reference: tuple[int, int] | None = None  # a neuron's layer (H, W) at the size its position was given
    photo: Callable[[str], torch.Tensor] | None = None  # layer -> a photo's activations (C, H, W)
    pictures: int = 1  # pictures per target in the batch (what diversity compares)


@dataclass(frozen=True)
class LayerFacts:
    """What a kind's own check may ask of the network and the term's layer."""

    network: str  # the network's name
    weights_sha256: str | None
    channels: Callable[[], int]  # the layer's (asked after the network's name: an unknown layer says so)
    probe: Callable[[], torch.Tensor]  # the layer's channel means (C,) on a fixed picture (taps.probe_means)


@dataclass(frozen=True)
class TermKind:
    """A kind of term: its written form, where it is allowed, how it parses and builds for
    one picture (a dream) and for a batch of pictures (``visualize``: one picture a term).

    A picture of a term (``visualize``) uses ``unit`` (the term's value for every item of a
    batch) or, where all terms of a batch are of one kind, ``per_item`` (item k of each copy
    serves ``terms[k // pictures]``, None where it does not apply to these terms);
    ``pixel`` gives the dream parameters that grow one picture of it by pixel ascent (None:
    only the Fourier parameterizations can).
    """

    name: str
    syntax: str  # e.g. "class:CLASS"
    help: str
    parse: Callable[[str, str, float], LayerTerm] | None  # (the term as written, after "KIND:", weight) -> term
    build: Callable[[LayerTerm, TermContext], Objective]
    in_dreams: bool = True  # a dream (one picture, no photo features) can use it
    reads_layer: bool = True  # term.layer is a module path to check against the network
    unit: Callable[[LayerTerm], Objective] | None = None  # one picture of it: its value per item (None: no pictures)
    per_item: Callable[[list[LayerTerm], int], Objective | None] | None = None
    pixel: Callable[[LayerTerm], dict[str, Any]] | None = None
    score: str = "score"  # what a picture's score is, as the command line says it
    judged: bool = False  # another classifier can grade a picture of it (visualize --judge)
    from_photo: bool = False  # a picture of it can grow out of a photo (visualize --photo: accentuation)
    of_photo: bool = False  # a picture of it is made of a photo's features, grown from noise (needs --photo)
    resolve: Callable[[LayerTerm, TermContext], LayerTerm] | None = None  # names made indices, for a picture
    # against a network (what check_term knows of it); None: the term's channels are the
    # layer's and are checked as such
    check: Callable[[LayerTerm, "LayerFacts"], None] | None = None
    text: Callable[[LayerTerm], str] | None = None  # written form, where the generic one does not fit
    reads_file: bool = False  # its text names a file on this machine (a door taking others' requests guards it)


TERM_KINDS: dict[str, TermKind] = {}
_generation = [0]  # how many times the kinds changed: a parsed text is kept for one generation


def register(kind: TermKind) -> TermKind:
    """Add a kind of term to the language: every door that takes objectives takes it."""
    if kind.name in TERM_KINDS or kind.name == LAYER.name:
        raise ValueError(f"term kind {kind.name!r} is registered twice")
    TERM_KINDS[kind.name] = kind
    _generation[0] += 1  # a text may read otherwise now: parsed again
    return kind


def unregister(name: str) -> None:
    """Take a kind of term out of the language again (a test's own kind)."""
    TERM_KINDS.pop(name, None)
    _generation[0] += 1


def kind_of(term: LayerTerm) -> TermKind:
    """The kind a parsed term is of."""
    return LAYER if term.kind == LAYER.name else TERM_KINDS[term.kind]


def _class_term(item: str, rest: str, weight: float) -> LayerTerm:
    if not rest:
        raise ConfigError(f"class term {item!r} needs a class: class:INDEX or class:NAME")
    if is_whole(rest, signed=False):
        return LayerTerm("class", int(rest), weight, kind="class")
    return LayerTerm("class", None, weight, class_name=rest.replace("_", " "), kind="class")


def _build_class(term: LayerTerm, ctx: TermContext) -> Objective:
    if ctx.classes is not None:  # checks an index's range too
        return class_logit(ctx.classes(term.class_name if term.channel is None else term.channel))
    if term.channel is None:
        raise ConfigError(f"class name {term.class_name!r} needs a model with class names")
    return class_logit(term.channel)


def _resolve_class(term: LayerTerm, ctx: TermContext) -> LayerTerm:
    if term.channel is not None or ctx.classes is None:
        return term
    return LayerTerm(term.layer, ctx.classes(term.class_name), term.weight, class_name=term.class_name, kind=term.kind)


def _layer_only(kind: str) -> Callable[[str, str, float], LayerTerm]:
    def parse(item: str, rest: str, weight: float) -> LayerTerm:
        if not rest or ":" in rest:
            raise ConfigError(f"{kind} term {item!r} is not of the form {kind}:LAYER")
        return LayerTerm(rest, None, weight, kind=kind)

    return parse


def channel_combination(text: str) -> tuple[tuple[int, float], ...] | None:
    """``3+7-2`` as ((3, 1.0), (7, 1.0), (2, -1.0)); None for text not of that form.

    Raises:
        ConfigError: a channel named twice.
    """
    if not _CHANNELS.match(text):
        return None
    pairs = tuple((int(number), -1.0 if sign == "-" else 1.0) for sign, number in re.findall(r"([-+]?)([0-9]+)", text))
    if len({channel for channel, _ in pairs}) != len(pairs):
        raise ConfigError(f"channel combination {text!r} names a channel twice")
    return pairs


def _direction_term(item: str, rest: str, weight: float) -> LayerTerm:
    match = _COMBINATION.match(rest or "")
    combination = channel_combination(match["combo"]) if match else None
    if combination is None:
        raise ConfigError(f"direction term {item!r} is not of the form direction:LAYER:3+7-2 (channels joined by + or -)")
    return LayerTerm(match["layer"], None, weight, kind="direction", combination=combination)  # type: ignore[index]


def _direction(term: LayerTerm) -> Objective:
    return batched.direction(term.layer, dict(term.combination))


def _build_caricature(term: LayerTerm, ctx: TermContext) -> Objective:
    if ctx.photo is None:
        raise ConfigError(f"caricature:{term.layer} needs a photo to exaggerate")
    return batched.caricature(term.layer, ctx.photo(term.layer))


def _layer_build(term: LayerTerm, ctx: TermContext) -> Objective:
    if term.channel is None:
        return layer(term.layer, kind=ctx.kind)
    if term.position is not None:
        return neuron(term.layer, term.channel, *term.position, reference=ctx.reference)
    return channel(term.layer, term.channel, kind=ctx.kind)


def _channels(terms: list[LayerTerm], pictures: int) -> Objective | None:
    """Channels of one layer, item by item; None for anything else."""
    if len({t.layer for t in terms}) != 1 or any(t.channel is None or t.position is not None for t in terms):
        return None
    return batched.per_item_channels(terms[0].layer, [int(t.channel) for t in terms], pictures=pictures)  # type: ignore[arg-type]


def _channel_unit(term: LayerTerm) -> Objective:
    if term.channel is None or term.position is not None:
        raise ConfigError(f"a picture grows for a channel, a combination or a class, not for {term_text(term)!r}")
    return batched.direction(term.layer, {term.channel: 1.0})


# The plain terms (a layer, a channel, a neuron): written without a kind's name.
LAYER = TermKind("layer", "LAYER[:CHANNEL[@Y,X]]", "a layer, one of its channels, or a neuron", None, _layer_build,
                 unit=_channel_unit, per_item=_channels, score="mean activation", from_photo=True,
                 pixel=lambda t: {"layers": term_text(t), "objective": "mean", "grad_norm": "std", "smooth": 0.0,
                                  "jitter": 16})
register(TermKind("class", "class:CLASS", "a class logit, by index or name (class:goldfinch)", _class_term,
                  _build_class, reads_layer=False, unit=lambda t: class_logit(int(t.channel)),  # type: ignore[arg-type]
                  per_item=lambda terms, pictures: batched.per_item_classes([int(t.channel) for t in terms],  # type: ignore[arg-type]
                                                                            pictures=pictures),
                  pixel=lambda t: {"target_class": str(t.channel)}, score="logit", judged=True,
                  resolve=_resolve_class))
register(TermKind("direction", "direction:LAYER:3+7-2", "a direction in the layer's channel space: channels "
                  "together (+) or one without another (-); also written LAYER:3+7-2", _direction_term,
                  lambda t, ctx: _direction(t), unit=_direction, score="mean activation"))
register(TermKind("diversity", "diversity:LAYER", "several pictures of one target differ in style at the layer "
                  "(visualize --diversity N gives each target N pictures pushed apart by it)", _layer_only("diversity"),
                  lambda t, ctx: batched.diversity(t.layer, ctx.pictures), in_dreams=False))
register(TermKind("caricature", "caricature:LAYER", "exaggerate what the layer sees in a photo "
                  "(visualize caricature LAYER --photo PHOTO)", _layer_only("caricature"), _build_caricature,
                  in_dreams=False, of_photo=True))


def _concept_term(item: str, rest: str, weight: float) -> LayerTerm:
    from ..dictionaries import load_dictionary

    path, colon, index = rest.rpartition(":")
    if not colon or not path or not is_whole(index, signed=False):
        raise ConfigError(f"concept term {item!r} is not of the form concept:DICTIONARY.safetensors:INDEX")
    found = load_dictionary(path)
    if int(index) >= found.k:
        raise LayerError(f"concept {index} in {item!r} is out of range: the dictionary has {found.k} concepts, "
                         f"0 to {found.k - 1}", field="layers")
    return LayerTerm(found.layer, int(index), weight, kind="concept", source=path)


def _dictionary_of(term: LayerTerm) -> Any:
    """The dictionary a concept term reads, as it is now (rewritten since the term was
    parsed: its layer and size checked again)."""
    from ..dictionaries import load_dictionary

    found = load_dictionary(str(term.source))
    if found.layer != term.layer or int(term.channel) >= found.k:  # type: ignore[arg-type]
        raise LayerError(f"concept {term.channel} of {term.source!r} is gone: the dictionary now holds {found.k} "
                         f"concepts of layer {found.layer!r}", field="layers")
    return found


def _concept(term: LayerTerm) -> Objective:
    return batched.direction(term.layer, _dictionary_of(term).atoms[int(term.channel)])  # type: ignore[arg-type]


def _check_concept(term: LayerTerm, facts: LayerFacts) -> None:
    from ..dictionaries import check_for

    check_for(_dictionary_of(term), facts, str(term.source))


register(TermKind("concept", "concept:DICTIONARY:INDEX", "a learned concept: a direction in its layer's space, "
                  "from a dictionary that inceptionism concepts wrote (concept:concepts/dictionary.safetensors:3)",
                  _concept_term, lambda t, ctx: _concept(t), unit=_concept, score="projection",
                  check=_check_concept, text=lambda t: f"concept:{t.source}:{t.channel}", reads_file=True))


def file_terms(text: Any) -> list[tuple[str, str]]:
    """The (term, file) pairs of ``text`` whose kind reads a file, found without reading any
    (a door that takes others' requests checks them before the text is parsed); a written list
    of terms is read joined, as the doors read it."""
    if isinstance(text, (list, tuple)):
        text = ",".join(map(str, text))
    found = []
    for item in split_terms(str(text)):
        name, colon, rest = item.strip().partition(":")
        kind = TERM_KINDS.get(name)
        if colon and kind is not None and kind.reads_file:
            found.append((item.strip(), rest.split("*")[0].rpartition(":")[0] or rest))
    return found


def split_terms(text: str) -> list[str]:
    """Split on commas, except the one inside a neuron position ``@Y,X``."""
    items: list[str] = []
    for piece in text.split(","):
        if items and "@" in items[-1] and "," not in items[-1].split("@", 1)[1]:
            items[-1] += "," + piece
        else:
            items.append(piece)
    return items


def parse_terms(text: str) -> list[LayerTerm]:
    """Parse a comma list of ``LAYER[:CHANNEL[@Y,X]][*WEIGHT]`` and ``KIND:...[*WEIGHT]`` terms.

    A text is parsed once: every later call with it (the checks, the objective, the channel
    choice of one dream) gets the same immutable terms back, until a kind is registered; a
    text with a term that reads a file (a concept's dictionary) is read again each time.

    Examples:
        >>> parse_terms("blocks.5.0.bn1:12*0.5")
        [LayerTerm(layer='blocks.5.0.bn1', channel=12, weight=0.5, position=None, class_name=None, kind='layer', combination=(), source=None)]
    """
    found = _parsed(text, _generation[0])
    if any(kind_of(t).reads_file for t in found):  # what a file says may have changed: read it again
        return list(_parse(text))
    return list(found)


@lru_cache(maxsize=256)
def _parsed(text: str, generation: int) -> tuple[LayerTerm, ...]:
    return _parse(text)


def _parse(text: str) -> tuple[LayerTerm, ...]:
    terms = []
    for raw in split_terms(text):
        item = raw.strip()
        match = _TERM.match(item)
        if not match:
            raise ConfigError(f"layer term {item!r} is not of the form LAYER[:CHANNEL[@Y,X]][*WEIGHT] or "
                              f"{' or '.join(k.syntax for k in TERM_KINDS.values())}")
        chan_text, weight_text, pos_text = match["channel"], match["weight"], match["pos"]
        weight = _weight(item, weight_text)
        kind = TERM_KINDS.get(match["layer"])
        if kind is not None:
            if pos_text is not None:
                raise ConfigError(f"{kind.name} term {item!r} takes no position @Y,X")
            terms.append(kind.parse(item, chan_text or "", weight))
            continue
        combination = channel_combination(chan_text) if chan_text is not None and pos_text is None else None
        if combination is not None and len(combination) > 1:  # LAYER:3+7 is direction:LAYER:3+7
            terms.append(_direction_term(item, f"{match['layer']}:{chan_text}", weight))
            continue
        try:
            chan = whole(chan_text) if chan_text is not None else None
        except ValueError:
            raise ConfigError(f"channel {chan_text!r} in {item!r} is not a whole number (digits 0-9), nor channels joined by + "
                              "or - (3+7-2)") from None
        if chan is not None and chan < 0:
            raise LayerError(f"channel {chan} in {item!r} is negative; channels count from 0")
        terms.append(LayerTerm(match["layer"], chan, weight, _position(item, pos_text, chan)))
    if len(terms) > MAX_TERMS:
        raise ConfigError(f"layers has {len(terms)} terms; at most {MAX_TERMS}", field="layers")
    return tuple(terms)


def _weight(item: str, text: str | None) -> float:
    if text is None:
        return 1.0
    try:
        weight = decimal(text)
    except ValueError:
        raise ConfigError(f"weight {text!r} in {item!r} is not a number") from None
    if not abs(weight) <= MAX_WEIGHT:  # NaN fails this too
        raise ConfigError(f"weight {text!r} in {item!r} must be a finite number from {-MAX_WEIGHT:g} to {MAX_WEIGHT:g}")
    return weight


def _position(item: str, text: str | None, chan: int | None) -> tuple[int, int] | None:
    if text is None:
        return None
    if chan is None:
        raise ConfigError(f"neuron {item!r} needs a channel: LAYER:CHANNEL@Y,X")
    try:
        y_text, x_text = text.split(",")
        y, x = whole(y_text.strip()), whole(x_text.strip())
    except ValueError:
        raise ConfigError(f"position {text!r} in {item!r} is not of the form Y,X with whole numbers") from None
    if y < 0 or x < 0:
        raise LayerError(f"position {y},{x} in {item!r} is outside the layer; positions count from 0")
    return y, x


def parse(
    text: str,
    *,
    kind: str = "l2",
    classes: Callable[[str], int] | None = None,
    make: Callable[[LayerTerm], Objective] | None = None,
) -> Objective:
    """Turn a ``--layers`` string into one summed objective.

    ``classes`` turns a class name into its index (needed only for ``class:NAME``);
    ``make`` builds each term's unweighted objective instead of :func:`term_objective`
    (the dream's steering uses it for guides and neuron positions).
    """
    make = make or (lambda term: term_objective(term, TermContext(kind=kind, classes=classes)))
    parts = [make(term) * term.weight if term.weight != 1.0 else make(term) for term in parse_terms(text)]
    if not parts:
        raise ConfigError("no layers given; expected LAYER[:CHANNEL][*WEIGHT],...", field="layers")
    return total(parts)


def term_objective(term: LayerTerm, ctx: TermContext | None = None) -> Objective:
    """The unweighted objective of one parsed term."""
    return kind_of(term).build(term, ctx or TermContext())


def term_text(term: LayerTerm) -> str:
    """A term as written (its weight left out), in the shortest form that parses back to it:
    ``blocks.4.1.bn1:7``, ``blocks.4.1.bn1:3+7`` (a direction), ``class:1``, ``diversity:LAYER``."""
    own = kind_of(term).text
    if own is not None:
        return own(term)
    if term.combination:
        text = f"{term.layer}:" + "".join(f"{'-' if c < 0 else '+'}{k}" for k, c in term.combination).lstrip("+")
    else:
        target = term.class_name if term.channel is None and term.class_name else term.channel
        text = term.layer if target is None else f"{term.layer}:{target}"
        text += f"@{term.position[0]},{term.position[1]}" if term.position is not None else ""
    try:
        (bare,) = parse_terms(text)
    except (ConfigError, LayerError, ValueError):
        bare = None
    return text if bare is not None and bare.kind == term.kind else f"{term.kind}:{text}"
