"""Value estimators for imagined trajectories: the paper's equations 4-6. Taught in notebook 04.

Shape legend: ``H`` horizon, ``N`` trajectories (imagination starts). Everything is time-major.

Inputs, for imagined states s_0 .. s_H:
    reward   (H, N)    reward[t]: the reward of the step from s_t to s_{t+1}
    value    (H+1, N)  value[t] = v(s_t); value[H] is the bootstrap at the horizon
    discount (H, N)    discount[t]: gamma (times the continuation probability, if predicted)
                       applied between s_t and s_{t+1}

Each estimator returns (H, N): an estimate of the return from each of s_0 .. s_{H-1}.

    V_R(s_t)     = sum_{n=t}^{H-1} r_n                                  no value model (eq. 4)
    V_N^k(s_t)   = sum_{n=t}^{h-1} d_t..d_{n-1} r_n + d_t..d_{h-1} v_h,  h = min(t+k, H)  (eq. 5)
    V_lambda(s_t) = (1-lambda) sum_{n=1}^{H-t-1} lambda^{n-1} V_N^n + lambda^{H-t-1} V_N^{H-t}
                  computed backwards: G_t = r_t + d_t ((1-lambda) v_{t+1} + lambda G_{t+1}),
                  G_H = v_H                                                         (eq. 6)
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def _check(reward: torch.Tensor, value: torch.Tensor, discount: torch.Tensor) -> None:
    horizon = reward.shape[0]
    if value.shape[0] != horizon + 1 or value.shape[1:] != reward.shape[1:]:
        raise ValueError(
            f"value must have shape (H+1, ...) = {(horizon + 1, *reward.shape[1:])} for reward "
            f"{tuple(reward.shape)}, got {tuple(value.shape)}; value[H] is the bootstrap"
        )
    if discount.shape != reward.shape:
        raise ValueError(
            f"discount must match reward's shape {tuple(reward.shape)}, got {tuple(discount.shape)}"
        )


def sum_of_rewards(reward: torch.Tensor) -> torch.Tensor:
    """V_R: the undiscounted sum of imagined rewards up to the horizon. (H, N) -> (H, N)."""
    # A reversed cumulative sum: entry t sums reward[t:].
    return reward.flip(0).cumsum(0).flip(0)


def k_step_return(
    reward: torch.Tensor, value: torch.Tensor, discount: torch.Tensor, k: int
) -> torch.Tensor:
    """V_N^k: k discounted rewards, then the value bootstrap (truncated at the horizon).

    reward (H, N), value (H+1, N), discount (H, N) -> (H, N).
    """
    _check(reward, value, discount)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    horizon = reward.shape[0]
    returns = []
    for t in range(horizon):
        end = min(t + k, horizon)
        ret = value[end]
        # Fold backwards from the bootstrap at ``end`` to t.
        for n in range(end - 1, t - 1, -1):
            ret = reward[n] + discount[n] * ret
        returns.append(ret)
    return torch.stack(returns)  # (H, N)


def lambda_return(
    reward: torch.Tensor, value: torch.Tensor, discount: torch.Tensor, lambda_: float
) -> torch.Tensor:
    """V_lambda by the backward recursion G_t = r_t + d_t ((1 - lambda) v_{t+1} + lambda G_{t+1}).

    reward (H, N), value (H+1, N), discount (H, N) -> (H, N). ``lambda_ = 0`` gives the one-step
    return r_t + d_t v_{t+1}; ``lambda_ = 1`` gives the Monte-Carlo return bootstrapped at H.
    Easy to get wrong: the recursion starts from the bootstrap G_H = v_H, not from zero.
    """
    _check(reward, value, discount)
    if not 0.0 <= lambda_ <= 1.0:
        raise ValueError(f"lambda_ must lie in [0, 1], got {lambda_}")
    next_return = value[-1]  # G_H = v_H
    returns = []
    for t in reversed(range(reward.shape[0])):
        next_return = reward[t] + discount[t] * (
            (1 - lambda_) * value[t + 1] + lambda_ * next_return
        )
        returns.append(next_return)
    return torch.stack(returns[::-1])  # (H, N)


# The value estimators by name, the one table: ``Config.value_estimator`` is validated against it
# and ``behavior.value_targets`` dispatches through it. Each entry maps (reward (H, N),
# value (H+1, N), discount (H, N), lambda_, k) -> returns (H, N).
Estimator = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float, int], torch.Tensor]
VALUE_ESTIMATORS: dict[str, Estimator] = {
    "lambda": lambda r, v, d, lambda_, k: lambda_return(r, v, d, lambda_),  # V_lambda, eq. 6
    "k_step": lambda r, v, d, lambda_, k: k_step_return(r, v, d, k),  # V_N^k, eq. 5
    "reward_sum": lambda r, v, d, lambda_, k: sum_of_rewards(r),  # V_R, eq. 4: no value model
}
