"""The documentation site builds strictly (scripts/docs.sh) and its API reference renders
every name ``import inceptionism`` offers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import inceptionism

ROOT = Path(__file__).resolve().parents[1]


def test_the_site_builds_strictly_and_references_every_public_name(tmp_path):
    site = tmp_path / "site"
    built = subprocess.run(["bash", str(ROOT / "scripts" / "docs.sh"), str(site)], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    reference = (site / "reference" / "index.html").read_text()
    for name in inceptionism.__all__:
        if name == "__version__":
            assert "inceptionism.__version__" in reference
            continue
        anchor = f'id="inceptionism.{inceptionism._EXPORTS[name]}.{name}"'
        assert anchor in reference, f"{name} has no entry in the API reference"
    for page in ("featurevis", "steering", "parameters", "architecture"):
        assert (site / page / "index.html").is_file()
    assert 'src="../gallery/' in (site / "steering" / "index.html").read_text()  # the pictures came along
