#!/usr/bin/env bash
# The project's test command: set up (idempotent), lint, then run every test in smoke-sized mode:
#   0. ruff check and ruff format --check over the package, tests, scripts, lessons, solutions,
#   1. the unit and integration tests in tests/ (real DMC ones included, and tests/test_browser.py:
#      exercise 04 run from JupyterLab's menu in headless Chromium, a slider moved),
#   2. every lesson and its generated solutions under nbval, checkers in strict mode,
#   3. every exercise notebook under nbval, checkers expecting unfinished stubs.
#   bash scripts/test.sh              # everything
#   bash scripts/test.sh tests        # only part 1 (extra arguments go to that pytest run)
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
PY="${DREAMER_VENV:-.venv}/bin/python"
export DREAMER_LITE_FAST=1      # shrink notebooks and training runs to smoke size
export OMP_NUM_THREADS=1        # small shapes: one thread each is faster than threads fighting
export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"  # notebook kernels import this checkout
status=0
run() { echo; echo "== $*"; "$@" || status=1; }
if [[ $# -gt 0 ]]; then
  run "$PY" -m pytest -q "$@"
  exit $status
fi
LINTED=(dreamer_lite tests scripts notebooks solutions)  # exercises/ hold stubs: imports unused
run "$PY" -m ruff check "${LINTED[@]}"
run "$PY" -m ruff format --check "${LINTED[@]}"
run "$PY" -m pytest -q tests
lessons=$(ls notebooks/*.ipynb solutions/*.ipynb 2>/dev/null)
exercises=$(ls exercises/*.ipynb 2>/dev/null)
[[ -n "$lessons" ]] && DREAMER_LITE_CHECK=strict \
  run "$PY" -m pytest -q -p no:cacheprovider --nbval-lax $lessons
[[ -n "$exercises" ]] && DREAMER_LITE_CHECK=expect-unfinished \
  run "$PY" -m pytest -q -p no:cacheprovider --nbval-lax $exercises
echo
if (( status )); then echo "FAILED: see the failing part above"; else echo "all parts passed"; fi
exit $status
