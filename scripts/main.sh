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
# State observations (no rendering, no convolutions) with action repeat 8 (PlaNet's choice for
# cart-pole) and actor/value learning rates of 2e-4: the settings that learned fastest on 2 CPU
# cores (docs/RESULTS.md). One torch thread: these networks are too small for a second one to
# pay, and it hurts when the cores are shared. The 30-minute budget ends the run.
exec "$PY" -m dreamer_lite.train --task cartpole_swingup --preset cpu --obs state --steps 150000 \
  --set action_repeat=8 actor_lr=2e-4 value_lr=2e-4 eval_episodes=5 torch_threads=1 \
  --logdir runs/main --minutes 30 "$@"
