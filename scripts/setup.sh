#!/usr/bin/env bash
# One-command set-up: a virtual environment in .venv with inceptionism and its tests.
#
# PyTorch comes first and pinned, because an unpinned "torch" lets pip pick a
# multi-GB build; override with TORCH_SPEC (e.g. TORCH_SPEC="torch torchvision").
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}"

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# shellcheck disable=SC2086  # TORCH_SPEC is a list of requirements
.venv/bin/python -m pip install --quiet $TORCH_SPEC
.venv/bin/python -m pip install --quiet -e ".[test,lite1,lite2]"
.venv/bin/inceptionism --version
