"""Published Dreamer numbers to compare against (sources in ``docs/REFERENCE.md``).

Per-task test returns are the means over 5 seeds of the curves in ``danijar/dreamer``
``scores/dreamer.json`` (the author notes an earlier hyperparameter setting), read at 1e5, 5e5,
1e6 and 2e6 env steps and at the end (~5e6). The suite-wide averages are from the paper
(Hafner et al. 2020, Table 1 / Figure 6).
"""

from __future__ import annotations

STEPS: tuple[int, ...] = (100_000, 500_000, 1_000_000, 2_000_000, 5_000_000)

DREAMER_CURVES: dict[str, tuple[int, ...]] = {
    "cartpole_balance": (472, 982, 988, 974, 641),  # one seed collapsed late
    "cartpole_swingup": (139, 678, 855, 857, 869),
    "pendulum_swingup": (365, 789, 828, 819, 792),
    "reacher_easy": (125, 430, 603, 857, 936),
    "ball_in_cup_catch": (73, 962, 967, 943, 961),
    "finger_spin": (8, 339, 515, 463, 434),
    "cheetah_run": (128, 630, 713, 790, 870),
    "walker_stand": (315, 960, 960, 965, 938),
    "walker_walk": (137, 886, 956, 969, 956),
    "walker_run": (83, 463, 718, 767, 823),
    "hopper_stand": (3, 610, 907, 930, 940),
    "quadruped_walk": (59, 223, 446, 821, 926),
}
"""Dreamer's mean test return at each of ``STEPS`` per task."""

MEAN_OF_20_TASKS: tuple[int, ...] = (142, 561, 700, 788, 806)

PAPER_AVERAGES: dict[str, tuple[float, str]] = {
    "Dreamer": (823, "5e6 env steps, pixels"),
    "D4PG": (786, "1e8 env steps, pixels"),
    "PlaNet": (332, "5e6 env steps, pixels"),
    "A3C": (243, "1e8 env steps, proprioceptive inputs"),
}
"""Average return over 20 visual DMC tasks, as reported in the paper."""


def paper_curve(task: str) -> list[tuple[int, int]] | None:
    """``[(env_steps, return), ...]`` of the published Dreamer curve, or None if not listed."""
    values = DREAMER_CURVES.get(task)
    return None if values is None else list(zip(STEPS, values))
