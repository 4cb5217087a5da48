#!/usr/bin/env bash
# The project's test command: set up (idempotent), then run the test suite in smoke-sized mode.
#   bash scripts/test.sh              # everything
#   bash scripts/test.sh -m "not dmc" # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${DREAMER_VENV:-.venv}"
export DREAMER_LITE_FAST=1  # shrink notebooks and training runs to smoke size
exec "$VENV/bin/python" -m pytest -q "$@"
