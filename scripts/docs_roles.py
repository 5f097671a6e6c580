"""A griffe extension for the documentation site: the docstrings' Sphinx roles become links.

The docstrings name other objects the way Sphinx and ``help()`` readers know
(``:func:`render```, ``:class:`~inceptionism.api.Dream```); mkdocstrings reads Markdown and
would print the role itself. Each role becomes an optional cross-reference, resolved in the
scope of the object whose docstring it is: a link where the site documents the target, the
name in code where it does not (the site documents the public API, not every helper).
``mkdocs.yml`` names this file under the python handler's ``extensions``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?P<kind>func|class|meth|mod|data|attr|exc|obj|const):`(?P<target>[^`]+)`")


def _within(obj: griffe.Object, path: str, kind: str) -> str:
    """``path``, or the object of its name inside it where ``path`` is a module and a function
    or class was asked for (``featurevis.render``, the module, holds ``render``, the function)."""
    root = obj.package
    try:
        found = root[path.removeprefix(root.path + ".")] if path != root.path else root
    except (KeyError, ValueError, AttributeError):
        return path
    name = path.rsplit(".", 1)[-1]
    if kind != "mod" and found.is_module and name in found.members:
        return f"{path}.{name}"
    return path


def _identifier(obj: griffe.Object, target: str, kind: str = "obj") -> str:
    """The full dotted path ``target`` names, seen from ``obj`` (as Sphinx would look it up)."""
    if target.startswith("."):  # relative to the module: .limits, ..options.X
        module = obj if obj.is_module else obj.module
        package = module if module.is_init_module else module.parent
        dots = len(target) - len(target.lstrip("."))
        for _ in range(dots - 1):
            package = package.parent if package.parent is not None else package
        return f"{package.path}.{target.lstrip('.')}"
    first, _, rest = target.partition(".")
    for scope in (obj, obj.parent):
        if scope is None:
            continue
        try:
            found = scope.resolve(first)
        except Exception:  # noqa: BLE001 - griffe's NameResolutionError, or a cyclic alias
            continue
        return f"{found}.{rest}" if rest else _within(obj, found, kind)
    return target


def linked(obj: griffe.Object, text: str) -> str:
    """``text`` with every role written as an optional autorefs cross-reference."""

    def one(match: re.Match[str]) -> str:
        target = match["target"].strip()
        short = target.startswith("~")
        target = target.lstrip("~")
        shown = target.rsplit(".", 1)[-1] if short else target
        identifier = _identifier(obj, target, match["kind"])
        return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'

    return ROLE.sub(one, text)


class SphinxRoles(griffe.Extension):
    """Rewrites roles once the whole tree is loaded, so names imported by a module resolve."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.is_alias or obj.docstring is None:
            return
        obj.docstring.value = linked(obj, obj.docstring.value)
