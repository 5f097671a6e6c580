"""Command-line flags generated from the parameter declarations (``declare.py``).

A command lists the declarations it offers; each becomes an option with the declared
name (``step_size`` is ``--step-size``), help, and default, and the command receives the
values as one checked config object. Nothing here repeats a default or a help text.
"""

from __future__ import annotations

import functools
import inspect
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import typer

from ..config import DreamConfig, dream_params, layered, load_config_mapping
from ..declare import Param, declared
from ..errors import ConfigError
from ..written import decimal, whole
from .common import err, errors

__all__ = ["with_config", "dream_options", "option_for", "written_number"]


def written_number(kind: type) -> Callable[[Any], Any]:
    """A typer parser for ``kind`` (int or float) that reads numbers written with the digits 0-9
    alone: click's own ``int()`` and ``float()`` also take other scripts' digits (``--size ٣٢``
    was 32) and underscores (``1_0`` was 10)."""

    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return whole(value.strip()) if kind is int else decimal(value.strip())
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parse


def _annotation(p: Param) -> Any:
    if p.repeat:
        return Optional[list[str]]
    if p.parse is not None or p.kind is tuple or p.schedule:
        return Optional[str]
    return Optional[p.kind]


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else str(value)


def option_for(p: Param, *, layered_default: bool) -> Any:
    """A typer option for ``p``. With ``layered_default`` its default is None (the value comes
    from the layers below the flags) and the declared default is shown in the help."""
    names = list(p.flags) or [p.flag]
    if p.kind is bool:
        names[0] = f"{names[0]}/--no-{names[0][2:]}"
    text = p.help[0].upper() + p.help[1:] + "."
    if p.choices:
        text += f" One of: {', '.join(p.choices)}."
    if layered_default or p.default is None or p.repeat:
        default, text = None, text + f" Default: {_shown(p.default)}."
    else:
        default = _shown(p.default) if isinstance(p.default, tuple) else p.default
    number = p.kind if _annotation(p) in (Optional[int], Optional[float]) else None
    return typer.Option(default, *names, help=text, show_default=default is not None,
                        metavar=p.metavar or (("INTEGER" if number is int else "FLOAT") if number else None),
                        parser=written_number(number) if number is not None else None)


def _signature(command: Callable, supplied: Sequence[str], params: Sequence[Param], *, layered_default: bool,
               extra: Sequence[inspect.Parameter] = ()) -> inspect.Signature:
    """``command``'s own parameters, less the ``supplied`` ones (the wrapper passes them),
    followed by an option for each of ``params`` and the ``extra`` ones."""
    own = [q for q in inspect.signature(command).parameters.values() if q.name not in supplied]
    generated = [
        inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=option_for(p, layered_default=layered_default),
                          annotation=_annotation(p))
        for p in params
    ]
    return inspect.Signature(own + generated + list(extra))


def _given(kwargs: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """Take the generated options out of ``kwargs``: those given (not None), lists as tuples."""
    values = {name: kwargs.pop(name) for name in names}
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if v is not None}


def with_config(into: str, cls: type, *, only: Sequence[str] | None = None, door: str = "cli",
                file_key: str | None = None):
    """Offer ``cls``'s declared parameters (or ``only`` those) as options; the command gets
    ``into=cls(**values)``, checked, with the declared defaults for what was not given. With
    ``file_key``, the command's own ``config`` option (a JSON file, or a picture whose metadata
    holds ``file_key``) gives the values the flags do not: defaults < file < flags."""

    def decorate(command: Callable) -> Callable:
        params = [p for p in declared(cls) if p.offered(door) and (only is None or p.name in only)]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            values = _given(kwargs, [p.name for p in params])
            with errors(kwargs.get("debug", False)):
                if file_key is not None and kwargs.get("config") is not None:
                    file = load_config_mapping(kwargs["config"], key=file_key)
                    values = {**{p.name: file[p.name] for p in params if p.name in file}, **values}
                config = cls(**values)
            return command(**{into: config}, **kwargs)

        # with a file, an option not given is None (the file's value, else the declared default)
        wrapper.__signature__ = _signature(command, [into], params,  # type: ignore[attr-defined]
                                           layered_default=file_key is not None)
        return wrapper

    return decorate


_CONFIG_FILE = inspect.Parameter(
    "config", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[Path],
    default=typer.Option(None, "--config", help="JSON parameters, or an image this tool wrote; flags override it."),
)


def dream_options(command_defaults: Mapping[str, Any] | None = None, *, draw: bool = True):
    """Offer every dream parameter as a flag plus ``--config FILE``; the command gets
    ``cfg``, layered (defaults < preset < ``command_defaults`` < config file < flags) and
    resolved (layers and, unless ``draw`` is False, the seed filled in), and the config
    file's path as ``config_file`` when it takes that argument (to keep outputs off it)."""

    def decorate(command: Callable) -> Callable:
        params = dream_params("cli")
        wants_file = "config_file" in inspect.signature(command).parameters

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            config_file = kwargs.pop("config")
            flags = _given(kwargs, [p.name for p in params])
            with errors(kwargs.get("debug", False)):
                cfg = build_config(config_file, flags, command_defaults, draw=draw)
            if wants_file:
                kwargs["config_file"] = config_file
            return command(cfg=cfg, **kwargs)

        signature = _signature(command, ["cfg", "config_file"], params, layered_default=True, extra=[_CONFIG_FILE])
        wrapper.__signature__ = signature  # type: ignore[attr-defined]
        return wrapper

    return decorate


def build_config(
    config_file: Path | None, flags: Mapping[str, Any], command_defaults: Mapping[str, Any] | None = None, *, draw: bool = True
) -> DreamConfig:
    """The command line's config: :func:`layered`, then resolved for the chosen network.
    Bad values are refused before torch is imported, so such errors are instant."""
    file = load_config_mapping(config_file) if config_file else None
    cfg = layered(explicit=flags, file=file, command=command_defaults)
    if cfg.layers is not None and cfg.layers.strip() == "?":
        cfg = cfg.replace(layers=ask_layers(cfg.model))
    from ..api import resolve_config

    return resolve_config(cfg, draw=draw)


def interactive() -> bool:
    """Whether a person is at a terminal to answer a question."""
    return sys.stdin.isatty()


def ask_layers(model_name: str) -> str:
    """``--layers ?``: show the numbered layers and ask which to dream on (a terminal only)."""
    if not interactive():
        raise ConfigError("--layers ? asks in an interactive terminal; here give the layers themselves "
                          "(names, or numbers and ranges from 'inceptionism layers')", field="layers")  # fmt: skip
    from ..models import load_model
    from ..taps import list_layers

    for index, info in enumerate(list_layers(load_model(model_name, device="cpu", pretrained=False))):
        err.print(f"{index:4d}  {info.name}  ({info.channels} channels, {info.height}x{info.width} at 224 px)")
    return typer.prompt("layers to dream on (numbers, ranges such as 40-44, or names; comma list)", err=True)
