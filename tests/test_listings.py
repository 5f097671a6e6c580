"""Listings for pipes and programs: layers, models and classes print whole names as
tab-separated lines in a pipe, JSON with --json, and a table that folds, never cuts, in a terminal."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from rich.console import Console
from typer.testing import CliRunner

from inceptionism.cli import app, tables
from inceptionism.models import load_model
from inceptionism.taps import list_layers

runner = CliRunner()


def test_layers_through_a_real_pipe_lists_every_name_in_full():
    listed = subprocess.run(f"{sys.executable} -m inceptionism layers --model inception5h | cat", shell=True,
                            capture_output=True, text=True, timeout=120, check=True)
    lines = listed.stdout.splitlines()
    assert lines[0].split("\t") == ["index", "layer", "channels", "height", "width", "kind", "default"]
    names = [line.split("\t")[1] for line in lines[1:]]
    assert names == [info.name for info in list_layers(load_model("inception5h", weights="random"))]
    assert "mixed4d_3x3_bottleneck_pre_relu" in names and not any("…" in line or "│" in line for line in lines)
    assert "--layers mixed4c" in listed.stderr  # the note stays off the pipe


@pytest.mark.parametrize("command", [["layers"], ["layers", "--model", "inception5h"], ["models"], ["classes"]])
def test_json_parses_and_matches_the_lines(command):
    lines = runner.invoke(app, command).stdout.splitlines()
    data = json.loads(runner.invoke(app, [*command, "--json"]).stdout)
    keys = lines[0].split("\t")
    assert len(data) == len(lines) - 1 and list(data[0]) == keys
    for record, line in zip(data, lines[1:]):
        cells = line.split("\t")
        for key, cell in zip(keys, cells):
            value = record[key]
            assert cell == ("yes" if value else "no") if isinstance(value, bool) else cell == ("" if value is None else str(value))


def test_a_narrow_terminal_folds_long_names_instead_of_cutting_them(monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr(tables, "out", Console(file=buffer, force_terminal=True, width=50, color_system=None))
    result = runner.invoke(app, ["layers", "--model", "inception5h", "--filter", "mixed4d_3x3_bottleneck"])
    assert result.exit_code == 0, result.output
    shown = buffer.getvalue()
    assert "…" not in shown and "│" in shown
    column = "".join(line.split("│")[2].strip() for line in shown.splitlines() if line.count("│") >= 6)
    assert "mixed4d_3x3_bottleneck_pre_relu" in column


@pytest.mark.parametrize("command", [["layers", "--json"], ["layers"], ["models", "--json"], ["classes"], ["schema"],
                                     ["info", "{dream}"], ["--version"]])
def test_a_listing_onto_a_full_disk_is_one_line_and_exit_6(command, tmp_path):
    dream = tmp_path / "d.png"
    if "{dream}" in command:
        assert runner.invoke(app, ["dream", "noise", "--size", "32x32", "--steps", "1", "-o", str(dream), "-q"]).exit_code == 0
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "inceptionism", *(str(dream) if c == "{dream}" else c for c in command)],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 6, done.stderr
    assert done.stderr.strip() == "error: cannot write to standard output: No space left on device", done.stderr


def test_a_listing_whose_reader_has_gone_ends_quietly():
    read, write = os.pipe()
    os.close(read)  # like `| head` once it has what it wanted
    with open(write, "w") as pipe:
        done = subprocess.run([sys.executable, "-m", "inceptionism", "classes"], stdout=pipe, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    assert done.returncode == 141 and done.stderr == "", done.stderr


def test_a_command_started_with_its_standard_output_closed_runs_without_a_traceback(tmp_path):
    for command in (["classes"], ["dream", "noise", "--size", "32x32", "--steps", "1", "-o", str(tmp_path / "d.png"),
                                  "-q"]):
        done = subprocess.run([sys.executable, "-m", "inceptionism", *command], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, timeout=120,
                              preexec_fn=lambda: os.close(1))  # `inceptionism ... >&-`
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert (tmp_path / "d.png").is_file()
