"""The world model's loss, term by term, against formulas written out in the test.

Each term is recomputed from the posterior and prior the loss used (same seed, so the same
samples): the KL is KL(posterior || prior) from torch.distributions, on states where the two
directions differ; the image term sums the Gaussian log-density over pixels and averages over
time and batch; the reward term does the same for one number per step.
"""

import math

import pytest
import torch
from torch.distributions import Independent, Normal, kl_divergence

from dreamer_lite.world_model import WorldModel

T, B, A = 3, 2, 2
IMAGE = (3, 64, 64)


def make_model(obs_shape=IMAGE, seed: int = 0, **kwargs) -> WorldModel:
    torch.manual_seed(seed)
    sizes = {"cnn_depth": 4, "deter_size": 8, "stoch_size": 4, "hidden_size": 8, "units": 8}
    sizes["free_nats"] = 0.0
    return WorldModel(obs_shape, A, **{**sizes, **kwargs})


def make_batch(obs_shape=IMAGE, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    if len(obs_shape) == 3:
        obs = torch.randint(0, 256, (T, B, *obs_shape), generator=gen, dtype=torch.uint8)
    else:
        obs = torch.randn(T, B, *obs_shape, generator=gen)
    return {
        "obs": obs,
        "action": torch.rand(T, B, A, generator=gen) * 2 - 1,
        "reward": torch.randn(T, B, generator=gen),
    }


def loss_and_states(model: WorldModel, batch, seed: int = 3):
    """The loss, and the posterior and prior it was computed from (the same random draws)."""
    torch.manual_seed(seed)
    total, terms, _ = model.loss(batch)
    torch.manual_seed(seed)
    with torch.no_grad():
        post, prior = model.observe(batch)
    return total, terms, post, prior


def gaussian_log_density(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, 1) per element, written out."""
    return -0.5 * (x - mean) ** 2 - 0.5 * math.log(2 * math.pi)


def test_kl_term_is_kl_of_posterior_from_prior():
    model = make_model()
    with torch.no_grad():  # a sharp posterior under a broad prior: the two KLs differ
        last = [m for m in model.rssm.obs_out.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.bias[model.rssm.stoch_size :] -= 4.0
    _, terms, post, prior = loss_and_states(model, make_batch())
    q = Independent(Normal(post.mean, post.std), 1)
    p = Independent(Normal(prior.mean, prior.std), 1)
    forward, reverse = kl_divergence(q, p).mean(), kl_divergence(p, q).mean()
    assert abs(forward - reverse) > 0.5 * forward  # the two directions are told apart here
    torch.testing.assert_close(terms["kl_term"], forward, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(terms["kl"], forward, rtol=1e-5, atol=1e-6)


def test_free_nats_floor_the_averaged_kl():
    model = make_model(free_nats=1e3)
    _, terms, _, _ = loss_and_states(model, make_batch())
    assert terms["kl_term"].item() == 1e3  # far above the KL: the floor holds
    assert terms["kl"].item() < 1e3


def test_image_term_sums_over_pixels_and_averages_over_time_and_batch():
    model = make_model()
    batch = make_batch()
    _, terms, post, _ = loss_and_states(model, batch)
    with torch.no_grad():
        mean = model.decode(post.feat)  # (T, B, 3, 64, 64)
    target = batch["obs"].float() / 255.0 - 0.5
    per_step = torch.zeros(T, B)
    for t in range(T):
        for b in range(B):
            per_step[t, b] = gaussian_log_density(target[t, b], mean[t, b]).sum()
    expected = per_step.mean()
    torch.testing.assert_close(terms["obs_log_prob"], expected, rtol=1e-5, atol=1e-2)


def test_reward_term_reads_the_posterior_of_the_same_step():
    model = make_model((4,), objective="reconstruction")
    batch = make_batch((4,))
    _, terms, post, _ = loss_and_states(model, batch)
    with torch.no_grad():
        predicted = model.reward(post.feat).squeeze(-1)  # (T, B)
    expected = gaussian_log_density(batch["reward"], predicted).mean()
    torch.testing.assert_close(terms["reward_log_prob"], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("free_nats", [0.0, 1e3])
def test_total_is_the_sum_of_its_terms(free_nats):
    model = make_model(free_nats=free_nats, kl_scale=0.5)
    total, terms, _, _ = loss_and_states(model, make_batch())
    expected = 0.5 * terms["kl_term"] - terms["reward_log_prob"] - terms["obs_log_prob"]
    torch.testing.assert_close(total.detach(), expected)


@pytest.mark.parametrize("negatives", ["window", "batch"])
def test_contrastive_term_normalises_over_states(negatives):
    """The contrastive term, recomputed by loops from the model's own Gaussians q(. | o_tb) and
    posterior states: for each observation, its state's log-density minus the log-sum-exp over
    the candidate states (the window around it, or the batch at the same time step)."""
    model = make_model(
        (4,),
        objective="contrastive",
        contrastive_negatives=negatives,
        time_window=2,
        batch_window=2,
    )
    batch = make_batch((4,))
    _, terms, post, _ = loss_and_states(model, batch)
    with torch.no_grad():
        mean, raw_std = model.contrast(model.embed(batch["obs"])).unbind(-2)  # (T, B, F)
        std = torch.nn.functional.softplus(raw_std) + model.min_std
    feat = post.feat

    def log_q(state, t, b):  # log N(state; mean_tb, std_tb), summed over the features
        return gaussian_density_sum(state, mean[t, b], std[t, b])

    total = 0.0
    for t in range(T):
        for b in range(B):
            if negatives == "window":
                shifts = [(dt, db) for db in (-1, 0) for dt in (-1, 0)]
                cands = [feat[(t - dt) % T, (b - db) % B] for dt, db in shifts]
            else:
                cands = [feat[t, k] for k in range(B)]
            scores = torch.stack([log_q(c, t, b) for c in cands])
            total += log_q(feat[t, b], t, b) - torch.logsumexp(scores, 0)
    torch.testing.assert_close(terms["info_nce"], total / (T * B), rtol=1e-5, atol=1e-5)
    assert model.contrastive_candidates(T, B) == (4 if negatives == "window" else B)


def gaussian_density_sum(x, mean, std):
    """log N(x; mean, std) summed over the last dim, written out."""
    z = (x - mean) / std
    return (-0.5 * z**2 - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)
