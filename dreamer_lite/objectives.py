"""The loss terms of the world model as plain functions (they are exercises in notebooks 01-02).

Shape legend: ``...`` leading dims such as ``T, B``; ``S`` stochastic size; ``N`` candidates.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch.distributions import kl_divergence

from dreamer_lite.rssm import diagonal_normal

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def gaussian_kl(
    post_mean: torch.Tensor,
    post_std: torch.Tensor,
    prior_mean: torch.Tensor,
    prior_std: torch.Tensor,
) -> torch.Tensor:
    """KL(post || prior) between diagonal Gaussians, summed over the last dim: (..., S) -> (...)."""
    post = diagonal_normal(post_mean, post_std)
    prior = diagonal_normal(prior_mean, prior_std)
    return kl_divergence(post, prior)  # (...)


def log_likelihood(mean: torch.Tensor, target: torch.Tensor, event_dims: int) -> torch.Tensor:
    """Mean log-likelihood of ``target`` under a unit-variance Normal centred at ``mean``.

    mean, target: (..., *event) with ``event_dims`` trailing dims forming one event (3 for
    images (C, H, W), 1 for vectors and rewards). The log-densities are summed over the event
    and averaged over the leading dims: a scalar. This is the ELBO's reconstruction term
    ``E[log p(o_t | s_t)]`` (and the reward term); notebook 01.
    """
    if mean.shape != target.shape:
        raise ValueError(f"mean {tuple(mean.shape)} and target {tuple(target.shape)} differ")
    # log N(x; mu, 1) = -(x - mu)^2 / 2 - log(2 pi) / 2, summed over the event's n values:
    # -sum (x - mu)^2 / 2 - n log(2 pi) / 2. Written out because Normal(mean, 1.0).log_prob
    # would broadcast a tensor of ones to the image's size and run pow/log/div over 30M values
    # per paper-sized batch (~1 s on a CPU); the constant is added after the sum for the same
    # reason. Same numbers up to rounding; NaN targets give a NaN loss.
    squared = (target - mean).square()  # (..., *event)
    n = 1
    if event_dims:
        squared = squared.sum(dim=tuple(range(-event_dims, 0)))  # (...)
        n = math.prod(mean.shape[mean.dim() - event_dims :])
    return -0.5 * squared.mean() - n * _HALF_LOG_2PI


def kl_loss(
    post_mean: torch.Tensor,
    post_std: torch.Tensor,
    prior_mean: torch.Tensor,
    prior_std: torch.Tensor,
    free_nats: float = 3.0,
) -> torch.Tensor:
    """The KL term of the ELBO with free nats: ``max(mean KL(post || prior), free_nats)``.

    Inputs (..., S); returns a scalar. The KL of each state is summed over its S dims, averaged
    over all leading dims, and only *then* clipped from below at ``free_nats``: below that level
    the term is constant, so its gradient is zero and the model may use those nats of information
    for free. (The TF1 code clipped per step before averaging; both train, but they differ in
    value, and this course follows the TF2 code.) Notebook 01 derives it.
    """
    kl = gaussian_kl(post_mean, post_std, prior_mean, prior_std).mean()  # ()
    return torch.clamp(kl, min=free_nats)


def info_nce_loss(scores: torch.Tensor) -> torch.Tensor:
    """Negative InfoNCE bound from a score matrix; lower is better. Notebook 02 derives it.

    ``scores[..., i, j] = log q(s_i | o_j)``: how well observation j's Gaussian explains state i.
    Column j's positive is its own state (the diagonal); the other states of the batch are its
    negatives. As in the authors' code (``google-research/dreamer``, ``compute_cpc_loss``), each
    observation's Gaussian is held fixed and the normaliser runs over the **states** i:

        mean_j [ scores[j, j] - logsumexp_i scores[i, j] ]  <=  0,

    so the log-stds of q(. | o_j), common to its whole column, cancel. (The paper's eq. 12 writes
    the normaliser over observations instead.) The estimate ``log N - loss`` is at most log N.
    Returns minus the bound averaged over all leading dims: a scalar.
    """
    if scores.dim() < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"scores must be square in its last two dims, got {tuple(scores.shape)}")
    positive = torch.diagonal(scores, dim1=-2, dim2=-1)  # (..., N)
    normaliser = torch.logsumexp(scores, dim=-2)  # (..., N): over the states i of each column j
    return -(positive - normaliser).mean()


def contrastive_scores(feat: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Score matrix of the contrastive objective for one set of candidates.

    feat (..., N, F): model states; mean, std (..., N, F): the Gaussians q(. | o_j) predicted from
    each observation's embedding. Returns (..., N, N) with ``[i, j] = log N(feat_i; mean_j, std_j)``
    summed over F.
    """
    dist = diagonal_normal(mean.unsqueeze(-3), std.unsqueeze(-3))  # batch (..., 1, N)
    return dist.log_prob(feat.unsqueeze(-2))  # (..., N, N)


