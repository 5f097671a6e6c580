"""The test run itself: what it did not check is said in its last lines."""

from __future__ import annotations

import os
from pathlib import Path

pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parents[1]


def test_the_runs_last_lines_count_and_name_what_was_not_checked(pytester, monkeypatch):
    pytester.makeconftest("from tests.support import report_unchecked\n\n\n"
                          "def pytest_terminal_summary(terminalreporter):\n    report_unchecked(terminalreporter)\n")
    pytester.makepyfile(test_some="import pytest\n\ndef test_runs():\n    pass\n\n"
                                  "def test_needs_a_thing():\n    pytest.skip('the thing: not on this machine')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    tail = result.outlines[-6:]
    assert any("NOT CHECKED ON THIS MACHINE: 1 test(s)" in line for line in tail), tail
    assert any("test_some.py::test_needs_a_thing: the thing: not on this machine" in line for line in tail), tail
    pytester.makepyfile(test_some="def test_runs():\n    pass\n")
    clean = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    assert any("no guarantee went unchecked" in line for line in clean.outlines[-3:]), clean.outlines[-3:]
