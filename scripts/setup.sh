#!/usr/bin/env bash
# Set-up: a virtual environment in .venv with inceptionism.
#   bash scripts/setup.sh          everything the tests need: the test tools, Lite1/Lite2,
#                                  Ray, ComfyUI with inceptionism in its own Python
#                                  (scripts/setup_comfyui.sh), and the browser the studio's
#                                  tests drive (Debian's chromium, installed when this runs as root)
#   bash scripts/setup.sh dream    only what a dream needs (scripts/dream.sh)
#
# PyTorch comes first and pinned, because an unpinned "torch" lets pip pick a
# multi-GB build; override with TORCH_SPEC (e.g. TORCH_SPEC="torch torchvision").
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
KIND="${1:-test}"
case "$KIND" in dream|test) ;; *) echo "usage: bash scripts/setup.sh [dream|test]" >&2; exit 2 ;; esac
TORCH_SPEC="${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}"

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
if [ "$KIND" = test ]; then  # a dream's set-up keeps the venv's own pip (2 s): it installs wheels alone
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
extras="" compile=""
if [ "$KIND" = test ]; then
    extras="[test,lite1,lite2,cluster]"
else
    # No byte-compiling of every installed module by pip (uv does not either): Python
    # compiles what a dream imports when it first imports it (and caches it unless
    # PYTHONDONTWRITEBYTECODE is set). With one pip run instead of two, that took the
    # dream's set-up on a fresh clone from 98 s to 66-73 s. The tests' set-up compiles:
    # the suite starts many processes, and without the cache it ran 146 s longer here.
    compile="--no-compile"
fi
# One pip run, PyTorch pinned in it
# shellcheck disable=SC2086  # TORCH_SPEC is a list of requirements
.venv/bin/python -m pip install --quiet $compile $TORCH_SPEC -e ".$extras"

if [ "$KIND" = test ] && ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's chromium for the studio's browser tests" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "note: chromium is missing and this is not root with apt-get: the browser tests will be skipped" \
             "(and fail under CI=true); install it with: sudo apt-get install chromium" >&2
    fi
fi
if [ "$KIND" = test ]; then  # ComfyUI, for the node pack's tests against the real server
    if ! bash scripts/setup_comfyui.sh; then
        case "$(printf %s "${CI:-}" | tr '[:upper:]' '[:lower:]' | tr -d '[:space:]')" in
            true|1|yes) echo "ComfyUI's set-up failed (CI runs the node pack's tests on it)" >&2; exit 1 ;;
            *) echo "note: ComfyUI's set-up failed: the node pack's tests will be skipped (and fail under CI=true)" >&2 ;;
        esac
    fi
fi
# A stamp of what this set-up installed, so scripts/dream.sh knows when to run it again
# (either kind serves a dream).
cat pyproject.toml scripts/setup.sh scripts/setup_comfyui.sh | sha256sum > .venv/.setup-stamp
.venv/bin/inceptionism --version
