"""Fast mode stamps every figure, so a smoke-sized plot never passes for a result."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from dreamer_lite.course import FAST_MODE_STAMP, notebook_setup, stamp_figures


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.texts]


def test_stamp_once_per_figure_and_idempotent(tmp_path, monkeypatch):
    monkeypatch.setattr(Figure, "draw", Figure.draw)  # restored after the test
    stamp_figures("smoke")
    stamp_figures("smoke")  # a second call must not stamp twice
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    fig.savefig(tmp_path / "a.png")
    fig.savefig(tmp_path / "b.png")  # drawn again: still one stamp
    assert _texts(fig) == ["smoke"]
    plt.close(fig)


def test_notebook_setup_stamps_only_in_fast_mode(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(Figure, "draw", Figure.draw)
    monkeypatch.delenv("DREAMER_LITE_FAST", raising=False)
    notebook_setup(verbose=True)
    fig = plt.figure()
    fig.savefig(tmp_path / "full.png")
    assert _texts(fig) == []
    assert "Fast mode" not in capsys.readouterr().out
    plt.close(fig)

    monkeypatch.setenv("DREAMER_LITE_FAST", "1")
    notebook_setup(verbose=True)
    assert FAST_MODE_STAMP in capsys.readouterr().out
    fig = plt.figure()
    fig.savefig(tmp_path / "fast.png")
    assert _texts(fig) == [FAST_MODE_STAMP]
    plt.close(fig)
