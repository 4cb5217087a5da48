"""The opt-in entropy bonus of the actor (``Config.actor_entropy``): its estimate matches the
tanh-Gaussian's entropy computed by quadrature, it stays finite and pushes the std up where the
tanh saturates, and with the default 0 nothing changes."""

import math

import numpy as np
import pytest
import torch

from dreamer_lite.behavior import Actor, Critic, imagined_behavior, policy_entropy
from dreamer_lite.config import Config, ConfigError
from dreamer_lite.rssm import RSSM


def fixed_actor(raw_mean: float, raw_std: float, feat_size: int = 3) -> Actor:
    """An actor whose output ignores its input: last layer zero, bias (raw_mean, raw_std)."""
    actor = Actor(feat_size, 1, units=8, layers=1)
    last = actor.net.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([raw_mean, raw_std]))
    return actor


def quadrature_entropy(mean: float, std: float) -> float:
    """H of tanh(u), u ~ N(mean, std): H(N) + E[log(1 - tanh(u)^2)], on a fine grid (numpy)."""
    u = np.linspace(mean - 12 * std, mean + 12 * std, 400_001)
    density = np.exp(-0.5 * ((u - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
    log_jacobian = 2 * (math.log(2) - u - np.logaddexp(0, -2 * u))  # log(1 - tanh(u)^2), stable
    expected = np.trapezoid(density * log_jacobian, u)
    return 0.5 * math.log(2 * math.pi * math.e * std**2) + expected


@pytest.mark.parametrize("raw_mean, raw_std", [(0.0, 0.0), (1.5, -4.0), (-8.0, -2.0)])
def test_estimate_matches_quadrature(raw_mean, raw_std):
    torch.manual_seed(0)
    actor = fixed_actor(raw_mean, raw_std)
    # The actor's parametrisation, written out: mean 5 tanh(m / 5), std softplus(s + c) + 1e-4.
    mean = 5 * math.tanh(raw_mean / 5)
    std = math.log1p(math.exp(raw_std + math.log(math.expm1(5.0)))) + 1e-4
    samples = policy_entropy(actor, torch.zeros(200_000, 3)).double()
    standard_error = samples.std().item() / math.sqrt(len(samples))
    expected = quadrature_entropy(mean, std)
    assert abs(samples.mean().item() - expected) < 4 * standard_error + 1e-3


def test_discrete_entropy_is_exact():
    # Logits 0, 1, 2, 3 whatever the input: H = -sum p log p, worked out in plain Python.
    actor = Actor(3, 4, units=8, layers=1, discrete=True)
    with torch.no_grad():
        actor.net.net[-1].weight.zero_()
        actor.net.net[-1].bias.copy_(torch.arange(4.0))
    z = sum(math.exp(k) for k in range(4))
    expected = -sum(math.exp(k) / z * (k - math.log(z)) for k in range(4))
    torch.manual_seed(0)
    entropy = policy_entropy(actor, torch.zeros(64, 3))
    torch.testing.assert_close(entropy, torch.full((64,), expected))


def test_saturated_actor_gets_a_finite_push_towards_a_wider_std():
    # Mean -4.92 (the bound is 5), std 0.018: every sample saturates the tanh.
    actor = fixed_actor(raw_mean=-12.0, raw_std=-9.0)
    torch.manual_seed(0)
    entropy = policy_entropy(actor, torch.zeros(4096, 3)).mean()
    assert torch.isfinite(entropy)
    entropy.backward()
    raw_std_grad = actor.net.net[-1].bias.grad[1].item()
    # H is about log(std) + const there and std = softplus(raw + c) ~ exp(raw + c) this small,
    # so dH / d raw is about 1: a full-sized push, where the returns' gradient is about 0.
    assert 0.9 < raw_std_grad < 1.1


def behaviour(entropy_scale: float, actor: Actor):
    torch.manual_seed(1)
    rssm = RSSM(action_size=1, embed_size=4, stoch_size=2, deter_size=1, hidden_size=8)
    critic = Critic(3, units=8, layers=1)
    start = rssm.initial(5, torch.device("cpu"))
    torch.manual_seed(2)
    return imagined_behavior(
        rssm,
        actor,
        critic,
        lambda feat: feat.sum(-1),
        start,
        horizon=4,
        discount=0.9,
        entropy_scale=entropy_scale,
    )


def test_default_scale_changes_nothing_and_a_positive_one_adds_the_weighted_bonus():
    actor = fixed_actor(0.3, -1.0)
    plain = behaviour(0.0, actor)
    assert "entropy" not in plain
    bonus = behaviour(0.5, actor)
    # Same seeds: the imagined rollout is the same, so is the return part of the loss.
    torch.testing.assert_close(bonus["returns"], plain["returns"])
    weighted = (bonus["weights"] * bonus["entropy"]).mean()
    torch.testing.assert_close(bonus["actor_loss"], plain["actor_loss"] - 0.5 * weighted)


def test_config_refuses_a_negative_scale():
    with pytest.raises(ConfigError, match="actor_entropy"):
        Config.cpu(actor_entropy=-0.1)
    assert Config.paper().actor_entropy == 0.0
