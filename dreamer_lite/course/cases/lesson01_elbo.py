"""Checker cases of lesson 01 (the ELBO): exercises 01.3 ``kl_loss`` and 01.4 ``log_likelihood``.

Each exercise is registered once, in ``EXERCISES`` at the end: its reference, its cases and the
plausible wrong versions that the tests feed its checker (each must fail).
"""

from __future__ import annotations

import torch
from torch.distributions import Normal

from dreamer_lite import objectives
from dreamer_lite.course.checking import (
    F64,
    NO_GRAD,
    SEED,
    SIZES,
    Case,
    CaseFailure,
    ExerciseSpec,
    close,
    gaussians,
    gradients,
    no_gradient,
    result,
    same_gradients,
)

# --- 01.3 kl_loss / 01.4 log_likelihood ---------------------------------------------------------


def _with_kl(kls: list[float], free_nats: float) -> list:
    """Arguments whose per-state KLs are exactly ``kls``: KL(N(m, 1) || N(0, 1)) = m^2 / 2."""
    mean = torch.tensor(kls, dtype=F64).mul(2).sqrt().unsqueeze(-1)  # (N, 1)
    ones = torch.ones_like(mean)
    return [mean, ones, torch.zeros_like(mean), ones.clone(), free_nats]


def kl_loss_cases() -> list[Case]:
    from dreamer_lite.objectives import gaussian_kl
    from dreamer_lite.objectives import kl_loss as ref

    inputs = gaussians(3, 4, 5)  # (T, B, S)
    hint = "KL(post || prior) of diagonal Gaussians, summed over S, averaged over the other dims"
    after = "average the per-state KLs first, then apply the free-nats floor once"

    def scalar(f):
        result(f(*inputs, 0.0), (), dtype=F64, hint=hint)
        return "a scalar"

    def direction(f):
        out = result(f(*inputs, 0.0), ())
        reverse = gaussian_kl(*inputs[2:], *inputs[:2]).mean()
        wrong = ((reverse, "this is KL(prior || post): the posterior comes first"),)
        close(out, ref(*inputs, 0.0), "the KL differs (free_nats = 0)", hint, wrong)
        return "KL(post || prior), summed over S and averaged over the rest"

    def free(kls, label):
        def case(f):
            args = _with_kl(kls, 3.0)
            close(result(f(*args), ()), ref(*args), "the loss differs", after)
            return label

        return case

    def flat_below(f):
        args = _with_kl([0.2, 1.0, 0.4], 3.0)
        for x in args[:2]:
            x.requires_grad_(True)
        out = result(f(*args), ())
        problem = "below free nats the loss should be the constant free_nats"
        close(out, ref(*args), problem, "clip the KL from below at free_nats")
        if not no_gradient(out, args[:2]):
            problem = "the loss still has a gradient below free nats"
            raise CaseFailure(problem, "a clamp at free_nats is flat there: the nats are free")
        return "constant free_nats, zero gradient below the threshold"

    def grad_above(f):
        args = [x.clone().requires_grad_(True) for x in inputs]
        out, expected = result(f(*args, 0.5), ()), ref(*args, 0.5)
        names = ["post_mean", "post_std", "prior_mean", "prior_std"]
        got, want = gradients(out, args), gradients(expected, args)
        return same_gradients(got, want, names, NO_GRAD, (out, expected))

    def batch1(f):
        args = [x[:1, :1] for x in inputs]
        close(result(f(*args, 0.0), ()), ref(*args, 0.0), "the loss differs for one state", SIZES)
        return "works for a single state"

    return [
        ("scalar", scalar),
        ("direction", direction),
        ("below free nats", flat_below),
        ("free nats after averaging", free([0.5, 10.0], "mean above free nats: the mean KL")),
        ("free nats after averaging (2)", free([1.0, 4.0], "mean below free nats: free_nats")),
        ("gradient above free nats", grad_above),
        ("batch 1", batch1),
    ]


def log_likelihood_cases() -> list[Case]:
    from dreamer_lite.objectives import log_likelihood as ref

    gen = torch.Generator().manual_seed(SEED)
    images, vectors, rewards = (
        [torch.randn(*shape, generator=gen, dtype=F64) for _ in ("mean", "target")]
        for shape in ((2, 3, 3, 4, 4), (4, 3, 5), (4, 3))
    )
    hint = (
        "sum log N(target; mean, 1) (normalising constant included) over the last event_dims "
        "dims, then average over the leading dims"
    )

    def scalar(f):
        result(f(*images, 3), (), dtype=F64, hint=hint)
        return "a scalar"

    def values(data, dims, label):
        def case(f):
            close(result(f(*data, dims), ()), ref(*data, dims), "the log-likelihood differs", hint)
            return label

        return case

    def grad(f):
        mean = vectors[0].clone().requires_grad_(True)
        out, expected = result(f(mean, vectors[1], 1), ()), ref(mean, vectors[1], 1)
        got, want = gradients(out, [mean]), gradients(expected, [mean])
        return same_gradients(got, want, ["mean"], NO_GRAD, (out, expected))

    return [
        ("scalar", scalar),
        ("images (event_dims=3)", values(images, 3, "(T, B, C, H, W) frames as expected")),
        ("vectors (event_dims=1)", values(vectors, 1, "(T, B, X) vectors as expected")),
        ("rewards (event_dims=0)", values(rewards, 0, "(T, B) rewards as expected")),
        ("batch 1", values([x[:1, :1] for x in images], 3, "works for one frame")),
        ("gradient", grad),
    ]


# --- plausible wrong versions (the tests check that each one fails) ---


def kl(per_element=False, reverse=False, floor=True, mean=True):
    def kl_loss(post_mean, post_std, prior_mean, prior_std, free_nats):
        post, prior = (post_mean, post_std), (prior_mean, prior_std)
        value = objectives.gaussian_kl(*(prior + post if reverse else post + prior))
        if per_element:
            return torch.clamp(value, min=free_nats).mean()
        value = value.mean() if mean else value.sum()
        return torch.clamp(value, min=free_nats) if floor else value

    return kl_loss


def log_lik(mode):
    def log_likelihood(mean, target, event_dims):
        if mode == "sum all":
            return Normal(mean, 1.0).log_prob(target).sum()
        if mode == "last dim":
            return Normal(mean, 1.0).log_prob(target).sum(-1).mean()
        dims = tuple(range(mean.dim() - event_dims, mean.dim()))
        return (-0.5 * (target - mean) ** 2).sum(dims).mean()  # no normalising constant

    return log_likelihood


EXERCISES = [
    ExerciseSpec(
        "kl_loss",
        "01.3",
        params=("post_mean", "post_std", "prior_mean", "prior_std", "free_nats"),
        reference=objectives.kl_loss,
        cases=kl_loss_cases,
        wrong={
            "free nats per element": kl(per_element=True),
            "KL(prior || post)": kl(reverse=True),
            "no free nats": kl(floor=False),
            "summed, not averaged": kl(mean=False),
        },
    ),
    ExerciseSpec(
        "log_likelihood",
        "01.4",
        params=("mean", "target", "event_dims"),
        reference=objectives.log_likelihood,
        cases=log_likelihood_cases,
        wrong={
            "summed over everything": log_lik("sum all"),
            "wrong event dims": log_lik("last dim"),
            "no normalising constant": log_lik("no constant"),
        },
    ),
]
