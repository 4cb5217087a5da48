"""Diagrams of the course, drawn with matplotlib so that a lesson cell is one call.

``three_processes_figure`` draws Dreamer's three processes (paper, Section 2 and Algorithm 1):
acting in the environment, learning the world model from the replay buffer, and learning
behaviour in imagination, where the actor and the value model run policy iteration inside the
model (lesson 03). ``rssm_figure`` draws one step of the RSSM (lesson 01): the deterministic
path, the prior and the posterior, and the features that the heads read. Each function returns a standalone ``matplotlib.figure.Figure`` (pyplot's
state is left alone); show it with ``display(fig)`` or save it with ``fig.savefig``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# One colour per process, as in the paper's overview figure: act, learn dynamics, learn behaviour.
ACT, MODEL, BEHAVIOUR = "#2ca02c", "#1f77b4", "#ff7f0e"

BOXES: dict[str, tuple[float, float, str, str]] = {
    # name: (x, y) centre in axis units (0-12 by 0-6.4), text, colour
    "env": (2.0, 4.55, "environment\n(64×64 images, reward $r_t$)", ACT),
    "policy": (
        2.0,
        2.3,
        "filter $s_t$ (encoder + RSSM),\nact $a_t \\sim q_\\phi(a \\mid s_t)$ + noise",
        ACT,
    ),
    "replay": (6.0, 4.55, "replay buffer $\\mathcal{D}$\n(every episode so far)", MODEL),
    "model": (
        6.0,
        2.3,
        "world model: encoder, RSSM,\ndecoder, reward head\nmax ELBO (lesson 01)",
        MODEL,
    ),
    "imagine": (
        10.0,
        4.55,
        "imagine $H$ steps from each $s_t$:\nprior + actor → $\\hat r$, $v$ → $V_\\lambda$",
        BEHAVIOUR,
    ),
    "actor": (8.95, 2.3, "actor $q_\\phi$\nimprove:\nascend $V_\\lambda$", BEHAVIOUR),
    "critic": (
        11.05,
        2.3,
        "value $v_\\psi$\nevaluate:\n$v_\\psi \\to$ sg$(V_\\lambda)$",
        BEHAVIOUR,
    ),
}
"""The boxes of ``three_processes_figure``; a test checks that every one is drawn."""

PANELS: tuple[tuple[float, str, str], ...] = (
    # left edge, title, colour
    (0.1, "1. act in the environment", ACT),
    (4.1, "2. learn the dynamics", MODEL),
    (8.1, "3. learn behaviour in imagination", BEHAVIOUR),
)


def _box(ax: Any, name: str) -> None:
    x, y, text, color = BOXES[name]
    ax.text(
        x,
        y,
        text,
        ha="center",
        va="center",
        fontsize=8.5,
        bbox={"boxstyle": "round,pad=0.45", "facecolor": "white", "edgecolor": color, "lw": 1.6},
        zorder=3,
    )


def _arrow(
    ax: Any,
    start: tuple[float, float],
    end: tuple[float, float],
    label: str = "",
    *,
    color: str = "0.25",
    bend: float = 0.0,
    label_at: tuple[float, float] | None = None,
) -> None:
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={
            "arrowstyle": "-|>",
            "color": color,
            "lw": 1.4,
            "shrinkA": 0,
            "shrinkB": 0,
            "connectionstyle": f"arc3,rad={bend}",
        },
        zorder=2,
    )
    if label:
        x, y = label_at or ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=7.5,
            color=color,
            zorder=4,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0, "alpha": 0.9},
        )


def three_processes_figure(width: float = 12.0) -> Figure:
    """Dreamer's three processes (paper Section 2, Algorithm 1) and the policy-iteration loop of
    actor and value model inside the third. Returns a standalone matplotlib Figure."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    fig = Figure(figsize=(width, width * 6.4 / 12.0 * 0.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 12)
    ax.set_ylim(0.1, 6.1)
    ax.axis("off")

    for left, title, color in PANELS:
        ax.add_patch(
            FancyBboxPatch(
                (left, 1.05),
                3.8,
                4.85,
                boxstyle="round,pad=0.02,rounding_size=0.15",
                facecolor=color,
                alpha=0.08,
                edgecolor=color,
                lw=1.2,
            )
        )
        ax.text(
            left + 1.9,
            5.62,
            title,
            ha="center",
            va="center",
            fontsize=10.5,
            color=color,
            weight="bold",
        )
    for name in BOXES:
        _box(ax, name)

    # 1. acting: the loop between the environment and the policy, and the episodes it stores.
    _arrow(ax, (1.45, 3.95), (1.45, 2.95), "$o_t, r_t$", color=ACT)
    _arrow(ax, (2.55, 2.95), (2.55, 3.95), "$a_t$", color=ACT)
    _arrow(ax, (3.55, 4.55), (4.75, 4.55), "episodes", color=ACT, label_at=(4.1, 4.85))
    # 2. model learning: batches of sequences, then the posterior states handed on.
    _arrow(ax, (6.0, 4.0), (6.0, 2.95), "batch of $B$ sequences\nof $T$ steps", color=MODEL)
    _arrow(
        ax,
        (7.35, 2.3),
        (8.45, 4.05),
        "posterior\nstates $s_t$\n($N = BT$,\ndetached)",
        color=MODEL,
        bend=0.25,
        label_at=(7.5, 3.55),
    )
    # 3. behaviour learning: imagined returns train the actor and the value model, which
    # depend on each other: the loop of policy iteration.
    _arrow(ax, (9.4, 4.0), (9.05, 2.95), color=BEHAVIOUR)
    _arrow(ax, (10.6, 4.0), (10.95, 2.95), color=BEHAVIOUR)
    _arrow(ax, (10.3, 2.55), (9.7, 2.55), "$v_\\psi$", color=BEHAVIOUR, label_at=(10.0, 2.78))
    _arrow(ax, (9.7, 2.05), (10.3, 2.05), "$q_\\phi$", color=BEHAVIOUR, label_at=(10.0, 1.82))
    ax.text(
        10.0,
        1.35,
        "policy iteration in the model",
        ha="center",
        va="center",
        fontsize=8,
        color=BEHAVIOUR,
        style="italic",
    )
    # Closing the outer loop: the improved actor collects the next episodes.
    ax.plot([8.95, 8.95, 2.0], [1.8, 0.72, 0.72], color="0.35", lw=1.4, zorder=2)
    _arrow(ax, (2.0, 0.72), (2.0, 1.8), color="0.35")
    ax.text(
        5.45,
        0.38,
        "the improved actor collects the next episodes (in the paper: 100 updates"
        " of all three, then 1000 env steps of acting)",
        ha="center",
        va="center",
        fontsize=8,
        color="0.3",
    )
    return fig


