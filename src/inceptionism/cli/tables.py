"""Listings for people, pipes and programs, from one set of records.

A listing command builds its records (plain dicts, the same keys in each) and hands them
here with a table for the terminal:

- ``--json``: one JSON array of the records, on standard output;
- standard output not a terminal (``| grep``, ``> file``): a header line of the keys and
  one tab-separated line per record, every value whole, no box drawing; the table's notes
  go to standard error, so the pipe carries the data alone;
- a terminal: the rich table, whose columns fold a long name onto a second line rather
  than cut it, and its notes.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable, Sequence

import typer
from rich.table import Table

from .common import err, out

__all__ = ["JsonOpt", "show_records", "folding_table"]

JsonOpt = typer.Option(False, "--json", help="Print the listing as a JSON array, for programs.")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value).replace("\t", " ").replace("\n", " ")


def show_records(keys: Sequence[str], records: list[dict[str, Any]], *, as_json: bool, table: Callable[[], Table],
                 notes: Sequence[str] = ()) -> None:
    """Print ``records`` (dicts with ``keys``) as JSON, tab-separated lines or ``table()``."""
    if as_json:
        sys.stdout.write(json.dumps(records, indent=1) + "\n")
    elif not out.is_terminal:
        lines = ["\t".join(keys)] + ["\t".join(_cell(record[key]) for key in keys) for record in records]
        sys.stdout.write("\n".join(lines) + "\n")
        for note in notes:
            err.print(note, soft_wrap=True)
    else:
        out.print(table())
        for note in notes:
            out.print(note)
    sys.stdout.flush()


def folding_table(title: str, columns: Sequence[tuple[str, str]]) -> Table:
    """A table whose cells fold onto more lines instead of being cut; ``columns`` is
    (header, "left" or "right")."""
    table = Table(title=title, show_lines=False)
    for header, justify in columns:
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
    return table
