"""Statistics over seeds: a learning claim is a claim about a distribution of runs.

Reported results quote the median (or the mean) of three or more seeds with a 95% percentile
bootstrap interval, and the interquartile mean where there are enough runs, as Agarwal et al.
("Deep RL at the edge of the statistical precipice", NeurIPS 2021) recommend (docs/REFERENCE.md).
A bootstrap is a few lines of numpy: resample the seeds *with replacement*, recompute the
statistic, and read the interval off the percentiles of those recomputations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

STATISTICS: dict[str, Callable[[np.ndarray], float]] = {
    "mean": lambda x: float(np.mean(x)),
    "median": lambda x: float(np.median(x)),
    "iqm": lambda x: interquartile_mean(x),
}
"""The statistics ``bootstrap_ci`` can interval, by name."""


def interquartile_mean(values: Sequence[float]) -> float:
    """The mean of the middle half: drop the lowest and the highest quarter of the sorted values
    (``floor(n / 4)`` each), average the rest. Robust to one lucky or unlucky seed."""
    x = np.sort(np.asarray(values, dtype=float))
    if x.size == 0:
        raise ValueError("interquartile_mean of no values")
    cut = x.size // 4
    return float(x[cut : x.size - cut].mean())


def bootstrap_ci(
    values: Sequence[float],
    statistic: str = "mean",
    *,
    level: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(estimate, low, high)``: the statistic of ``values`` and its percentile bootstrap
    interval at ``level``. Each of ``resamples`` resamples draws ``len(values)`` values with
    replacement. With three seeds the interval is wide: that is the honest answer."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"need a 1-d list of at least two values, got shape {x.shape}")
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {list(STATISTICS)}, got {statistic!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    fn = STATISTICS[statistic]
    low, high = bootstrap_interval(x, fn, resamples, level, np.random.default_rng(seed))
    return fn(x), low, high


def bootstrap_interval(
    values: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    resamples: int,
    level: float,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """The percentile bootstrap interval ``(low, high)`` of ``statistic(values)``: draw
    ``resamples`` resamples of ``len(values)`` values *with replacement* from ``rng``, compute
    the statistic of each, and read the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of
    those. Lesson 06's exercise 06.1."""
    x = np.asarray(values, dtype=float)
    draws = rng.integers(0, x.size, size=(resamples, x.size))  # indices, with replacement
    stats = np.array([statistic(x[row]) for row in draws])
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(stats, [tail, 1.0 - tail])
    return float(low), float(high)


def describe(values: Sequence[float], statistic: str = "median") -> str:
    """One line for a results table: ``median 612 [95% CI 540, 700] over 3 seeds (520, 612, 700)``."""
    estimate, low, high = bootstrap_ci(values, statistic)
    seeds = ", ".join(f"{v:.0f}" for v in values)
    return (
        f"{statistic} {estimate:.0f} [95% CI {low:.0f}, {high:.0f}] over {len(values)} seeds"
        f" ({seeds})"
    )


def eval_curves(histories: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation returns of several runs at the env steps all of them evaluated at:
    ``(steps (K,), returns (S, K))`` for S runs (``rundir.load_history`` results)."""
    per_run = [{r["env_steps"]: r["return"] for r in h.get("eval", [])} for h in histories]
    if not per_run:
        raise ValueError("eval_curves of no runs")
    steps = sorted(set.intersection(*(set(run) for run in per_run)))
    if not steps:
        raise ValueError("the runs share no evaluation step")
    return np.array(steps), np.array([[run[s] for s in steps] for run in per_run])


def curve_band(
    returns: np.ndarray, statistic: str = "median", level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``returns`` (S runs, K steps): the statistic over runs and its bootstrap
    interval, ``(estimate (K,), low (K,), high (K,))``, as ``bootstrap_ci`` computes them."""
    columns = [bootstrap_ci(returns[:, k], statistic, level=level) for k in range(returns.shape[1])]
    estimate, low, high = (np.array(values) for values in zip(*columns))
    return estimate, low, high
