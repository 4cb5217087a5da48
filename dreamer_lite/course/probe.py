"""Linear probes: how much of a quantity can be read off a representation, as held-out R^2.

Used in notebook 02 to compare what the latents of the three representation objectives know
about the true physical state. Shape legend: ``N`` samples, ``F`` features, ``Y`` targets.

A probe is ridge regression on standardised features,

    w = argmin_w  sum_n ||y_n - b - x_n w||^2 + alpha ||w||^2,     b = mean(y),

fitted on one set of samples and scored on another with the out-of-sample coefficient of
determination (per target dimension)

    R^2 = 1 - sum_n (y_n - y_hat_n)^2 / sum_n (y_n - mean(y_train))^2     over the test samples.

R^2 = 1 means the target is a linear function of the features; 0 means the probe does no better
than the best constant it could have learned without features, the training mean; it is negative
when the probe does worse than that. (Measuring against the training mean rather than the test
mean keeps a small, unrepresentative test set from inflating the penalty for a shift of the
mean that no probe could have known.) A *linear*
probe is deliberately weak: it measures what the representation makes easy to read, which is
what the small reward, value and actor networks built on top of it profit from.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch


def _as_2d(array: Any) -> tuple[torch.Tensor, bool]:
    """numpy or torch (N,) / (N, Y) -> float64 (N, Y), and whether the input was 1-d."""
    tensor = torch.as_tensor(array).detach().to("cpu", torch.float64)
    if tensor.dim() == 1:
        return tensor[:, None], True
    if tensor.dim() != 2:
        raise ValueError(f"expected shape (N,) or (N, D), got {tuple(tensor.shape)}")
    return tensor, False


class LinearProbe(NamedTuple):
    """A fitted ridge-regression probe: ``y_hat = ((x - x_mean) / x_scale) @ weight + bias``."""

    weight: torch.Tensor  # (F, Y)
    bias: torch.Tensor  # (Y,)
    x_mean: torch.Tensor  # (F,)
    x_scale: torch.Tensor  # (F,)
    squeeze: bool  # the targets were 1-d: predictions are 1-d too

    def predict(self, x: Any) -> torch.Tensor:
        """Features (N, F) -> predictions (N, Y), or (N,) if the probe was fitted on (N,)."""
        x, _ = _as_2d(x)
        if x.shape[1] != self.weight.shape[0]:
            raise ValueError(f"probe expects {self.weight.shape[0]} features, got {x.shape[1]}")
        y_hat = ((x - self.x_mean) / self.x_scale) @ self.weight + self.bias  # (N, Y)
        return y_hat[:, 0] if self.squeeze else y_hat


def fit_linear_probe(x: Any, y: Any, alpha: float = 1.0) -> LinearProbe:
    """Ridge regression from features x (N, F) to targets y (N,) or (N, Y).

    Features are standardised with the training mean and std (constant features are left at
    zero), so ``alpha`` means the same for every representation however its features are scaled.
    """
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    x, _ = _as_2d(x)
    y, squeeze = _as_2d(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} samples but y has {y.shape[0]}")
    x_mean = x.mean(0)  # (F,)
    x_scale = x.std(0, correction=0)
    x_scale = torch.where(x_scale > 1e-12, x_scale, torch.ones_like(x_scale))  # constant column
    z = (x - x_mean) / x_scale  # (N, F)
    bias = y.mean(0)  # (Y,)
    gram = z.T @ z + alpha * torch.eye(z.shape[1], dtype=z.dtype)  # (F, F)
    # lstsq instead of solve: stays finite even when alpha = 0 and features are collinear.
    weight = torch.linalg.lstsq(gram, z.T @ (y - bias)).solution  # (F, Y)
    return LinearProbe(weight, bias, x_mean, x_scale, squeeze)


def r2_score(y_true: Any, y_pred: Any, reference: Any = None) -> torch.Tensor:
    """Coefficient of determination per target dimension: (N, Y) -> (Y,), (N,) -> ().

    ``1 - sum (y_true - y_pred)^2 / sum (y_true - reference)^2``. ``reference`` (Y,) or a scalar
    is the constant prediction that scores 0: the mean of ``y_true`` itself by default (the usual
    R^2), or e.g. the training mean for an out-of-sample R^2.
    """
    y_true, squeeze = _as_2d(y_true)
    y_pred, _ = _as_2d(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {tuple(y_true.shape)} and y_pred {tuple(y_pred.shape)} differ")
    if reference is None:
        reference = y_true.mean(0)
    reference = torch.as_tensor(reference, dtype=torch.float64).reshape(-1)  # (Y,) or (1,)
    residual = ((y_true - y_pred) ** 2).sum(0)  # (Y,)
    total = ((y_true - reference) ** 2).sum(0).clamp_min(1e-12)  # (Y,)
    score = 1.0 - residual / total
    return score[0] if squeeze else score


def probe_r2(
    train_x: Any, train_y: Any, test_x: Any, test_y: Any, alpha: float = 1.0
) -> torch.Tensor:
    """Fit a probe on (train_x, train_y) and return its out-of-sample R^2 on (test_x, test_y),
    measured against the training mean (see the module docstring).

    Shapes: x (N, F), y (N, Y) or (N,); returns (Y,) or a scalar tensor. Notebook 02.
    """
    probe = fit_linear_probe(train_x, train_y, alpha)
    return r2_score(test_y, probe.predict(test_x), reference=probe.bias)
