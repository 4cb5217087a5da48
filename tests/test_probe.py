"""Tests of dreamer_lite.course.probe: ridge-regression probes and held-out R^2."""

import numpy as np
import pytest
import torch

from dreamer_lite.course.probe import fit_linear_probe, probe_r2, r2_score


def linear_data(n: int, features: int = 6, targets: int = 3, noise: float = 0.0, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=gen) * torch.linspace(0.1, 10.0, features)
    weight = torch.randn(features, targets, generator=gen)
    y = x @ weight + 2.0 + noise * torch.randn(n, targets, generator=gen)
    return x, y


def test_recovers_a_linear_map_on_held_out_data():
    """Targets that are exactly linear in the features get R^2 = 1 on new samples."""
    x, y = linear_data(300)
    r2 = probe_r2(x[:200], y[:200], x[200:], y[200:], alpha=0.0)
    assert r2.shape == (3,)
    torch.testing.assert_close(r2, torch.ones(3, dtype=torch.float64), atol=1e-8, rtol=0)


def test_prediction_matches_a_plain_least_squares_fit():
    """alpha = 0 equals ordinary least squares with an intercept (numpy's lstsq)."""
    x, y = linear_data(100, noise=0.5)
    probe = fit_linear_probe(x, y, alpha=0.0)
    design = np.concatenate([x.numpy(), np.ones((100, 1), np.float32)], axis=1).astype(np.float64)
    coef = np.linalg.lstsq(design, y.numpy().astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(probe.predict(x).numpy(), design @ coef, atol=1e-8)


def test_independent_features_score_about_zero_or_below():
    """Features unrelated to the target cannot predict it on held-out data."""
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(400, 10, generator=gen), torch.randn(400, 2, generator=gen)
    r2 = probe_r2(x[:300], y[:300], x[300:], y[300:])
    assert (r2 < 0.05).all()


def test_r2_of_perfect_mean_and_bad_predictions():
    y = torch.tensor([[1.0, 0.0], [2.0, 1.0], [3.0, 5.0]])
    torch.testing.assert_close(r2_score(y, y), torch.ones(2, dtype=torch.float64))
    mean = y.mean(0, keepdim=True).expand_as(y)
    torch.testing.assert_close(r2_score(y, mean), torch.zeros(2, dtype=torch.float64))
    assert (r2_score(y, -y) < 0).all()


def test_one_dimensional_targets_give_scalars():
    x, y = linear_data(120, targets=1)
    r2 = probe_r2(x[:80], y[:80, 0], x[80:], y[80:, 0], alpha=0.0)
    assert r2.dim() == 0 and r2.item() == pytest.approx(1.0)
    assert fit_linear_probe(x, y[:, 0]).predict(x).shape == (120,)


def test_numpy_inputs_and_constant_features_are_fine():
    """numpy arrays work, and a constant feature column does not produce NaN."""
    x, y = linear_data(150)
    x = torch.cat([x, torch.full((150, 1), 3.0)], dim=1).numpy()
    r2 = probe_r2(x[:100], y[:100].numpy(), x[100:], y[100:].numpy(), alpha=0.1)
    assert torch.isfinite(r2).all() and (r2 > 0.99).all()


def test_ridge_penalty_shrinks_the_weights():
    x, y = linear_data(80, noise=1.0)
    small = fit_linear_probe(x, y, alpha=0.0).weight.norm()
    large = fit_linear_probe(x, y, alpha=1e4).weight.norm()
    assert large < 0.1 * small


def test_feature_scale_does_not_matter():
    """Standardisation: rescaling a feature leaves the probe's predictions unchanged."""
    x, y = linear_data(100, noise=0.3)
    scaled = x * torch.tensor([1e3, 1e-3, 1.0, 5.0, 1.0, 1.0])
    a = fit_linear_probe(x, y, alpha=1.0).predict(x)
    b = fit_linear_probe(scaled, y, alpha=1.0).predict(scaled)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def test_bad_shapes_raise():
    x, y = linear_data(20)
    with pytest.raises(ValueError, match="samples"):
        fit_linear_probe(x, y[:10])
    with pytest.raises(ValueError, match="alpha"):
        fit_linear_probe(x, y, alpha=-1.0)
    with pytest.raises(ValueError, match="features"):
        fit_linear_probe(x, y).predict(x[:, :3])
    with pytest.raises(ValueError, match="differ"):
        r2_score(y, y[:, :2])


def test_out_of_sample_r2_is_measured_against_the_training_mean():
    """A probe that can only predict the training mean scores exactly 0 on a shifted test set
    (the usual R^2 against the test mean would call it worse than useless)."""
    gen = torch.Generator().manual_seed(2)
    train_y, test_y = torch.randn(50, 2, generator=gen), torch.randn(20, 2, generator=gen) + 3.0
    constant = torch.ones(50, 4), torch.ones(20, 4)  # features that carry nothing
    r2 = probe_r2(constant[0], train_y, constant[1], test_y)
    torch.testing.assert_close(r2, torch.zeros(2, dtype=torch.float64))
    assert (r2_score(test_y, train_y.mean(0).expand(20, 2)) < -1).all()


def test_r2_reference_argument():
    y = torch.tensor([1.0, 2.0, 4.0])
    assert r2_score(y, torch.full((3,), 2.0), reference=2.0).item() == pytest.approx(0.0)
    assert r2_score(y, y, reference=10.0).item() == pytest.approx(1.0)