# --- the RSSM (lesson 01) -----------------------------------------------------------------------

DETER, STOCH, DATA = "#1f77b4", "#9467bd", "#7f7f7f"

RSSM_NODES: dict[str, tuple[float, float, float, float, str, str]] = {
    # name: centre (x, y) and size (width, height) in axis units (0-12 by 0-7), text, colour
    "h_prev": (1.0, 4.6, 0.9, 0.5, "$h_{t-1}$", DETER),
    "z_prev": (1.0, 2.6, 0.9, 0.5, "$z_{t-1}$", STOCH),
    "a": (3.4, 6.3, 1.3, 0.5, "action $a_t$", DATA),
    "h": (5.6, 4.6, 2.3, 0.8, "$h_t$ = GRU($h_{t-1}$,\ndense[$z_{t-1}$, $a_t$])", DETER),
    "prior": (5.6, 2.6, 2.0, 0.8, "prior $p(z_t \\mid h_t)$\n(imagination)", STOCH),
    "post": (
        9.6,
        2.6,
        2.6,
        0.8,
        "posterior $q(z_t \\mid h_t, e_t)$\n(filtering real frames)",
        STOCH,
    ),
    "o": (9.6, 0.6, 2.8, 0.5, "frame $o_t$ → encoder → $e_t$", DATA),
    "z": (9.6, 4.6, 1.6, 0.5, "$z_t$ (a sample)", STOCH),
    "heads": (
        9.6,
        6.3,
        3.6,
        0.8,
        "features $[z_t, h_t]$ → decoder $\\hat o_t$,\nreward $\\hat r_t$, actor, value",
        DATA,
    ),
}
"""The boxes of ``rssm_figure``; a test checks that every one is drawn."""

RSSM_ARROWS: tuple[tuple[str, str, str], ...] = (
    # from, to, label
    ("h_prev", "h", "deterministic path"),
    ("z_prev", "h", ""),
    ("a", "h", ""),
    ("h", "prior", ""),
    ("h", "post", ""),
    ("o", "post", ""),
    ("prior", "post", "KL(q || p) in the loss"),
    ("post", "z", "sample (from the prior when imagining)"),
    ("z", "heads", ""),
    ("h", "heads", ""),
)


def _edge(node: tuple, towards: tuple) -> tuple[float, float]:
    """Where the line from ``node``'s centre to ``towards``'s centre leaves ``node``'s box."""
    (x, y, width, height, *_), (x1, y1, *_) = node, towards
    dx, dy = x1 - x, y1 - y
    pad = 0.12  # the rounded box's padding, and a little air
    scale = min(
        (width / 2 + pad) / abs(dx) if dx else float("inf"),
        (height / 2 + pad) / abs(dy) if dy else float("inf"),
    )
    return x + scale * dx, y + scale * dy


def rssm_figure() -> Figure:
    """One step of the RSSM: the deterministic path (GRU), the prior that predicts $z_t$ without
    the frame, the posterior that corrects it with the frame, and the features the heads read."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    fig = Figure(figsize=(10, 5.6), dpi=90)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 12)
    ax.set_ylim(-0.2, 7.2)
    ax.axis("off")
    for x, y, width, height, text, colour in RSSM_NODES.values():
        ax.add_patch(
            FancyBboxPatch(
                (x - width / 2, y - height / 2),
                width,
                height,
                boxstyle="round,pad=0.06",
                facecolor=colour,
                alpha=0.18,
                edgecolor=colour,
                linewidth=1.5,
            )
        )
        ax.text(x, y, text, ha="center", va="center", fontsize=9.5)
    for start, end, label in RSSM_ARROWS:
        (x0, y0), (x1, y1) = (
            _edge(RSSM_NODES[start], RSSM_NODES[end]),
            _edge(RSSM_NODES[end], RSSM_NODES[start]),
        )
        style = "--" if label.startswith("KL") else "-"
        arrow = {"arrowstyle": "-|>", "color": "k", "lw": 1.1, "linestyle": style}
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=arrow)
        if label:
            ax.text(
                (x0 + x1) / 2,
                (y0 + y1) / 2 + 0.15,
                label,
                ha="center",
                fontsize=8.5,
                style="italic",
            )
    ax.text(0.2, 6.9, "one step of the RSSM", fontsize=11, weight="bold")
    ax.text(
        0.2,
        0.1,
        "blue: deterministic · purple: stochastic · grey: data and heads",
        fontsize=8.5,
        color="0.3",
    )
    return fig
