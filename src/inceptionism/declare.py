"""The declaration of parameters: one ``param(...)`` per dataclass field.

A parameter is declared once, as a field of a config dataclass (``config.py`` the dream's,
``command_config.py`` every other command's): its name is the field's name, its type the field's
annotation, and ``param()`` gives the default, the bounds or choices, the help text and
the front doors that offer it. Everything else is generated from that:

- the command line's options (``cli/flags.py``): ``--step-size`` for ``step_size``;
- validation of a value from any source (:func:`check_value`), with the field named;
- the JSON schema of config files and of the HTTP API (:func:`json_schema`);
- the studio's form, from ``/api/settings`` (``studio`` placement and widget);
- the parameter table in ``docs/parameters.md`` (``scripts/make_parameter_docs.py``).

This module imports nothing from the package but ``errors``.

Examples:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Example:
    ...     steps: int = param(12, "steps per octave", low=1, high=100)
    >>> [p.name for p in declared(Example)]
    ['steps']
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .errors import ConfigError
from .written import decimal

__all__ = ["at", "Checked", "Door", "Param", "Studio", "param", "declared", "check_value", "json_schema", "add_door",
           "door_named", "DOORS", "ALL", "LOCAL"]



@dataclass(frozen=True)
class Door:
    """A front door: a way in that takes parameters. ``local``: it runs on the user's own
    machine, so it may take the parameters that name files or machines (``doors=LOCAL``);
    a door that takes requests from elsewhere (the studio) never offers those."""

    name: str
    local: bool
    about: str = ""


_DOORS: dict[str, Door] = {}


def add_door(name: str, *, local: bool, about: str = "") -> Door:
    """Register a front door; every parameter declared for all doors (or all local ones) is
    offered by it at once. A new door (a notebook helper, a chat bot) starts here."""
    door = _DOORS[name] = Door(name, local, about)
    return door


def door_named(name: str) -> Door:
    if name not in _DOORS:
        raise ConfigError(f"no front door {name!r}; the doors are {', '.join(_DOORS)}")
    return _DOORS[name]


add_door("cli", local=True, about="the command line")
add_door("file", local=True, about="JSON config files and the metadata embedded in outputs")
add_door("api", local=True, about="the Python library")
add_door("studio", local=False, about="the HTTP API and its web page")
add_door("comfyui", local=True, about="ComfyUI's nodes (integrations/comfyui): pictures come as IMAGE and MASK values")

DOORS = tuple(_DOORS)  # the doors built in; door_named() knows every one added since
ALL = frozenset({"*"})  # a parameter every door offers, those added later included
LOCAL = frozenset({"*local"})  # names files or machines: offered by local doors only, never from a web request


@dataclass(frozen=True)
class Studio:
    """Where and how the studio's form shows a parameter."""

    section: str  # the form's part: "strength", "advanced", "classes", "guide"; "basic" for hand-made controls
    label: str  # the form's label
    control: str = "number"  # "range", "number", "select", "checkbox", "text"; "custom": laid out by hand
    min: float | None = None  # the control's range, where it differs from the bounds
    max: float | None = None
    step: float | None = None
    placeholder: str = ""  # shown while empty (e.g. "automatic")


