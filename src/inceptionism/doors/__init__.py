"""A kit for any front door, with no web framework in it: what the studio, the command line
and any later door (a notebook helper, a bot) share.

- :mod:`.form`: the parameters a door offers, described for its widgets (``form(door)``);
- :mod:`.limits`: what a door that takes requests from others accepts: the upload checks,
  the parameter checks (``check_params``: only the door's parameters, flat), the ranges
  (``Limits``) and the cost bound (``work``, ``check_work``); a refusal is an ``ApiError``
  (a status, one line, the field at fault).

A new door registers itself with :func:`inceptionism.declare.add_door` (local or not), and
every parameter declared for all doors is offered by it at once. docs/architecture.md
("Adding a front door") has the steps.
"""

from __future__ import annotations

from .form import form
from .limits import ApiError, Limits, check_params, check_upload, check_work, work

__all__ = ["form", "ApiError", "Limits", "check_params", "check_upload", "check_work", "work"]
