#!/usr/bin/env bash
# Set up dreamer_lite: headless-rendering system libraries, a virtualenv, the pinned packages.
# Idempotent: a second run checks everything and returns in about a second.
#
#   bash scripts/setup.sh                       # venv in .venv
#   DREAMER_VENV=/tmp/venv bash scripts/setup.sh
#   PYTHON=python3.12 bash scripts/setup.sh     # pick the interpreter (3.10 or newer)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DREAMER_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.dreamer_lite_setup"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. Python 3.10+ ------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install Python 3.10 or newer."
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$("$PYTHON" -V 2>&1) is too old: dreamer_lite needs Python 3.10 or newer (set PYTHON=...)."

# --- 2. System libraries for headless MuJoCo rendering ----------------------------------------
# EGL with Mesa's software renderer (CPU) or the NVIDIA driver (GPU). With MUJOCO_GL=osmesa,
# OSMesa instead. These are C libraries, so pip cannot install them.
LDCONFIG="$(command -v ldconfig || echo /sbin/ldconfig)"
has_lib() { "$LDCONFIG" -p 2>/dev/null | grep -q "$1"; }
has_dri() {
  local dir
  for dir in /usr/lib/x86_64-linux-gnu/dri /usr/lib/aarch64-linux-gnu/dri /usr/lib64/dri \
             /usr/lib/dri; do
    compgen -G "$dir/*_dri.so" >/dev/null && return 0
  done
  return 1
}
missing=()
if [[ "${MUJOCO_GL:-egl}" == "osmesa" ]]; then
  has_lib 'libOSMesa.so' || missing+=(libosmesa6)
elif [[ "${MUJOCO_GL:-egl}" == "egl" ]]; then
  has_lib 'libEGL.so.1' || missing+=(libegl1)
  has_lib 'libOpenGL.so.0' || missing+=(libopengl0)
  has_dri || missing+=(libgl1-mesa-dri)
fi
if (( ${#missing[@]} )); then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    say "installing headless rendering libraries: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  else
    die "missing system libraries for headless rendering. Install them as root:
    apt-get install -y --no-install-recommends ${missing[*]}
(or install libosmesa6 and set MUJOCO_GL=osmesa), then run this script again."
  fi
fi

# --- 3. Virtualenv --------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating virtualenv $VENV with $("$PYTHON" -V 2>&1)"
  "$PYTHON" -m venv "$VENV" \
    || die "could not create $VENV (on Debian/Ubuntu: apt-get install python3-venv)."
fi

# --- 4. Packages ----------------------------------------------------------------------------
# torch goes first and pinned: the plain name can pull several GB of CUDA packages. The pin is
# read from pyproject.toml, the one place it is written (tests/test_pins.py keeps
# environment.yml in step).
TORCH_PIN="$(grep -o '"torch==[^"]*"' pyproject.toml | tr -d '"')"
[[ -n "$TORCH_PIN" ]] || die "no exact torch==... pin found in pyproject.toml."
want="$(sha256sum pyproject.toml | cut -d" " -f1) $VENV $(pwd)"
if [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$want" ]] \
   && "$VENV/bin/python" -c 'import dreamer_lite, torch, dm_control, mujoco' 2>/dev/null; then
  say "packages already installed in $VENV (delete $STAMP to force a reinstall)"
else
  say "installing $TORCH_PIN"
  "$VENV/bin/python" -m pip install "$TORCH_PIN"
  say "installing dreamer_lite (editable) with the test and notebook extras"
  "$VENV/bin/python" -m pip install -e ".[test,notebooks]"
  printf '%s' "$want" > "$STAMP"
fi

# --- 5. Chromium for the browser test (optional: without it tests/test_browser.py skips) ----
# Debian's chromium, driven by the playwright package (test extra); no browser download.
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    say "installing Debian's chromium for tests/test_browser.py"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends chromium; } >/dev/null \
      || say "could not install chromium: tests/test_browser.py will skip"
  else
    say "no /usr/bin/chromium: tests/test_browser.py will skip (as root: apt-get install chromium)"
  fi
fi

say "done in ${SECONDS}s. Activate with: source $VENV/bin/activate"