@dataclass(frozen=True)
class Param:
    """One declared parameter. ``kind`` is int, float, str, bool or tuple (from the annotation)."""

    name: str
    kind: type
    nullable: bool  # None is allowed (and means "not set"; the help says what happens then)
    default: Any
    help: str  # one line, without the default
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # the value must be above ``low``, not equal to it
    choices: tuple[str, ...] | None = None
    doors: frozenset[str] = ALL
    flags: tuple[str, ...] = ()  # command-line spellings; () = --name-with-dashes
    aliases: tuple[str, ...] = ()  # other keys accepted in config files and requests (e.g. "class")
    parse: Callable[[Any], Any] | None = None  # turns a string (CLI) or list (JSON) form into the value
    check: Callable[[Any], None] | None = None  # further checks of a parsed value; raises ConfigError
    schema: dict[str, Any] | None = None  # JSON schema where the kind alone does not say it
    metavar: str | None = None  # shape of the command-line value, e.g. "WxH"
    repeat: bool = False  # the flag may be given several times (a tuple of strings)
    schedule: bool = False  # a number, or START:END interpolated from the first octave to the last
    studio: Studio | None = None  # None: not on the studio's form
    picture: str | None = None  # "image" or "mask": the value names a picture file; a door that carries pictures
    # as values (ComfyUI's IMAGE and MASK) takes the picture itself instead (a repeat parameter: a batch of them)

    @property
    def flag(self) -> str:
        return self.flags[0] if self.flags else "--" + self.name.replace("_", "-")

    def offered(self, door: str) -> bool:
        """Whether the front door ``door`` (see :func:`add_door`) offers this parameter."""
        local = door_named(door).local
        return door in self.doors or "*" in self.doors or ("*local" in self.doors and local)


def param(default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field that declares a parameter; ``spec`` holds :class:`Param`'s other fields."""
    return dataclasses.field(default=default, metadata={"param": (help, spec)})


_DECLARED: dict[type, list[Param]] = {}


def declared(cls: type) -> list[Param]:
    """The parameters a dataclass declares, in field order (cached)."""
    if cls not in _DECLARED:
        hints = typing.get_type_hints(cls)
        found = []
        for f in dataclasses.fields(cls):
            if "param" not in f.metadata:
                continue
            help_text, spec = f.metadata["param"]
            kind, nullable = _kind(hints[f.name])
            spec = {"doors": getattr(cls, "DOORS", ALL), **spec}  # a class may narrow its fields' doors
            found.append(Param(f.name, kind, nullable, f.default, help_text, **spec))
        _DECLARED[cls] = found
    return _DECLARED[cls]


def _kind(hint: Any) -> tuple[type, bool]:
    args = typing.get_args(hint)
    nullable = type(None) in args
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in args if a is not type(None))
    origin = typing.get_origin(hint) or hint
    return (tuple if origin in (tuple, list) else origin), nullable


class Checked:
    """Base of a frozen config dataclass: every declared field is checked on construction,
    whatever the source, and stored in its canonical form (``"-4:2"`` becomes ``(-4, 2)``).

    ``DOORS`` (a class attribute) are the front doors its fields offer unless a field says.
    """

    DOORS: typing.ClassVar[frozenset[str]] = ALL

    def __post_init__(self) -> None:
        for p in declared(type(self)):
            object.__setattr__(self, p.name, check_value(p, getattr(self, p.name)))


def check_value(p: Param, value: Any) -> Any:
    """``value`` checked against ``p``'s declaration, in its canonical form.

    Raises:
        ConfigError: naming the parameter, the value and what is allowed (``.field`` is ``p.name``).
    """
    if value is None:
        if p.nullable:
            return None
        raise ConfigError(f"{p.name} must be set; {_allowed(p)}", field=p.name)
    if p.schedule:
        return _check_schedule(p, value)
    if p.parse is not None:  # string (CLI) and list (JSON) forms; idempotent on canonical values
        value = p.parse(value)
    if p.kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{p.name} must be true or false, got {value!r}", field=p.name)
    elif p.kind is int:
        if isinstance(value, float) and value.is_integer():  # 3.0 is 3, as in JSON schema
            value = int(value)
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):  # numpy's integers too
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{p.name} must be a whole number, got {_short(value)}", field=p.name)
        _check_range(p, value)
    elif p.kind is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ConfigError(f"{p.name} must be a finite number, got {_short(value)}", field=p.name)
        value = float(value)
        _check_range(p, value)
    elif p.kind is str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{p.name} must be a non-empty string, got {_short(value)}", field=p.name)
        if p.choices is not None and value not in p.choices:
            raise ConfigError(f"{p.name} {value!r} is not one of {', '.join(p.choices)}", field=p.name)
    elif p.kind is tuple and not isinstance(value, tuple):
        raise ConfigError(f"{p.name} must be a list, got {_short(value)}", field=p.name)
    if p.check is not None:
        p.check(value)
    return value


