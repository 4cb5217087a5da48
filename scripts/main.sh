#!/usr/bin/env bash
# The main job: set up (idempotent), then train Dreamer with the CPU preset on the default task
# and write the learning curve (curve.png) and videos (videos/) into the run folder.
#   bash scripts/main.sh                    # default: about 30 minutes on 2 CPU cores
#   bash scripts/main.sh --task walker_walk --minutes 120   # extra arguments go to the trainer
# Rerunning the same command resumes the run from its last checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY="${DREAMER_VENV:-.venv}/bin/python"
# State observations (no rendering, no convolutions): cart-pole swing-up learns in minutes on a
# CPU. Every other setting is the CPU preset's (`Config.cpu`: action repeat 8 for cart-pole, actor
# and value learning rates 2e-4, one torch thread for states), measured in docs/RESULTS.md.
# The 30-minute budget ends the run.
exec "$PY" -m dreamer_lite.train --task cartpole_swingup --preset cpu --obs state --steps 150000 \
  --logdir runs/main --minutes 30 "$@"
