#!/usr/bin/env bash
# Quick start: set up when needed (first run, or the set-up changed), then dream on the
# bundled network.   bash scripts/dream.sh [PHOTO [OUTPUT [FLAGS...]]]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cat pyproject.toml scripts/setup.sh scripts/setup_comfyui.sh | sha256sum | cmp -s - .venv/.setup-stamp 2>/dev/null; then
    bash scripts/setup.sh dream  # only what a dream needs; the tests' set-up adds the rest
fi
photo="${1:-examples/chelsea.jpg}"
output="${2:-chelsea-dream.png}"
shift $(( $# < 2 ? $# : 2 ))
exec .venv/bin/inceptionism dream "$photo" -o "$output" "$@"