def _check_schedule(p: Param, value: Any) -> Any:
    """A schedule's value: one number, or (start, end) from ``"START:END"`` or a pair, each checked."""
    if isinstance(value, str):
        pieces = value.split(":")
        try:
            if len(pieces) > 2:
                raise ValueError
            numbers = [decimal(piece.strip()) for piece in pieces]
        except ValueError:
            raise ConfigError(f"{p.name} {value[:40]!r} is not a number or START:END, e.g. 0.012:0.004", field=p.name) from None
        numbers = [int(v) if p.kind is int and v.is_integer() else v for v in numbers]
        value = numbers[0] if len(numbers) == 1 else numbers
    plain = dataclasses.replace(p, schedule=False, parse=None)
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"{p.name} {_short(value)} must be one number or a START:END pair", field=p.name)
        return tuple(check_value(dataclasses.replace(plain, nullable=False), v) for v in value)
    return check_value(plain, value)


def at(value: Any, index: int, count: int) -> Any:
    """A schedule's value at octave ``index`` of ``count``: linear from start to end (whole
    numbers stay whole); a plain number is the same everywhere."""
    if not isinstance(value, tuple):
        return value
    start, end = value
    exact = start + (end - start) * (index / (count - 1) if count > 1 else 0.0)
    return round(exact) if isinstance(start, int) and isinstance(end, int) else exact


def _check_range(p: Param, value: float) -> None:
    too_low = p.low is not None and (value <= p.low if p.low_open else value < p.low)
    too_high = p.high is not None and value > p.high
    if too_low or too_high:
        raise ConfigError(f"{p.name} = {_short(value)} is out of range; {_allowed(p)}", field=p.name)


def _allowed(p: Param) -> str:
    if p.choices is not None:
        return f"allowed: {', '.join(p.choices)}"
    if p.low is not None and p.high is not None:
        low = f"greater than {_num(p.low)}" if p.low_open else f"at least {_num(p.low)}"
        return f"it must be {low} and at most {_num(p.high)}"
    return f"allowed: {p.help}"


def _num(value: float) -> str:
    return str(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bounded(prop: dict[str, Any], p: Param) -> dict[str, Any]:
    """``prop`` with ``p``'s bounds, when it is a number."""
    if prop.get("type") in ("integer", "number"):
        if p.low is not None:
            prop["exclusiveMinimum" if p.low_open else "minimum"] = p.low
        if p.high is not None:
            prop["maximum"] = p.high
    return prop


def json_schema(params: Iterable[Param], title: str) -> dict[str, Any]:
    """A JSON schema (draft 2020-12) of an object holding ``params``; unknown keys are refused."""
    properties = {}
    for p in params:
        prop = dict(p.schema) if p.schema else {"type": {int: "integer", float: "number", str: "string", bool: "boolean"}[p.kind]}
        if p.schedule:  # the number as below, or START:END as text or a pair
            _bounded(prop, p)
            prop = {"anyOf": [prop, {"type": "string", "pattern": r"^-?[0-9.eE+-]+(:-?[0-9.eE+-]+)?$"},
                              {"type": "array", "items": _bounded({"type": prop["type"]}, p), "minItems": 2, "maxItems": 2}]}
        _bounded(prop, p)
        if p.choices is not None:
            prop["enum"] = list(p.choices)
        if p.nullable:
            prop = {"anyOf": [prop, {"type": "null"}]}
        prop["description"] = p.help
        prop["default"] = list(p.default) if isinstance(p.default, tuple) else p.default
        properties[p.name] = prop
        for alias in p.aliases:
            properties[alias] = {**prop, "description": f"another name for {p.name}"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
