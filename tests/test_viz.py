"""Plots and videos: round trips and shapes."""

import numpy as np
import pytest
import torch

from dreamer_lite.viz import open_loop_strip, plot_learning_curve, read_video, save_video, to_frames


def test_to_frames_converts_floats_and_channels():
    images = torch.rand(3, 3, 8, 8)
    frames = to_frames(images)
    assert frames.shape == (3, 8, 8, 3) and frames.dtype == np.uint8
    assert to_frames(frames.transpose(0, 3, 1, 2)).tolist() == frames.tolist()  # uint8 kept


def test_video_round_trip(tmp_path):
    frames = np.zeros((6, 32, 48, 3), np.uint8)
    frames[:, :, :24, 0] = 255  # left half red
    path = save_video(tmp_path / "v.mp4", frames, fps=5)
    back = read_video(path)
    assert back.shape == frames.shape
    assert back[:, :, :16, 0].mean() > 200 and back[:, :, 32:, 0].mean() < 50  # lossy, not exact


def test_read_video_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no video"):
        read_video(tmp_path / "missing.mp4")


def test_save_video_rejects_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        save_video(tmp_path / "v.mp4", np.zeros((4, 3, 8, 8), np.uint8))


def test_open_loop_strip_stacks_truth_model_error():
    truth, model = torch.rand(5, 2, 3, 8, 8), torch.rand(5, 2, 3, 8, 8)
    strip = open_loop_strip(truth, model)
    assert strip.shape[0] == 5 and strip.shape[-1] == 3 and strip.dtype == np.uint8
    assert strip.shape[1] == 3 * 8  # rows: truth, model, error


def test_learning_curve_png(tmp_path):
    history = {
        "episode": [{"env_steps": 1000, "return": 10.0, "phase": "seed"}],
        "eval": [{"env_steps": 2000, "return": 50.0}, {"env_steps": 4000, "return": 80.0}],
    }
    path = tmp_path / "curve.png"
    plot_learning_curve(history, path, task="cartpole_swingup", random_return=20.0)
    assert path.exists() and path.read_bytes()[:4] == b"\x89PNG"


def test_smooth_is_a_moving_average_that_shrinks_for_short_curves():
    from dreamer_lite.viz import smooth

    np.testing.assert_allclose(
        smooth([0, 2, 4, 6, 8, 10, 12, 14, 16, 18], width=2), [1, 3, 5, 7, 9, 11, 13, 15, 17]
    )
    assert len(smooth(range(100), width=10)) == 91
    assert len(smooth(range(10), width=50)) == 9  # window capped at len // 5 = 2


def test_seed_curves_png(tmp_path):
    """One thin line per seed, the median line through the middle seed's values (three seeds,
    worked by hand), and a PNG on disk."""
    from dreamer_lite.viz import plot_seed_curves

    runs = [
        {"eval": [{"env_steps": s, "return": r} for s, r in zip((1000, 2000), returns)]}
        for returns in ((10.0, 50.0), (20.0, 70.0), (90.0, 60.0))
    ]
    fig = plot_seed_curves(runs, tmp_path / "seeds.png", random_return=5.0)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3 + 1 + 1  # seeds, median, random
    assert lines[3].get_ydata().tolist() == [20.0, 60.0]  # medians of (10, 20, 90), (50, 70, 60)
    assert (tmp_path / "seeds.png").stat().st_size > 1000
