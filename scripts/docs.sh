#!/usr/bin/env bash
# The documentation site: docs/ and an API reference from the docstrings, built with
# mkdocs-material and mkdocstrings into site/ (or the folder given), strictly: a broken
# link, a missing anchor or a docstring that names a parameter the signature lacks fails it.
#   bash scripts/docs.sh [SITE_DIR]      then open SITE_DIR/index.html (default site/)
set -euo pipefail
cd "$(dirname "$0")/.."
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "${1:-site}"
echo "wrote ${1:-site}/index.html"
