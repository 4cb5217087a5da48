"""``Dreamer.act``: the exploration noise it adds, and the action it takes in evaluation.

The actor's own randomness is taken out (its sample is replaced by a known tensor), so what is
left is the noise that collection adds; evaluation is compared with the actor's mode written out
by hand from the network's raw output.
"""

import numpy as np
import pytest
import torch

from dreamer_lite.agent import Dreamer
from dreamer_lite.config import Config

A, X = 2, 5


def make_agent(seed: int = 0, **overrides) -> Dreamer:
    torch.manual_seed(seed)
    cfg = Config.tiny(device="cpu", obs_type="state", **overrides)
    return Dreamer(cfg, (X,), A)


class Constant:
    """A stand-in for the actor's distribution whose samples are always ``value``."""

    def __init__(self, value: torch.Tensor) -> None:
        self.value = value

    def sample(self, shape=()):
        return self.value.expand(*shape, *self.value.shape).clone()


@pytest.mark.parametrize("noise", [0.1, 0.3])
def test_collection_adds_gaussian_noise_of_the_configured_size(noise):
    agent = make_agent(expl_noise=noise)
    n = 4000
    centre = torch.tensor([0.2, -0.4])  # the actor's sample, made constant
    agent.actor.forward = lambda feat: Constant(centre.expand(feat.shape[0], A))
    obs = np.random.default_rng(0).standard_normal((n, X)).astype(np.float32)
    torch.manual_seed(1)
    actions, _ = agent.act(obs, explore=True)
    offsets = actions - centre.numpy()  # (n, A): the added noise (clipping at +-1 is rare here)
    assert np.abs(offsets.mean(0)).max() < 0.02
    np.testing.assert_allclose(offsets.std(0), noise, rtol=0.06)
    assert np.abs(actions).max() <= 1.0


def test_evaluation_takes_the_squashed_mean_of_the_actor():
    """explore=False: tanh(mean_scale * tanh(m / mean_scale)) of the actor net's raw mean m,
    on the posterior the agent computes from the observation (same seed, same sample)."""
    agent = make_agent()
    obs = np.random.default_rng(0).standard_normal((3, X)).astype(np.float32)
    torch.manual_seed(7)
    actions, _ = agent.act(obs, explore=False)

    torch.manual_seed(7)  # the posterior's stochastic part is a sample: replay the same one
    with torch.no_grad():
        start = agent.initial_state(3)
        embed = agent.world_model.embed(torch.as_tensor(obs))
        latent, _ = agent.world_model.rssm.observe_step(start.latent, start.action, embed)
        raw_mean = agent.actor.net(latent.feat)[:, 0]  # (B, A): the first of (mean, std)
    scale = agent.cfg.actor_mean_scale
    expected = np.tanh(scale * np.tanh(raw_mean.numpy() / scale))
    np.testing.assert_allclose(actions, expected, rtol=1e-5, atol=1e-6)
    assert np.abs(expected).max() > 1e-3  # not trivially zero


def test_evaluation_densest_sample_is_the_most_likely_of_100_draws():
    """eval_mode="densest_sample": replayed by hand with the same seed, 100 draws from the
    actor's distribution on the same posterior, and the one of highest log-density per row."""
    agent = make_agent(eval_mode="densest_sample")
    obs = np.random.default_rng(1).standard_normal((3, X)).astype(np.float32)
    torch.manual_seed(11)
    actions, _ = agent.act(obs, explore=False)

    torch.manual_seed(11)
    with torch.no_grad():
        start = agent.initial_state(3)
        embed = agent.world_model.embed(torch.as_tensor(obs))
        latent, _ = agent.world_model.rssm.observe_step(start.latent, start.action, embed)
        dist = agent.actor(latent.feat)
        draws = dist.sample((100,))  # (100, B, A)
        log_prob = dist.log_prob(draws)  # (100, B)
    for row in range(3):
        best = max(range(100), key=lambda k: float(log_prob[k, row]))
        np.testing.assert_allclose(actions[row], draws[best, row].numpy(), rtol=1e-6)
    mean_action = np.tanh(
        agent.cfg.actor_mean_scale
        * np.tanh(agent.actor.net(latent.feat)[:, 0].detach().numpy() / agent.cfg.actor_mean_scale)
    )
    assert not np.allclose(actions, mean_action, atol=1e-3)  # the two modes differ here
