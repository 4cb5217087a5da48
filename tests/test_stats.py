"""dreamer_lite.stats against hand-worked cases and an exact enumeration of the bootstrap."""

import itertools

import numpy as np
import pytest

from dreamer_lite.stats import bootstrap_ci, curve_band, describe, eval_curves, interquartile_mean


def test_interquartile_mean_by_hand():
    # 8 values: drop 2 at each end, average 3, 4, 5, 6 -> 4.5 (the outliers 1000 and -50 vanish)
    assert interquartile_mean([-50, 2, 3, 4, 5, 6, 7, 1000]) == 4.5
    assert interquartile_mean([1, 2, 3]) == 2.0  # fewer than 4 values: nothing dropped
    with pytest.raises(ValueError):
        interquartile_mean([])


def exact_bootstrap_quantiles(values, level=0.95):
    """Every one of the n^n equally likely resamples, enumerated: the bootstrap's exact
    distribution of the mean, and its percentiles."""
    means = [np.mean(c) for c in itertools.product(values, repeat=len(values))]
    tail = (1 - level) / 2
    return np.quantile(means, [tail, 1 - tail], method="inverted_cdf")


def test_bootstrap_interval_matches_exact_enumeration():
    values = [1.0, 2.0, 6.0]
    estimate, low, high = bootstrap_ci(values, "mean", resamples=100_000, seed=1)
    assert estimate == 3.0
    exact_low, exact_high = exact_bootstrap_quantiles(values)
    # 27 resamples, each mean a multiple of 1/3; P(mean = 1) = P(mean = 6) = 1/27 > 2.5%, so the
    # exact 2.5% and 97.5% points are 1 and 6, and 100k Monte Carlo resamples find the same atoms
    assert (exact_low, exact_high) == (1.0, 6.0)
    assert (low, high) == (exact_low, exact_high)
    assert low < estimate < high


def test_bootstrap_resamples_with_replacement():
    """Without replacement every resample is a permutation: the interval would have no width."""
    _, low, high = bootstrap_ci([100.0, 200.0, 300.0], "mean", resamples=2000)
    assert high - low > 50


def test_bootstrap_median_and_iqm_and_errors():
    est, low, high = bootstrap_ci([5.0, 1.0, 9.0, 7.0], "median", resamples=2000)
    assert est == 6.0 and low <= est <= high
    assert bootstrap_ci([4.0, 4.0, 4.0], "iqm") == (4.0, 4.0, 4.0)
    with pytest.raises(ValueError, match="statistic"):
        bootstrap_ci([1.0, 2.0], "mode")
    with pytest.raises(ValueError, match="at least two"):
        bootstrap_ci([1.0])


def test_describe_line():
    line = describe([520.0, 612.0, 700.0])
    assert line.startswith("median 612 [95% CI ") and line.endswith("over 3 seeds (520, 612, 700)")


def test_eval_curves_keeps_the_shared_steps_in_run_order():
    runs = [
        {"eval": [{"env_steps": 6000, "return": 1.0}, {"env_steps": 11000, "return": 2.0}]},
        {
            "eval": [
                {"env_steps": 6000, "return": 3.0},
                {"env_steps": 11000, "return": 4.0},
                {"env_steps": 16000, "return": 9.0},
            ]
        },  # evaluated once more: dropped
    ]
    steps, returns = eval_curves(runs)
    assert steps.tolist() == [6000, 11000]
    assert returns.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(ValueError, match="share no"):
        eval_curves([{"eval": [{"env_steps": 1, "return": 0.0}]}, {"eval": []}])


def test_curve_band_per_step():
    """Column 0: three equal values, so estimate and interval are that value. Column 1: values
    1, 2, 6 with the mean: the exact enumeration above gives the interval (1, 6)."""
    returns = np.array([[5.0, 1.0], [5.0, 2.0], [5.0, 6.0]])  # (S=3 runs, K=2 steps)
    estimate, low, high = curve_band(returns, "mean")
    assert estimate.tolist() == [5.0, 3.0]
    assert low.tolist() == [5.0, 1.0] and high.tolist() == [5.0, 6.0]
