"""Pictures and videos for the course: learning curves, open-loop predictions, policy videos.

Frames are (T, H, W, 3) uint8 (channels last, as video tools expect); model images arrive as
(T, B, 3, H, W) floats in [0, 1]. Used by the training loop and notebooks 01, 03 and 05.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from dreamer_lite.paper_scores import paper_curve


def setup_ffmpeg() -> None:
    """mediapy needs an ffmpeg binary; use the system's or the one imageio-ffmpeg ships."""
    import mediapy

    if shutil.which("ffmpeg") is None:
        import imageio_ffmpeg

        mediapy.set_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe())


def smooth(values: Any, width: int = 20) -> np.ndarray:
    """Moving average of a training curve for plotting (``valid`` part only, so it is shorter
    than ``values``). The window shrinks to a fifth of the curve for short runs (fast mode)."""
    values = np.asarray(values, dtype=float)
    width = max(1, min(width, len(values) // 5))
    return np.convolve(values, np.ones(width) / width, mode="valid")


def to_frames(images: Any) -> np.ndarray:
    """(T, C, H, W) floats in [0, 1] or uint8 -> (T, H, W, C) uint8."""
    array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
    return np.moveaxis(array, -3, -1)


def save_video(path: str | Path, frames: np.ndarray, fps: int = 20) -> Path:
    """Write (T, H, W, 3) uint8 frames as .mp4 or .gif (chosen by the suffix)."""
    import mediapy

    setup_ffmpeg()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), got {frames.shape}")
    mediapy.write_video(
        str(path), frames, fps=fps, codec="gif" if path.suffix == ".gif" else "h264"
    )
    return path


def read_video(path: str | Path) -> np.ndarray:
    """Read a video written by ``save_video`` back as (T, H, W, 3) uint8 frames.

    Decoded with the ffmpeg that imageio-ffmpeg ships (``mediapy.read_video`` cannot parse the
    version banner of some ffmpeg builds).
    """
    import imageio_ffmpeg

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no video at {path}: has the run finished? (train writes videos at the end)"
        )
    reader = imageio_ffmpeg.read_frames(str(path))
    width, height = next(reader)["size"]  # the first item is the metadata
    frames = [np.frombuffer(frame, np.uint8).reshape(height, width, 3) for frame in reader]
    return np.stack(frames)


def open_loop_strip(truth: Any, model: Any, upscale: int = 1) -> np.ndarray:
    """Stack real frames, predicted frames and their error: (T, 3H, W*B, 3) uint8 frames.

    truth, model: (T, B, 3, H, W) in [0, 1]. Rows: truth, model, |error|; columns: batch.
    """
    truth = to_frames(truth)  # (T, B, H, W, 3)
    model = to_frames(model)
    error = np.abs(truth.astype(np.int16) - model.astype(np.int16)).astype(np.uint8)
    rows = [np.concatenate(list(np.moveaxis(x, 1, 0)), axis=2) for x in (truth, model, error)]
    strip = np.concatenate(rows, axis=1)  # (T, 3H, B*W, 3)
    if upscale > 1:
        strip = strip.repeat(upscale, axis=1).repeat(upscale, axis=2)
    return strip


def plot_learning_curve(
    history: dict[str, list[dict[str, Any]]],
    path: str | Path | None = None,
    *,
    task: str | None = None,
    random_return: float | None = None,
    title: str | None = None,
    ax: Any = None,
):
    """Evaluation and training returns against env steps, with the paper's curve if known.

    history: ``{"eval": [{"env_steps", "return"}...], "episode": [...]}`` as returned by
    ``dreamer_lite.train.train`` or read by ``load_history``. Saves a PNG when ``path`` is given.
    Returns the matplotlib figure.
    """
    fig = None
    if ax is None and path is not None:
        # A standalone Figure: saving a file never switches or pollutes pyplot's backend, so
        # plots in a notebook keep showing after training.
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7, 4))
        ax = fig.subplots()
    elif ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
    episodes = history.get("episode", [])
    if episodes:
        steps = [r["env_steps"] for r in episodes]
        ax.plot(steps, [r["return"] for r in episodes], ".", alpha=0.35, label="training episodes")
    evals = history.get("eval", [])
    if evals:
        steps = [r["env_steps"] for r in evals]
        ax.plot(steps, [r["return"] for r in evals], "o-", label="evaluation (mode action)")
    if random_return is not None:
        ax.axhline(
            random_return, color="gray", ls="--", label=f"random policy ({random_return:.0f})"
        )
    reference = paper_curve(task) if task else None
    if reference:
        last = max([r["env_steps"] for r in episodes + evals] or [1])
        shown = [(s, v) for s, v in reference if s <= max(last, reference[0][0])]
        ax.plot(
            *zip(*shown), "s:", color="tab:red", label="paper (Dreamer, pixels, repeat 2, 5 seeds)"
        )
    ax.set_xlabel("env steps")
    ax.set_ylabel("return")
    ax.set_title(title or (task or "learning curve"))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig = fig or ax.figure
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig


def plot_seed_curves(
    histories: list[dict[str, list[dict[str, Any]]]],
    path: str | Path | None = None,
    *,
    labels: list[str] | None = None,
    statistic: str = "median",
    random_return: float | None = None,
    title: str | None = None,
    ax: Any = None,
):
    """Evaluation curves of several seeds (thin), their ``statistic`` (thick) and its 95%
    bootstrap band (shaded) at the env steps every run evaluated at (``stats.eval_curves``,
    ``stats.curve_band``). Saves a PNG when ``path`` is given; returns the figure."""
    from dreamer_lite.stats import curve_band, eval_curves

    steps, returns = eval_curves(histories)
    estimate, low, high = curve_band(returns, statistic)
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7, 4))
        ax = fig.subplots()
    labels = labels or [f"seed {i + 1}" for i in range(len(histories))]
    for label, curve in zip(labels, returns):
        ax.plot(steps, curve, "-", lw=0.8, alpha=0.6, label=label)
    ax.plot(steps, estimate, "k-", lw=2, label=f"{statistic} of {len(histories)} seeds")
    ax.fill_between(steps, low, high, color="k", alpha=0.15, label="95% bootstrap interval")
    if random_return is not None:
        ax.axhline(random_return, color="gray", ls="--", label=f"random ({random_return:.0f})")
    ax.set_xlabel("env steps")
    ax.set_ylabel("evaluation return")
    ax.set_title(title or "evaluation return over seeds")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        ax.figure.savefig(path, dpi=100, bbox_inches="tight")
    return ax.figure
