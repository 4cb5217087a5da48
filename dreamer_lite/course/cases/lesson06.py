"""Checker cases of lesson 06 (results): exercise 06.1 ``bootstrap_interval``.

Each exercise is registered once, in ``EXERCISES`` at the end: its reference, its cases and the
plausible wrong versions that the tests feed its checker (each must fail).

A bootstrap draws random numbers, and there is more than one right way to draw them, so the cases
check properties that any correct bootstrap has instead of exact values: the interval of an
enumerable case, the width of a large sample's interval against the normal approximation, that
the statistic passed in is the one used, and that every draw comes from the generator passed in.
"""

from __future__ import annotations

import numbers

import numpy as np

from dreamer_lite import stats
from dreamer_lite.course.checking import Case, CaseFailure, ExerciseSpec, pair

# --- 06.1 bootstrap_interval --------------------------------------------------------------------


def bootstrap_interval_cases() -> list[Case]:
    def interval(out) -> tuple[float, float]:
        out = pair(out, "a pair (low, high)", "return (low, high)")
        if not all(isinstance(v, numbers.Real) for v in out):
            raise CaseFailure("low and high should be numbers", "float(...) of each quantile")
        low, high = float(out[0]), float(out[1])
        if not low <= high:
            raise CaseFailure("low is above high", "the lower quantile comes first")
        return low, high

    def call(f, values, statistic=np.mean, resamples=4000, level=0.95, seed=0):
        rng = np.random.default_rng(seed)
        return interval(f(np.array(values, dtype=float), statistic, resamples, level, rng))

    def types(f):
        call(f, [1.0, 2.0, 6.0])
        return "a pair (low, high), low <= high"

    def enumerable(f):
        # 27 equally likely resamples of (1, 2, 6); their means take the values k/3, and the
        # extreme ones, 1 and 6, have probability 1/27 each (3.7%, more than the 2.5% tails):
        # so the exact 95% interval is (1, 6). A percentile of 20,000 draws lands on those atoms.
        low, high = call(f, [1.0, 2.0, 6.0], resamples=20_000)
        if (low, high) != (1.0, 6.0):
            problem = "the interval of the mean of (1, 2, 6) is not the bootstrap's"
            raise CaseFailure(problem, "each resample draws len(values) values with replacement")
        return "the mean of (1, 2, 6): the exact bootstrap interval (1, 6)"

    def width(f):
        # 400 values from N(0, 1): the 95% interval of the mean is about mean +- 1.96 s / sqrt(n)
        values = np.random.default_rng(1).normal(size=400)
        low, high = call(f, values, resamples=4000)
        expected = 2 * 1.96 * values.std() / np.sqrt(values.size)
        if not 0.9 < (high - low) / expected < 1.1:
            problem = f"the 95% interval's width is {(high - low) / expected:.2f}x the expected"
            hint = "a 95% interval leaves 2.5% of the resampled statistics below it and 2.5% above"
            raise CaseFailure(problem, hint)
        return "400 normal values: width 2 x 1.96 s / sqrt(n), as the normal approximation says"

    def statistic(f):
        low, high = call(f, [1.0, 2.0, 6.0], statistic=lambda x: 7.0)
        if (low, high) != (7.0, 7.0):
            raise CaseFailure("a constant statistic should give (7, 7)", "use `statistic`")
        # nine zeros and one outlier: a resample's median is 0 unless half of it is the outlier
        # (probability 0.2%), so the median's interval is (0, 0); the mean's reaches ~200
        median = call(f, [0.0] * 9 + [1000.0], statistic=np.median, resamples=2000)
        if median != (0.0, 0.0):
            problem = "with np.median, one outlier among ten values moved the interval"
            raise CaseFailure(problem, "apply `statistic` to each resample")
        return "the statistic passed in is the one used"

    def generator(f):
        values = np.random.default_rng(2).normal(size=10)  # continuous: intervals never tie
        first, again = (
            call(f, values, resamples=500, seed=7),
            call(f, values, resamples=500, seed=7),
        )
        if first != again:
            problem = "two calls with generators of the same seed gave different intervals"
            raise CaseFailure(problem, "draw every random number from `rng`")
        return "every draw comes from rng (same seed, same interval)"

    return [
        ("types", types),
        ("enumerable", enumerable),
        ("width", width),
        ("statistic", statistic),
        ("generator", generator),
    ]


# --- plausible wrong versions (the tests check that each one fails) ---


def bootstrap(mode):
    def bootstrap_interval(values, statistic, resamples, level, rng):
        draws = []
        for _ in range(resamples):
            if mode == "without replacement":
                sample = rng.permutation(values)
            elif mode == "one value per resample":
                sample = rng.choice(values, size=1)
            elif mode == "global generator":
                sample = np.random.choice(values, size=len(values))
            else:
                sample = rng.choice(values, size=len(values))
            draws.append(np.mean(sample) if mode == "mean always" else statistic(sample))
        if mode == "level as the quantile":
            return float(np.quantile(draws, 1 - level)), float(np.quantile(draws, level))
        tail = (1 - level) / 2
        return float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail))

    return bootstrap_interval


EXERCISES = [
    ExerciseSpec(
        "bootstrap_interval",
        "06.1",
        params=("values", "statistic", "resamples", "level", "rng"),
        reference=stats.bootstrap_interval,
        cases=bootstrap_interval_cases,
        wrong={
            "resamples without replacement": bootstrap("without replacement"),
            "one value per resample": bootstrap("one value per resample"),
            "numpy's global generator": bootstrap("global generator"),
            "the mean whatever the statistic": bootstrap("mean always"),
            "quantiles at 1 - level and level": bootstrap("level as the quantile"),
        },
    ),
]
