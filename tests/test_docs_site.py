"""The documentation site builds strictly (scripts/docs.sh) and its API reference renders
every name ``import inceptionism`` offers."""

from __future__ import annotations

import re
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
    for entry in ("motion.zoom.zoom_frames", "motion.video.dream_video", "motion.batch.dream_folder"):
        assert f'id="inceptionism.{entry}"' in reference, f"{entry} (it takes progress=True) has no entry"
    for page in ("featurevis", "steering", "parameters", "architecture"):
        assert (site / page / "index.html").is_file()
    assert 'src="../gallery/' in (site / "steering" / "index.html").read_text()  # the pictures came along
    # The docstrings' Sphinx roles became links (or code where the site has no entry), never
    # the role itself printed beside the name
    pages = "".join(page.read_text() for page in site.rglob("*.html"))
    assert not re.search(r":(func|class|meth|mod|data|attr|exc):<code>", pages)
    assert 'href="#inceptionism.config.DreamConfig"><code>DreamConfig</code></a>' in reference
    assert 'href="#inceptionism.featurevis.render.render"><code>render</code></a>' in reference
    # Docstrings' examples are code, not ">>>" read as three nested quotes ("Examples:", the
    # Google-style title; "Example:" is taken for an admonition)
    assert "<blockquote>" not in reference and 'id="inceptionism.api.dream"' in reference


def test_a_role_is_resolved_where_its_docstring_stands():
    import sys

    import griffe

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from docs_roles import linked
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    package = griffe.load("inceptionism", search_paths=[ROOT / "src"])
    featurevis, doors, batch = package["featurevis"], package["doors"], package["motion.batch"]
    # a name the package imports; the module that shares its function's name; modules relative
    # to a package and to a module beside them
    assert 'identifier="inceptionism.featurevis.scores.chroma"' in linked(featurevis, ":func:`chroma`")
    assert 'identifier="inceptionism.featurevis.render.render"' in linked(featurevis, ":func:`render`")
    assert 'identifier="inceptionism.featurevis.render"' in linked(featurevis, ":mod:`render`")
    assert 'identifier="inceptionism.doors.form"' in linked(doors, ":mod:`.form`")
    assert 'identifier="inceptionism.motion.zoom"' in linked(batch, ":mod:`.zoom`")
    shown = linked(batch, "see :class:`~inceptionism.api.Dream`, then")
    assert shown == 'see <autoref identifier="inceptionism.api.Dream" optional><code>Dream</code></autoref>, then'


def test_the_readme_says_where_bf16_is_used_as_the_code_has_it():
    """--precision auto's rule, as the README states it: the networks listed for a bf16 class
    (their number), and that the default network stays fp32 everywhere."""
    from inceptionism.models import get_spec
    from inceptionism.models.families import BF16_FASTER

    readme = (ROOT / "README.md").read_text()
    said = re.search(r"bf16 only where it was measured faster and as good, which is (\d+) dense", readme)
    assert said and int(said[1]) == len(BF16_FASTER), said
    assert all(classes == {"cpu-avx512-bf16"} for classes in BF16_FASTER.values())  # "on CPUs with AVX512-BF16"
    assert not get_spec("efficientnet-lite0").bf16_faster and "the default network included" in readme
