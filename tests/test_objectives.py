"""Tests of dreamer_lite.objectives: the KL term with free nats and the InfoNCE bound."""

import math

import pytest
import torch
from torch.distributions import Independent, Normal, kl_divergence

from dreamer_lite.objectives import (
    contrastive_scores,
    gaussian_kl,
    info_nce_loss,
    kl_loss,
    log_likelihood,
    window_info_nce_loss,
    window_offsets,
)


def random_gaussians(*shape: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    post_mean = torch.randn(*shape, generator=gen)
    post_std = torch.rand(*shape, generator=gen) + 0.1
    prior_mean = torch.randn(*shape, generator=gen)
    prior_std = torch.rand(*shape, generator=gen) + 0.1
    return post_mean, post_std, prior_mean, prior_std


def closed_form_kl(pm, ps, qm, qs):
    """KL(N(pm, ps) || N(qm, qs)) per dim, written out: log(qs/ps) + (ps^2 + (pm-qm)^2)/(2 qs^2) - 1/2."""
    return torch.log(qs / ps) + (ps**2 + (pm - qm) ** 2) / (2 * qs**2) - 0.5


def test_gaussian_kl_matches_closed_form():
    """gaussian_kl sums the per-dim Gaussian KL over the last dim."""
    pm, ps, qm, qs = random_gaussians(5, 3, 4)
    kl = gaussian_kl(pm, ps, qm, qs)
    assert kl.shape == (5, 3)
    torch.testing.assert_close(kl, closed_form_kl(pm, ps, qm, qs).sum(-1))


def test_kl_loss_equals_torch_kl_above_free_nats():
    """Above free nats, kl_loss is the mean over states of KL(post || prior) of Independent Normals."""
    pm, ps, qm, qs = random_gaussians(6, 4, 8, seed=1)
    expected = kl_divergence(Independent(Normal(pm, ps), 1), Independent(Normal(qm, qs), 1)).mean()
    assert expected > 1.0  # so that free_nats = 1 does not bind
    torch.testing.assert_close(kl_loss(pm, ps, qm, qs, free_nats=1.0), expected)
    torch.testing.assert_close(kl_loss(pm, ps, qm, qs, free_nats=0.0), expected)


def test_kl_loss_gradient_above_free_nats_is_nonzero():
    """Above free nats the KL term trains both the posterior and the prior."""
    pm, ps, qm, qs = (x.requires_grad_() for x in random_gaussians(6, 4, 8, seed=1))
    grads = torch.autograd.grad(kl_loss(pm, ps, qm, qs, free_nats=0.0), [pm, ps, qm, qs])
    assert all(g.abs().sum() > 0 for g in grads)


def test_kl_loss_below_free_nats_is_constant_with_zero_gradient():
    """Below free nats, the term equals free_nats exactly and its gradient is zero."""
    pm, ps, qm, qs = random_gaussians(6, 4, 8, seed=2)
    qm, qs = pm + 0.01 * qm, ps * 1.01  # prior close to the posterior: tiny KL
    inputs = [x.clone().requires_grad_() for x in (pm, ps, qm, qs)]
    loss = kl_loss(*inputs, free_nats=3.0)
    assert gaussian_kl(pm, ps, qm, qs).mean() < 3.0
    assert loss.item() == 3.0
    for grad in torch.autograd.grad(loss, inputs):
        assert torch.equal(grad, torch.zeros_like(grad))


def test_free_nats_applied_after_averaging():
    """Free nats clip the mean KL, not each state's KL (the two differ here)."""
    # One stochastic dim, unit stds, so KL = (post_mean - prior_mean)^2 / 2 per state.
    # State 0: means equal -> KL 0. State 1: means 0 and 4 -> KL 16 / 2 = 8.
    post_mean = torch.tensor([[0.0], [0.0]])
    prior_mean = torch.tensor([[0.0], [4.0]])
    std = torch.ones(2, 1)
    # After averaging: max(mean(0, 8), 3) = max(4, 3) = 4.
    # Per state:       mean(max(0, 3), max(8, 3)) = (3 + 8) / 2 = 5.5.
    assert kl_loss(post_mean, std, prior_mean, std, free_nats=3.0).item() == pytest.approx(4.0)
    # And with KLs 0 and 4: after averaging max(2, 3) = 3; per state (3 + 4) / 2 = 3.5.
    prior_mean = torch.tensor([[0.0], [math.sqrt(8.0)]])
    assert kl_loss(post_mean, std, prior_mean, std, free_nats=3.0).item() == pytest.approx(3.0)


def test_kl_loss_is_scalar():
    """kl_loss reduces any leading dims to a scalar."""
    assert kl_loss(*random_gaussians(2, 3, 5, 4), free_nats=0.0).shape == ()


def info_nce_loop(scores: torch.Tensor) -> float:
    """Plain-loop reference: minus the mean over observations j (columns) of
    score[j, j] - log sum_i exp(score[i, j]), the normaliser over the states i."""
    flat = scores.reshape(-1, scores.shape[-2], scores.shape[-1]).tolist()
    total, count = 0.0, 0
    for matrix in flat:
        n = len(matrix)
        for j in range(n):
            total += matrix[j][j] - math.log(sum(math.exp(matrix[i][j]) for i in range(n)))
            count += 1
    return -total / count


def test_info_nce_normalises_over_states_by_hand():
    """A 2 x 2 case worked by hand: column 0 holds log q(s_0|o_0) = 0 and log q(s_1|o_0) = ln 3,
    so observation 0's term is 0 - ln(1 + 3); column 1 holds ln 2 (s_0) and 0 (s_1): 0 - ln 3."""
    scores = torch.tensor([[0.0, math.log(2.0)], [math.log(3.0), 0.0]])
    expected = -(-math.log(4.0) - math.log(3.0)) / 2
    assert info_nce_loss(scores).item() == pytest.approx(expected, rel=1e-6)


def window_nce_loop(feat, mean, std, time_window, batch_window) -> float:
    """The authors' windowed objective by plain loops: for every observation (t, b), the states
    at ((t - dt) mod T, (b - db) mod B) for dt, db in the centred window are its candidates."""
    length, batch, size = feat.shape
    tw, bw = min(time_window, length), min(batch_window, batch)
    total = 0.0

    def log_q(tt, bb, t, b):  # log N(s_{tt,bb}; mean_{t,b}, std_{t,b}), summed over features
        out = 0.0
        for f in range(size):
            m, s, x = float(mean[t, b, f]), float(std[t, b, f]), float(feat[tt, bb, f])
            out += -0.5 * ((x - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
        return out

    for t in range(length):
        for b in range(batch):
            candidates = [
                log_q((t - dt) % length, (b - db) % batch, t, b)
                for db in range(-(bw // 2), bw - bw // 2)
                for dt in range(-(tw // 2), tw - tw // 2)
            ]
            total += log_q(t, b, t, b) - math.log(sum(math.exp(c) for c in candidates))
    return -total / (length * batch)


@pytest.mark.parametrize(("time_window", "batch_window"), [(2, 2), (3, 2), (30, 10)])
def test_window_info_nce_equals_loops(time_window, batch_window):
    gen = torch.Generator().manual_seed(8)
    feat, mean = torch.randn(4, 3, 2, generator=gen), torch.randn(4, 3, 2, generator=gen)
    std = torch.rand(4, 3, 2, generator=gen) + 0.5
    got = window_info_nce_loss(feat, mean, std, time_window=time_window, batch_window=batch_window)
    expected = window_nce_loop(feat, mean, std, time_window, batch_window)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_window_offsets_count_and_centre():
    offsets = window_offsets(50, 50, time_window=30, batch_window=10)
    assert len(offsets) == 300 and (0, 0) in offsets  # the paper's K; the positive is a candidate
    assert min(dt for dt, _ in offsets) == -15 and max(dt for dt, _ in offsets) == 14
    assert len(window_offsets(8, 4, time_window=30, batch_window=10)) == 32  # clipped to (T, B)


def aligned_features(n: int = 8, f: int = 6, seed: int = 0):
    """Features and a contrastive head whose Gaussian j sits on feature j: aligned pairs score high."""
    gen = torch.Generator().manual_seed(seed)
    feat = torch.randn(n, f, generator=gen)
    mean = feat + 0.05 * torch.randn(n, f, generator=gen)
    std = torch.full((n, f), 0.3)
    return feat, mean, std


def test_info_nce_lower_for_aligned_than_shuffled():
    """Matching states with their own observations gives a lower loss than a shuffled pairing."""
    feat, mean, std = aligned_features()
    aligned = info_nce_loss(contrastive_scores(feat, mean, std))
    perm = torch.roll(torch.arange(feat.shape[0]), 1)  # a derangement: no pair stays aligned
    shuffled = info_nce_loss(contrastive_scores(feat, mean[perm], std[perm]))
    assert aligned < 0.1 < math.log(feat.shape[0]) < shuffled


def test_info_nce_equals_loop():
    """info_nce_loss equals a plain-loop computation on random scores with leading dims."""
    scores = 3 * torch.randn(3, 5, 5, generator=torch.Generator().manual_seed(4))
    assert info_nce_loss(scores).item() == pytest.approx(info_nce_loop(scores), rel=1e-5)


def test_info_nce_bounds():
    """The loss is >= 0, equals log N for constant scores and is near 0 for a dominant diagonal."""
    gen = torch.Generator().manual_seed(5)
    for _ in range(5):
        assert info_nce_loss(5 * torch.randn(2, 7, 7, generator=gen)) >= 0
    torch.testing.assert_close(info_nce_loss(torch.full((7, 7), -2.5)), torch.tensor(math.log(7)))
    assert info_nce_loss(100 * torch.eye(7)).item() < 1e-6


@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 3, 4)])
def test_info_nce_wrong_shape_raises(shape):
    """Scores that are not square in their last two dims raise ValueError."""
    with pytest.raises(ValueError, match="square"):
        info_nce_loss(torch.zeros(shape))


def test_contrastive_scores_equal_loop():
    """scores[..., i, j] = log N(feat_i; mean_j, std_j) summed over features."""
    gen = torch.Generator().manual_seed(6)
    feat, mean = torch.randn(2, 4, 3, generator=gen), torch.randn(2, 4, 3, generator=gen)
    std = torch.rand(2, 4, 3, generator=gen) + 0.2
    scores = contrastive_scores(feat, mean, std)
    assert scores.shape == (2, 4, 4)
    for b in range(2):
        for i in range(4):
            for j in range(4):
                expected = Normal(mean[b, j], std[b, j]).log_prob(feat[b, i]).sum()
                torch.testing.assert_close(scores[b, i, j], expected)


@pytest.mark.parametrize("event_dims", [0, 1, 3])
def test_log_likelihood_formula(event_dims):
    """Unit-variance Normal log-density, summed over the event dims and averaged over the rest."""
    gen = torch.Generator().manual_seed(7)
    mean, target = (
        torch.randn(2, 3, 4, 5, 6, generator=gen),
        torch.randn(2, 3, 4, 5, 6, generator=gen),
    )
    per_element = -0.5 * (target - mean) ** 2 - 0.5 * math.log(2 * math.pi)
    dims = tuple(range(-event_dims, 0))
    expected = (per_element.sum(dims) if dims else per_element).mean()
    torch.testing.assert_close(log_likelihood(mean, target, event_dims), expected)


def test_log_likelihood_shape_mismatch_raises():
    """Mean and target of different shapes are a ValueError (no silent broadcasting)."""
    with pytest.raises(ValueError):
        log_likelihood(torch.zeros(4, 1), torch.zeros(4), 1)


def test_log_likelihood_nan_target_gives_nan_not_error():
    """A NaN target yields a NaN loss (the agent turns it into NonFiniteLossError)."""
    target = torch.tensor([0.0, float("nan")])
    assert torch.isnan(log_likelihood(torch.zeros(2), target, 0))
