"""Tests of dreamer_lite.returns: V_R, V_N^k and V_lambda against hand arithmetic and plain loops."""

import pytest
import torch

from dreamer_lite.returns import k_step_return, lambda_return, sum_of_rewards

H, N = 6, 4


def random_inputs(seed: int = 0):
    """reward (H, N), value (H+1, N) and random per-step discounts (H, N) in [0.5, 1]."""
    gen = torch.Generator().manual_seed(seed)
    reward = torch.randn(H, N, generator=gen, dtype=torch.float64)
    value = torch.randn(H + 1, N, generator=gen, dtype=torch.float64)
    discount = 0.5 + 0.5 * torch.rand(H, N, generator=gen, dtype=torch.float64)
    return reward, value, discount


def k_step_loop(reward, value, discount, k):
    """Plain-loop V_N^k: sum_{n=t}^{h-1} (prod_{i=t}^{n-1} d_i) r_n + (prod_{i=t}^{h-1} d_i) v_h."""
    horizon, batch = reward.shape
    out = torch.zeros(horizon, batch, dtype=reward.dtype)
    for j in range(batch):
        for t in range(horizon):
            end = min(t + k, horizon)
            total, weight = 0.0, 1.0
            for n in range(t, end):
                total += weight * reward[n, j].item()
                weight *= discount[n, j].item()
            out[t, j] = total + weight * value[end, j].item()
    return out


def lambda_loop(reward, value, discount, lambda_):
    """Plain-loop V_lambda by the paper's eq. 6: a lambda-weighted average of k-step returns.

    V_lambda(s_t) = (1 - lambda) sum_{n=1}^{H-t-1} lambda^(n-1) V_N^n(s_t) + lambda^(H-t-1) V_N^(H-t)(s_t)
    """
    horizon, batch = reward.shape
    k_returns = {n: k_step_loop(reward, value, discount, n) for n in range(1, horizon + 1)}
    out = torch.zeros(horizon, batch, dtype=reward.dtype)
    for t in range(horizon):
        total = torch.zeros(batch, dtype=reward.dtype)
        for n in range(1, horizon - t):
            total += (1 - lambda_) * lambda_ ** (n - 1) * k_returns[n][t]
        total += lambda_ ** (horizon - t - 1) * k_returns[horizon - t][t]
        out[t] = total
    return out


# A 3-step example by hand: gamma = 0.5, lambda = 0.5, r = (1, 2, 3), v = (v0, v1, v2, v3) = (0, 4, 8, 16).
HAND_REWARD = torch.tensor([[1.0], [2.0], [3.0]])
HAND_VALUE = torch.tensor([[0.0], [4.0], [8.0], [16.0]])
HAND_DISCOUNT = torch.full((3, 1), 0.5)


def test_hand_worked_lambda_return():
    """V_lambda on a 3-step example, worked by hand both ways (recursion and eq. 6)."""
    # Recursion G_t = r_t + gamma ((1 - lambda) v_{t+1} + lambda G_{t+1}), G_3 = v_3 = 16:
    #   G_2 = 3 + 0.5 * (0.5 * 16 + 0.5 * 16)   = 3 + 8          = 11
    #   G_1 = 2 + 0.5 * (0.5 * 8  + 0.5 * 11)   = 2 + 0.5 * 9.5  = 6.75
    #   G_0 = 1 + 0.5 * (0.5 * 4  + 0.5 * 6.75) = 1 + 0.5 * 5.375 = 3.6875
    # Check G_0 by eq. 6 with k-step returns from s_0:
    #   V^1 = 1 + 0.5 * 4                             = 3
    #   V^2 = 1 + 0.5 * 2 + 0.25 * 8                  = 4
    #   V^3 = 1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 16     = 4.75
    #   V_lambda = 0.5 * (3 + 0.5 * 4) + 0.25 * 4.75  = 2.5 + 1.1875 = 3.6875
    expected = torch.tensor([[3.6875], [6.75], [11.0]])
    torch.testing.assert_close(lambda_return(HAND_REWARD, HAND_VALUE, HAND_DISCOUNT, 0.5), expected)
    torch.testing.assert_close(lambda_loop(HAND_REWARD, HAND_VALUE, HAND_DISCOUNT, 0.5), expected)


