"""Course plumbing shared by every notebook: the repository URL, the setup cell, the badge.

The repository's address is defined here and nowhere else. ``python -m dreamer_lite.course.generate``
writes ``SETUP_CELL`` and the Colab badge into every lesson, and a test checks they match.
"""

from __future__ import annotations

import os

REPO = "dreamer-lite/dreamer_lite"
"""GitHub ``owner/name`` of this course (the one place that names it)."""
BRANCH = "main"
REPO_URL = f"https://github.com/{REPO}"

# Installed in Colab when missing. torch and numpy are deliberately absent: Colab's own builds
# stay (reinstalling them would need a runtime restart and could pull the wrong CUDA build).
COLAB_DEPENDENCIES = (
    "dm_control==1.0.50",
    "mujoco==3.17.0",
    "mediapy>=1.2",
    "imageio-ffmpeg",
    "tqdm",
    "ipywidgets>=8",
    "matplotlib",
)

_DEPENDENCY_LINES = "\n".join(f'        "{name}",' for name in COLAB_DEPENDENCIES)

SETUP_CELL = f"""\
# Setup: in Colab this installs dreamer_lite (only if missing; torch and numpy are left alone).
# Locally, run the README's setup command first; this cell then only checks the install.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("dreamer_lite") is None:
    if "google.colab" not in sys.modules:
        raise RuntimeError("dreamer_lite is not installed: run `bash scripts/setup.sh` (README)")
    libraries = "libegl1 libopengl0 libgl1-mesa-dri"
    subprocess.run(f"apt-get -qq install -y {{libraries}} > /dev/null", shell=True, check=False)
    package = "git+{REPO_URL}@{BRANCH}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", package], check=True)
    dependencies = [
{_DEPENDENCY_LINES}
    ]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *dependencies], check=True)

from dreamer_lite.course import notebook_setup

DEVICE = notebook_setup()"""


FAST_MODE_STAMP = "fast mode: a smoke run, not a result"


def stamp_figures(label: str) -> None:
    """Write ``label`` across every matplotlib figure drawn from now on in this process (once
    per figure). Fast mode calls it, so that no smoke-sized plot passes for a result."""
    from matplotlib.figure import Figure

    if getattr(Figure.draw, "_stamp", None) == label:
        return  # already installed with this label (a setup cell run twice)
    draw = getattr(Figure.draw, "_unstamped", Figure.draw)

    def stamped_draw(fig: Figure, renderer) -> None:
        if not getattr(fig, "_dreamer_lite_stamped", False):
            fig._dreamer_lite_stamped = True
            fig.text(
                0.5,
                0.5,
                label,
                ha="center",
                va="center",
                rotation=15,
                fontsize=16,
                color="tab:red",
                alpha=0.45,
                zorder=1000,
            )
        draw(fig, renderer)

    stamped_draw._stamp, stamped_draw._unstamped = label, draw
    Figure.draw = stamped_draw


def colab_badge(notebook: str) -> str:
    """Markdown for an "Open in Colab" badge; ``notebook`` is a path like
    ``notebooks/01_rssm_elbo.ipynb``."""
    url = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{notebook}"
    image = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({image})]({url})"


def notebook_setup(verbose: bool = True) -> str:
    """Prepare a notebook session: headless rendering, ffmpeg for videos, the torch device.

    Returns ``"cuda"`` or ``"cpu"`` and prints what it chose, with a hint when no GPU is on.
    """
    import torch

    from dreamer_lite.config import fast_mode
    from dreamer_lite.envs import setup_rendering
    from dreamer_lite.viz import setup_ffmpeg

    backend = setup_rendering()
    setup_ffmpeg()
    if fast_mode():
        stamp_figures(FAST_MODE_STAMP)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if verbose:
        name = torch.cuda.get_device_name(0) if device == "cuda" else f"{os.cpu_count()} CPU cores"
        print(
            f"dreamer_lite ready: device={device} ({name}), MUJOCO_GL={backend}, "
            f"fast mode={'on' if fast_mode() else 'off'}"
        )
        if fast_mode():
            print(
                "Fast mode: every run below is smoke-sized, so its numbers and pictures mean "
                f"nothing; figures are stamped {FAST_MODE_STAMP!r}. The text describes the full run."
            )
        if device == "cpu":
            print(
                "No GPU: lessons run on the CPU preset. In Colab: Runtime > Change runtime type"
                " > GPU."
            )
    return device
