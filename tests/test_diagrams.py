"""The course's diagrams draw what their tables list, without touching pyplot's state."""

import matplotlib.pyplot as plt

from dreamer_lite.course.diagrams import (
    BOXES,
    PANELS,
    RSSM_ARROWS,
    RSSM_NODES,
    rssm_figure,
    three_processes_figure,
)


def test_three_processes_draws_every_box_and_panel(tmp_path):
    before = plt.get_fignums()
    fig = three_processes_figure()
    assert plt.get_fignums() == before  # a standalone figure: notebooks keep their plots
    texts = [t.get_text() for t in fig.axes[0].texts]
    for _, _, text, _ in BOXES.values():
        assert text in texts
    for _, title, _ in PANELS:
        assert title in texts
    fig.savefig(tmp_path / "three.png")  # every mathtext label renders
    assert (tmp_path / "three.png").stat().st_size > 10_000


def test_rssm_figure_draws_every_node_and_labelled_arrow(tmp_path):
    before = plt.get_fignums()
    fig = rssm_figure()
    assert plt.get_fignums() == before
    texts = [t.get_text() for t in fig.axes[0].texts]
    for *_, text, _ in RSSM_NODES.values():
        assert text in texts
    for _, _, label in RSSM_ARROWS:
        assert not label or label in texts
    arrows = [a for a in fig.axes[0].texts if getattr(a, "arrow_patch", None) is not None]
    assert len(arrows) == len(RSSM_ARROWS)
    fig.savefig(tmp_path / "rssm.png")
    assert (tmp_path / "rssm.png").stat().st_size > 10_000
