#!/usr/bin/env bash
# Record this machine kind's outputs of the recorded command lines (tests/test_recorded.py):
# the set-up the tests use, then every command run and its pixels and parameters written to
# tests/recorded/outputs.json under this machine's fingerprint (CPU model, family and model
# numbers, torch version, threads). Commit the file: later runs on this kind compare with it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
.venv/bin/python tests/test_recorded.py --record
