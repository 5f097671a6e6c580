#!/usr/bin/env bash
# Every test, from nothing: the set-up (always, so a stale environment cannot hide a
# missing install step), then the whole suite, browser tests included.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "set-up failed" >&2; exit 1; }
.venv/bin/python -m pytest -q "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$status"
