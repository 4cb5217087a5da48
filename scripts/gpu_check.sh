#!/usr/bin/env bash
# The GPU check (python -m dreamer_lite.gpu_check): figures of the GPU path in at most 8 minutes.
#   bash scripts/gpu_check.sh OUTDIR                 # on a machine with one NVIDIA GPU
#   bash scripts/gpu_check.sh OUTDIR --cpu-smoke     # tiny sizes on a CPU (CI), about a minute
# Writes OUTDIR/gpu_check.json and OUTDIR/gpu_check.md. Any further options go to the module
# (--budget-minutes, default 7; --train-minutes, default 4).
#
# The GPU machine has Python 3.12 and a CUDA torch but no dm_control or mujoco, and reaches no
# package registry: what is missing is installed from the wheels in .whl/ (built beforehand on a
# CPU machine by scripts/build_gpu_wheels.sh; git-ignored, so carry it with the working tree)
# into a venv that also sees the machine's own packages (its torch). Python: $PYTHON or python3.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: bash scripts/gpu_check.sh OUTDIR [--cpu-smoke] [options]}"
shift
PY="${PYTHON:-python3}"
[[ -x .venv/bin/python && -z "${PYTHON:-}" && " $* " == *" --cpu-smoke "* ]] && PY=.venv/bin/python
mkdir -p "$OUT"
start=$(date +%s)

if ! "$PY" -c "import dm_control, mujoco" 2>/dev/null; then
  if [[ ! -d .whl ]]; then
    echo "dm_control/mujoco missing and no .whl/ folder: run scripts/build_gpu_wheels.sh" >&2
    exit 1
  fi
  VENV="${GPU_CHECK_VENV:-/tmp/dreamer-gpu-check-venv}"
  "$PY" -m venv --system-site-packages "$VENV"
  wanted=(dm_control mujoco tqdm)
  "$VENV/bin/python" -c "import pytest" 2>/dev/null || wanted+=(pytest)
  if ! "$VENV/bin/python" -m pip install -q --no-index --find-links .whl "${wanted[@]}" \
    > "$OUT/install.log" 2>&1; then
    cat "$OUT/install.log" >&2
    echo "install from .whl/ failed; numpy missing? rebuild with WITH_NUMPY=1" >&2
    exit 1
  fi
  PY="$VENV/bin/python"
  echo "installed from .whl/ in $(( $(date +%s) - start )) s: ${wanted[*]}" | tee -a "$OUT/install.log"
fi

export MUJOCO_GL="${MUJOCO_GL:-egl}" PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}"
export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -m dreamer_lite.gpu_check "$OUT" "$@"
echo "gpu_check.sh: $(( $(date +%s) - start )) s in all"
