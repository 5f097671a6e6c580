"""Write docs/parameters.md from the parameter declarations (a test checks it is current).

    .venv/bin/python scripts/make_parameter_docs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from inceptionism.config import AscentConfig, RunConfig, SteeringConfig
from inceptionism.command_config import (
    ActivationsConfig,
    BatchConfig,
    ConceptsConfig,
    DreamOutputs,
    GalleryConfig,
    InspectConfig,
    ServeConfig,
    VideoConfig,
    VisualizeConfig,
    ZoomConfig,
)
from inceptionism.declare import DOORS, Param, declared

TARGET = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"

GROUPS = [
    ("Dream: ascent", "`dream`, `zoom`, `video`, `batch`; the engine reads only these", AscentConfig),
    ("Dream: steering", "what is climbed: the objective", SteeringConfig),
    ("Dream: network and sizes", "", RunConfig),
    ("dream: outputs", "", DreamOutputs),
    ("zoom", "", ZoomConfig),
    ("video", "", VideoConfig),
    ("batch", "", BatchConfig),
    ("visualize", "also `--model` and `--device`", VisualizeConfig),
    ("gallery", "also `--model` and `--device`", GalleryConfig),
    ("concepts", "also `--model`, `--weights` and `--device`", ConceptsConfig),
    ("activations", "also `--model` and `--device`", ActivationsConfig),
    ("layers, classes, visualize, gallery, concepts, activations", "", InspectConfig),
    ("serve", "", ServeConfig),
]


def _default(p: Param) -> str:
    if isinstance(p.default, tuple):
        return ",".join(str(v) for v in p.default) or "none"
    if isinstance(p.default, bool):
        return "on" if p.default else "off"
    return "none" if p.default is None else str(p.default)


def _allowed(p: Param) -> str:
    if p.choices:
        return ", ".join(p.choices)
    if p.low is not None and p.high is not None:
        low, high = (f"{v:g}" if isinstance(v, float) else f"{v:,}" for v in (p.low, p.high))
        return f"{'>' if p.low_open else '≥'} {low} … {high}"
    return p.metavar or {bool: "on/off", int: "whole number", float: "number"}.get(p.kind, "text")


def _doors(p: Param) -> str:
    return ", ".join(d for d in DOORS if p.offered(d))


def render() -> str:
    lines = [
        "# Parameters",
        "",
        "Generated from the declarations in `src/inceptionism/config.py` and `command_config.py` by",
        "`scripts/make_parameter_docs.py`; do not edit by hand. Each parameter has one name in",
        "the library, config files (`step_size`), the command line (`--step-size`) and the HTTP",
        "API. *Doors*: `cli` command line, `file` JSON config files and embedded metadata, `api`",
        "the Python library, `studio` the HTTP API and its web form.",
        "",
    ]
    for title, note, cls in GROUPS:
        lines += [f"## {title}", ""] + ([note, ""] if note else [])
        lines += ["| name | flag | default | allowed | doors | meaning |", "|---|---|---|---|---|---|"]
        for p in declared(cls):
            flags = " ".join(f"`{f}`" for f in (p.flags or (p.flag,)))
            text = p.help.replace("|", "\\|").replace("[", "\\[")  # not a link to mkdocs
            lines.append(f"| `{p.name}` | {flags} | `{_default(p)}` | {_allowed(p).replace('|', '/')} | {_doors(p)} | {text} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET}", file=sys.stderr)
