"""Checker cases of lesson 04 (value estimators): exercises 04.1 ``k_step_return`` and
04.2 ``lambda_return``.

Each exercise is registered once, in ``EXERCISES`` at the end: its reference, its cases and the
plausible wrong versions that the tests feed its checker (each must fail).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dreamer_lite import returns
from dreamer_lite.course.checking import (
    F64,
    NO_GRAD,
    SEED,
    SIZES,
    Case,
    ExerciseSpec,
    close,
    gradients,
    result,
    same_gradients,
)

# --- 04.1 k_step_return / 04.2 lambda_return ----------------------------------------------------


def _returns_data(horizon: int, batch: int, seed: int = SEED) -> list[torch.Tensor]:
    """reward (H, N), value (H+1, N) and random discounts (H, N) in [0.5, 1], float64."""
    gen = torch.Generator().manual_seed(seed)
    reward = torch.randn(horizon, batch, generator=gen, dtype=F64)
    value = torch.randn(horizon + 1, batch, generator=gen, dtype=F64)
    discount = 0.5 + 0.5 * torch.rand(horizon, batch, generator=gen, dtype=F64)
    return [reward, value, discount]


def _return_cases(ref: Callable, general: float, specials: list) -> list[Case]:
    """Cases shared by the two estimators: shape and dtype, special values, H = 1, N = 1 and
    gradients. ``specials``: (name, parameter, label, hint, (H, N))."""
    data = _returns_data(5, 3)
    stack = "one estimate per imagined state s_0 .. s_{H-1}, stacked in time order"

    def shape(f):
        result(f(*data, general), (5, 3), "(H, N)", dtype=F64, hint=stack)
        return "(H, N) as expected, dtype kept"

    def special(arg, label, hint, size):
        def case(f):
            inputs = _returns_data(*size, seed=sum(size))
            out = result(f(*inputs, arg), size, "(H, N)", hint=stack)
            close(out, ref(*inputs, arg), f"differs from {label}", hint)
            return f"equals {label}"

        return case

    def grad(f):
        inputs = [x.clone().requires_grad_(True) for x in data]
        w = torch.linspace(-1, 2, 15, dtype=F64).reshape(5, 3)
        out = result(f(*inputs, general), (5, 3), "(H, N)", hint=stack) * w
        expected = ref(*inputs, general) * w
        got, want = gradients(out, inputs[:2]), gradients(expected, inputs[:2])
        return same_gradients(got, want, ["reward", "value"], NO_GRAD, (out, expected))

    cases = [("shape and dtype", shape)]
    cases += [(name, special(arg, label, hint, size)) for name, arg, label, hint, size in specials]
    return [*cases, ("gradient", grad)]


def k_step_return_cases() -> list[Case]:
    from dreamer_lite.returns import k_step_return as ref

    boot = "bootstrap from value[h] after the last reward you sum, with h = min(t + k, H)"
    fold = "sum k discounted rewards (discount[n] between s_n and s_{n+1}), then the bootstrap"
    truncate = "near the horizon fewer than k rewards exist: stop at H, bootstrap from value[H]"
    return _return_cases(
        ref,
        2,
        [
            ("k=1", 1, "the one-step return r_t + d_t v_{t+1}", boot, (5, 3)),
            ("k=3, random discounts", 3, "the reference 3-step return", fold, (6, 3)),
            ("k=H", 5, "the H-step return bootstrapped at v_H", boot, (5, 3)),
            ("k>H", 8, "the H-step return (truncated at the horizon)", truncate, (5, 3)),
            ("horizon 1", 3, "r_0 + d_0 v_1", boot, (1, 3)),
            ("batch 1", 2, "the reference for N = 1", SIZES, (5, 1)),
        ],
    )


def lambda_return_cases() -> list[Case]:
    from dreamer_lite.returns import lambda_return as ref

    zero = "with lambda = 0 only the one-step term is left: check which term (1 - lambda) weights"
    start = "the recursion starts from the bootstrap value"
    order = "apply the recursion backwards from t = H-1, and return the estimates in time order"
    return _return_cases(
        ref,
        0.9,
        [
            ("lambda=0", 0.0, "the one-step return r_t + d_t v_{t+1}", zero, (5, 3)),
            ("lambda=1", 1.0, "the H-step return bootstrapped at v_H", start, (5, 3)),
            ("lambda=0.95, random discounts", 0.95, "the reference lambda-return", order, (6, 4)),
            ("horizon 1", 0.5, "r_0 + d_0 v_1", start, (1, 3)),
            ("batch 1", 0.7, "the reference for N = 1", SIZES, (5, 1)),
        ],
    )


# --- plausible wrong versions (the tests check that each one fails) ---


def k_step(mode):
    def k_step_return(reward, value, discount, k):
        horizon, out = reward.shape[0], []
        for t in range(horizon):
            end = t + k if mode == "no truncation" else min(t + k, horizon)
            end = end - 1 if mode == "off by one" and end > t + 1 else end
            ret = value[end]
            for n in range(end - 1, t - 1, -1):
                ret = reward[n] + (1.0 if mode == "undiscounted" else discount[n]) * ret
            out.append(ret)
        return torch.stack(out)

    return k_step_return


def lam(mode):
    def lambda_return(reward, value, discount, lambda_):
        next_return = torch.zeros_like(value[-1]) if mode == "from zero" else value[-1]
        weight = 1 - lambda_ if mode == "swapped" else lambda_
        out = []
        for t in reversed(range(reward.shape[0])):
            mix = (1 - weight) * value[t + 1] + weight * next_return
            next_return = reward[t] + discount[t] * mix
            out.append(next_return)
        return torch.stack(out if mode == "reversed" else out[::-1])

    return lambda_return


EXERCISES = [
    ExerciseSpec(
        "k_step_return",
        "04.1",
        params=("reward", "value", "discount", "k"),
        reference=returns.k_step_return,
        cases=k_step_return_cases,
        wrong={
            "not truncated at H": k_step("no truncation"),
            "k - 1 rewards": k_step("off by one"),
            "undiscounted": k_step("undiscounted"),
        },
    ),
    ExerciseSpec(
        "lambda_return",
        "04.2",
        params=("reward", "value", "discount", "lambda_"),
        reference=returns.lambda_return,
        cases=lambda_return_cases,
        wrong={
            "starts from 0": lam("from zero"),
            "lambda and 1 - lambda swapped": lam("swapped"),
            "reversed in time": lam("reversed"),
        },
    ),
]
