#!/usr/bin/env bash
# Build, on a CPU machine with internet, the wheels scripts/gpu_check.sh installs on a GPU
# machine that reaches no package registry (Python 3.12, Linux x86_64, a CUDA torch already there):
#   bash scripts/build_gpu_wheels.sh            # -> .whl/ (git-ignored), then a check
#   PY_VERSION=3.11 bash scripts/build_gpu_wheels.sh   # for another target Python
# 1. dm_control, stripped to the Control Suite (scripts/strip_dm_control_wheel.py): ~56 -> a few MB.
# 2. mujoco and the other runtime requirements of the stripped wheel and of the check itself
#    (tqdm, pytest), as binary wheels for the target Python, with their dependencies (numpy
#    only with WITH_NUMPY=1).
# 3. The sizes (the working tree that travels must stay under 64 MiB), then a fresh venv on THIS
#    machine installs the stripped wheel with --no-index and loads and renders suite tasks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
TARGET="${PY_VERSION:-3.12}"
DM_CONTROL="dm_control==1.0.50"
MUJOCO="mujoco==3.17.0"
OUT=.whl
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
rm -rf "$OUT" && mkdir -p "$OUT"

"$PY" -m pip download -q --no-deps -d "$WORK/full" "$DM_CONTROL"
"$PY" scripts/strip_dm_control_wheel.py "$WORK"/full/dm_control-*.whl "$OUT"

platforms=()
for p in manylinux2014_x86_64 manylinux_2_17_x86_64 manylinux_2_28_x86_64 manylinux_2_34_x86_64; do
  platforms+=(--platform "$p")
done
# The stripped wheel's requirements (its METADATA) plus what the check needs to run the tests.
"$PY" -m pip download -q -d "$OUT" --only-binary=:all: --python-version "$TARGET" \
  --implementation cp "${platforms[@]}" \
  "$MUJOCO" absl-py dm-env "dm-tree!=0.1.2" glfw lxml "pyopengl>=3.1.4" numpy tqdm pytest

# numpy (15 MiB) is left out unless WITH_NUMPY=1: a machine with torch has it (Colab does), and
# with it the working tree (about 7.5 MiB) plus .whl/ would pass the 64 MiB that may travel.
[[ "${WITH_NUMPY:-0}" == 1 ]] || rm -f "$OUT"/numpy-*.whl

echo "== wheels for Python $TARGET in $OUT"
ls -1s --block-size=K "$OUT"
"$PY" - "$OUT" <<'SIZES'
import subprocess
import sys
from pathlib import Path

wheels = sum(p.stat().st_size for p in Path(sys.argv[1]).iterdir())
listing = ["git", "ls-files", "-co", "--exclude-standard", "-z"]
files = subprocess.run(listing, capture_output=True, check=True).stdout.decode().split("\0")
tree = sum(Path(f).stat().st_size for f in files if f and Path(f).is_file())
print(f"{sys.argv[1]}: {wheels / 2**20:.1f} MiB; working tree {tree / 2**20:.1f} MiB; "
      f"together {(wheels + tree) / 2**20:.1f} MiB (limit 64)")
SIZES

# Check on this machine: a fresh venv, --no-index, the stripped dm_control plus the same
# requirements built for THIS Python (the .whl/ ones may be for another version).
LOCAL="$WORK/local" && mkdir -p "$LOCAL"
cp "$OUT"/dm_control-*.whl "$LOCAL"/
"$PY" -m pip download -q -d "$LOCAL" --only-binary=:all: \
  "$MUJOCO" absl-py dm-env "dm-tree!=0.1.2" glfw lxml "pyopengl>=3.1.4" numpy
BASE_PY="$("$PY" -c 'import sys; print(sys.base_prefix)')/bin/python3"
"$BASE_PY" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --no-index --find-links "$LOCAL" dm_control
echo "== the stripped wheel in a fresh venv ($("$WORK/venv/bin/python" -V)), no index:"
cd "$WORK" && MUJOCO_GL="${MUJOCO_GL:-egl}" PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}" \
  "$WORK/venv/bin/python" - <<'EOF'
import importlib.util
import time

from dm_control import suite

print("scipy installed:", importlib.util.find_spec("scipy") is not None)
tasks = [("cartpole", "swingup"), ("walker", "walk"), ("cheetah", "run"), ("finger", "spin"),
         ("reacher", "easy"), ("ball_in_cup", "catch"), ("quadruped", "walk"),
         ("hopper", "hop"), ("acrobot", "swingup"), ("pendulum", "swingup")]
for domain, task in tasks:
    start = time.perf_counter()
    env = suite.load(domain, task)
    env.reset()
    env.step(env.action_spec().generate_value())
    frame = env.physics.render(64, 64, camera_id=2 if domain == "quadruped" else 0)
    print(f"  {domain}_{task}: loaded, stepped, rendered {frame.shape} "
          f"std {frame.std():.1f} in {time.perf_counter() - start:.2f} s")
EOF