def test_hand_worked_k_step_and_reward_sum():
    """V_N^2 and V_R on the same 3-step example."""
    # V^2(s_0) = 1 + 0.5 * 2 + 0.25 * v_2 = 1 + 1 + 2 = 4
    # V^2(s_1) = 2 + 0.5 * 3 + 0.25 * v_3 = 2 + 1.5 + 4 = 7.5
    # V^2(s_2) is truncated at the horizon: 3 + 0.5 * v_3 = 3 + 8 = 11
    expected = torch.tensor([[4.0], [7.5], [11.0]])
    torch.testing.assert_close(k_step_return(HAND_REWARD, HAND_VALUE, HAND_DISCOUNT, 2), expected)
    # V_R: 1 + 2 + 3 = 6, 2 + 3 = 5, 3.
    torch.testing.assert_close(sum_of_rewards(HAND_REWARD), torch.tensor([[6.0], [5.0], [3.0]]))


def test_lambda_zero_is_one_step_return():
    """lambda = 0 gives r_t + d_t v_{t+1}."""
    reward, value, discount = random_inputs(1)
    expected = reward + discount * value[1:]
    torch.testing.assert_close(lambda_return(reward, value, discount, 0.0), expected)


def test_lambda_one_is_h_step_return():
    """lambda = 1 gives the Monte-Carlo return truncated and bootstrapped at the horizon."""
    reward, value, discount = random_inputs(2)
    expected = k_step_return(reward, value, discount, H)
    torch.testing.assert_close(lambda_return(reward, value, discount, 1.0), expected)
    # Written out for t = 0: sum_n (prod_{i<n} d_i) r_n + (prod_i d_i) v_H.
    weights = torch.cumprod(torch.cat([torch.ones(1, N, dtype=discount.dtype), discount]), 0)
    first = (weights[:-1] * reward).sum(0) + weights[-1] * value[-1]
    torch.testing.assert_close(lambda_return(reward, value, discount, 1.0)[0], first)


@pytest.mark.parametrize("lambda_", [0.0, 0.3, 0.95, 1.0])
def test_lambda_return_equals_eq6_weighted_average(lambda_):
    """V_lambda equals the exponentially weighted average of k-step returns (eq. 6)."""
    reward, value, discount = random_inputs(3)
    torch.testing.assert_close(
        lambda_return(reward, value, discount, lambda_),
        lambda_loop(reward, value, discount, lambda_),
    )


@pytest.mark.parametrize("k", [1, 2, 5, H, H + 3])
def test_k_step_return_equals_loop(k):
    """V_N^k equals a plain loop with random per-step discounts (k beyond H truncates at H)."""
    reward, value, discount = random_inputs(4)
    torch.testing.assert_close(
        k_step_return(reward, value, discount, k), k_step_loop(reward, value, discount, k)
    )


def test_sum_of_rewards_equals_loop():
    """V_R(s_t) = sum_{n >= t} r_n, against a plain loop."""
    reward, _, _ = random_inputs(5)
    expected = torch.zeros_like(reward)
    for t in range(H):
        for n in range(t, H):
            expected[t] += reward[n]
    torch.testing.assert_close(sum_of_rewards(reward), expected)


def test_bootstrap_value_is_used():
    """The returns depend on the bootstrap value v_H (the recursion must not start from zero)."""
    reward, value, discount = random_inputs(6)
    value = value.clone().requires_grad_()
    (grad,) = torch.autograd.grad(lambda_return(reward, value, discount, 0.95).sum(), value)
    assert (grad[-1] != 0).all()
    assert (grad[0] == 0).all()  # v(s_0) never enters any return from s_0 .. s_{H-1}


def test_returns_are_differentiable_in_rewards():
    """Gradients reach the rewards: the actor learns through them."""
    reward, value, discount = random_inputs(7)
    reward = reward.clone().requires_grad_()
    (grad,) = torch.autograd.grad(lambda_return(reward, value, discount, 0.95).sum(), reward)
    assert (grad > 0).all()


@pytest.mark.parametrize(
    "value_shape, discount_shape",
    [((H, N), (H, N)), ((H + 2, N), (H, N)), ((H + 1, N + 1), (H, N)), ((H + 1, N), (H + 1, N))],
)
def test_shape_errors_raise(value_shape, discount_shape):
    """Mismatched value / discount shapes raise ValueError in both estimators."""
    reward = torch.zeros(H, N)
    value, discount = torch.zeros(value_shape), torch.zeros(discount_shape)
    with pytest.raises(ValueError):
        lambda_return(reward, value, discount, 0.95)
    with pytest.raises(ValueError):
        k_step_return(reward, value, discount, 2)


def test_bad_lambda_and_k_raise():
    """lambda outside [0, 1] and k < 1 raise ValueError."""
    reward, value, discount = random_inputs(8)
    for bad in (-0.1, 1.1):
        with pytest.raises(ValueError, match="lambda"):
            lambda_return(reward, value, discount, bad)
    with pytest.raises(ValueError, match="k"):
        k_step_return(reward, value, discount, 0)