def window_offsets(length: int, batch: int, time_window: int, batch_window: int) -> list:
    """The (time, batch) shifts of the authors' window of negatives, clipped to the batch shape:
    time shifts ``-tw//2 .. tw - tw//2 - 1`` and the same for the batch; (0, 0) is the positive."""
    tw, bw = min(time_window, length), min(batch_window, batch)
    return [
        (dt, db) for db in range(-(bw // 2), bw - bw // 2) for dt in range(-(tw // 2), tw - tw // 2)
    ]


def window_scores(
    feat: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    *,
    time_window: int = 30,
    batch_window: int = 10,
) -> torch.Tensor:
    """Scores of the authors' contrastive objective (``google-research/dreamer``, ``compute_cpc_loss``
    with ``cpc_contrast='window'``). Notebook 02.

    feat (T, B, F): posterior features; mean, std (T, B, F): the Gaussian q(. | o_tb) predicted
    from each observation's embedding, held fixed. Candidate states for observation (t, b) are
    the states at (t - dt, b - db) for every shift of ``window_offsets`` (wrapping around the
    batch, as ``torch.roll`` does). Returns (K, T, B): ``[k, t, b] = log q(s_k | o_tb)``.
    """
    dist = diagonal_normal(mean, std)  # one Gaussian per observation, batch (T, B)
    offsets = window_offsets(feat.shape[0], feat.shape[1], time_window, batch_window)
    return torch.stack([dist.log_prob(feat.roll(shifts, dims=(0, 1))) for shifts in offsets])


def window_info_nce_loss(
    feat: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    *,
    time_window: int = 30,
    batch_window: int = 10,
) -> torch.Tensor:
    """Negative contrastive bound with the authors' window of negatives, a scalar to minimise.

    For each observation o_j the normaliser runs over *states*: ``log q(s_j | o_j) - logsumexp_k
    log q(s_k | o_j)``, k over the K = time_window x batch_window candidates (the positive among
    them), so the bound is at most 0 and the estimate ``log K - loss`` at most log K (about 5.7
    nats for the paper's 300). Every score of a row comes from the same Gaussian, so its
    normalising constant (the log-stds) cancels: only where s_k falls under q(. | o_j) counts.
    """
    scores = window_scores(
        feat, mean, std, time_window=time_window, batch_window=batch_window
    )  # (K, T, B)
    positive = diagonal_normal(mean, std).log_prob(feat)  # (T, B)
    return -(positive - torch.logsumexp(scores, dim=0)).mean()


class FreeNatsWatch:
    """Warns once when the KL has stayed below ``free_nats`` for ``phases`` training phases.

    Below free nats the KL term is a constant: neither the prior nor the posterior gets any
    gradient from it, so the prior (the only thing imagination uses) does not learn and the
    actor trains on dreams that drift from reality. Small models and vector observations can
    sit there for a whole run; lowering ``free_nats`` fixes it (the CPU preset uses 1.0).
    """

    def __init__(self, free_nats: float, phases: int = 10) -> None:
        """Watch for ``phases`` phases in a row entirely below ``free_nats``."""
        self.free_nats, self.phases, self.streak, self.warned = free_nats, phases, 0, False

    def observe(self, fraction_below: float) -> bool:
        """Record one phase's fraction of updates with KL < free nats; True when it warns."""
        self.streak = self.streak + 1 if fraction_below >= 1.0 else 0
        if self.streak < self.phases or self.warned or self.free_nats <= 0:
            return False
        self.warned = True
        warnings.warn(
            f"KL(posterior || prior) has stayed below free_nats={self.free_nats} for "
            f"{self.streak} training phases: the prior gets no gradient, so imagination will not "
            f"follow reality. Lower it, e.g. --set free_nats=1.0 (see notebook 05).",
            RuntimeWarning,
            stacklevel=2,
        )
        return True
