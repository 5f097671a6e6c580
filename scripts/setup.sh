#!/usr/bin/env bash
# Set-up: a virtual environment in .venv with inceptionism.
#   bash scripts/setup.sh          everything the tests need: the test tools, Lite1/Lite2,
#                                  Ray, and the browser the studio's tests drive (Debian's
#                                  chromium, installed when this runs as root)
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
extras=""
if [ "$KIND" = test ]; then
    extras="[test,lite1,lite2,cluster]"
fi
# One pip run (PyTorch pinned in it), without pip's byte-compiling of every installed module
# (uv does not compile either): for a dream Python compiles what it imports, when it first
# imports it, and caches it unless PYTHONDONTWRITEBYTECODE is set. On a fresh clone that
# took the dream's set-up from 98 s (two pip runs, compiling) to 66-73 s.
# shellcheck disable=SC2086  # TORCH_SPEC is a list of requirements
.venv/bin/python -m pip install --quiet --no-compile $TORCH_SPEC -e ".$extras"
if [ "$KIND" = test ]; then
    # The tests start many processes, and CI may forbid the cache (PYTHONDONTWRITEBYTECODE):
    # compile it all now, on every core (20-30 s here; pip compiles on one).
    .venv/bin/python -m compileall -q -j 0 "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
        >/dev/null || echo "note: some installed files did not byte-compile (they still run)" >&2
fi

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
# A stamp of what this set-up installed, so scripts/dream.sh knows when to run it again
# (either kind serves a dream).
cat pyproject.toml scripts/setup.sh | sha256sum > .venv/.setup-stamp
.venv/bin/inceptionism --version
