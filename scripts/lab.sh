#!/usr/bin/env bash
# Start JupyterLab on the course (as root too, where jupyter otherwise refuses to start).
#   bash scripts/lab.sh                 # the exercise notebooks
#   bash scripts/lab.sh notebooks       # the complete lessons (or: solutions)
#   bash scripts/lab.sh exercises --port 8890 --no-browser   # extra options go to jupyter lab
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
folder="exercises"
if [[ $# -gt 0 && "$1" != -* ]]; then folder="$1"; shift; fi
[[ -d "$folder" ]] || { echo "[lab] no folder '$folder': use exercises, notebooks or solutions" >&2; exit 2; }
args=("--ServerApp.root_dir=$folder")
[[ "$(id -u)" == 0 ]] && args+=(--allow-root)  # running as root is this course's supported case
exec "${DREAMER_VENV:-.venv}/bin/jupyter" lab "${args[@]}" "$@"
