"""Checker cases of lesson 02 (contrastive objective): exercises 02.1 ``contrastive_scores`` and
02.2 ``info_nce_loss``.

Each exercise is registered once, in ``EXERCISES`` at the end: its reference, its cases and the
plausible wrong versions that the tests feed its checker (each must fail).
"""

from __future__ import annotations

import torch
from torch.distributions import Independent, Normal

from dreamer_lite import objectives
from dreamer_lite.course.checking import (
    F64,
    NO_GRAD,
    SEED,
    Case,
    ExerciseSpec,
    close,
    gaussians,
    gradients,
    result,
    same_gradients,
)

# --- 02.1 contrastive_scores / 02.2 info_nce_loss -----------------------------------------------


def contrastive_scores_cases() -> list[Case]:
    from dreamer_lite.objectives import contrastive_scores as ref

    feat, _, mean, std = gaussians(5, 3)  # (N, F)
    hint = (
        "entry [i, j] is the log-density of state i under observation j's Gaussian, summed over "
        "F: broadcast so that every i meets every j"
    )

    def shape(f):
        result(f(feat, mean, std), (5, 5), "(N, N)", dtype=F64, hint=hint)
        return "(N, N) as expected"

    def values(f):
        expected = ref(feat, mean, std)
        swapped = ((expected.T, "rows and columns are swapped: row i is state i"),)
        out = result(f(feat, mean, std), (5, 5), "(N, N)")
        close(out, expected, "the scores differ", hint, swapped)
        return "[i, j] = log N(feat_i; mean_j, std_j)"

    def leading(f):
        scale = torch.tensor([1.0, 0.5], dtype=F64).view(2, 1, 1)
        args = [x.expand(2, 5, 3) * scale for x in (feat, mean, std)]  # (T, N, F)
        hint = "index the candidate dims from the end (-2, -1), not from the front"
        close(result(f(*args), (2, 5, 5), "(T, N, N)"), ref(*args), "the scores differ", hint)
        return "leading dims (T, N, F) -> (T, N, N)"

    def one(f):
        args = (feat[:1], mean[:1], std[:1])
        close(result(f(*args), (1, 1), "(N, N)"), ref(*args), "the score differs for N = 1", hint)
        return "works for N = 1"

    def grad(f):
        args = [x.clone().requires_grad_(True) for x in (feat, mean, std)]
        w = torch.linspace(-1, 1, 25, dtype=F64).reshape(5, 5)
        out, expected = result(f(*args), (5, 5), "(N, N)") * w, ref(*args) * w
        got, want = gradients(out, args), gradients(expected, args)
        return same_gradients(got, want, ["feat", "mean", "std"], NO_GRAD, (out, expected))

    return [
        ("shape", shape),
        ("values", values),
        ("leading dims", leading),
        ("N = 1", one),
        ("gradient", grad),
    ]


def info_nce_loss_cases() -> list[Case]:
    from dreamer_lite.objectives import info_nce_loss as ref

    gen = torch.Generator().manual_seed(SEED)
    scores = torch.randn(5, 5, generator=gen, dtype=F64) * 2
    scores = scores + torch.linspace(0, 3, 5, dtype=F64)  # columns differ: not symmetric
    hint = (
        "for each observation j (a column): its diagonal score minus the log-sum-exp of column j "
        "over the states i; average, and negate (a loss)"
    )
    stable = "use torch.logsumexp, which never overflows"

    def scalar(f):
        result(f(scores), (), dtype=F64, hint=hint)
        return "a scalar"

    def values(f):
        diag = torch.diagonal(scores)
        wrong_axis = -(diag - torch.logsumexp(scores, dim=1)).mean()
        wrong = (
            (wrong_axis, "the normaliser runs over the wrong axis: over the states i, dim -2"),
            (-diag.mean(), "the bound needs its normaliser over the negatives"),
        )
        close(result(f(scores), ()), ref(scores), "the loss differs", hint, wrong)
        return "the negative InfoNCE bound as expected"

    def uniform(f):
        flat = torch.zeros(4, 4, dtype=F64)
        close(result(f(flat), ()), ref(flat), "uninformative scores should give log N", hint)
        return "uninformative scores give log N"

    def leading(f):
        batch = torch.stack([scores, scores.T * 0.5])  # (T, N, N)
        hint = "take the diagonal and the normaliser over the last two dims, average the rest"
        close(result(f(batch), ()), ref(batch), "the loss differs for scores (T, N, N)", hint)
        return "scores (T, N, N) averaged over T as well"

    def one(f):
        single = scores[:1, :1]
        close(result(f(single), ()), ref(single), "N = 1 should give 0", hint)
        return "N = 1 gives 0"

    def large(f):
        big = scores * 400
        out = result(f(big), (), finite_hint=stable)
        close(out, ref(big), "the loss differs for large scores", hint)
        return "large scores stay finite"

    def grad(f):
        x = scores.clone().requires_grad_(True)
        out, expected = result(f(x), ()), ref(x)
        got, want = gradients(out, [x]), gradients(expected, [x])
        return same_gradients(got, want, ["scores"], NO_GRAD, (out, expected))

    return [
        ("scalar", scalar),
        ("values", values),
        ("uninformative", uniform),
        ("leading dims", leading),
        ("N = 1", one),
        ("large scores", large),
        ("gradient", grad),
    ]


# --- plausible wrong versions (the tests check that each one fails) ---


def scores_fn(mode):
    def contrastive_scores(feat, mean, std):
        if mode == "transposed":
            return objectives.contrastive_scores(feat, mean, std).transpose(-1, -2)
        if mode == "no sum":
            return Normal(mean.unsqueeze(-3), std.unsqueeze(-3)).log_prob(feat.unsqueeze(-2))
        dist = Independent(Normal(mean.unsqueeze(-3), std.unsqueeze(-3) ** 2), 1)
        return dist.log_prob(feat.unsqueeze(-2))  # variance used as the scale

    return contrastive_scores


def nce(mode):
    def info_nce_loss(scores):
        positive = torch.diagonal(scores, dim1=-2, dim2=-1)
        if mode == "wrong axis":
            normaliser = torch.logsumexp(scores, dim=-1)
        elif mode == "no normaliser":
            normaliser = 0.0
        elif mode == "naive":
            normaliser = torch.log(torch.exp(scores).sum(-2))
        else:
            normaliser = torch.logsumexp(scores, dim=-2)
        bound = (positive - normaliser).mean()
        return bound if mode == "not negated" else -bound

    return info_nce_loss


EXERCISES = [
    ExerciseSpec(
        "contrastive_scores",
        "02.1",
        params=("feat", "mean", "std"),
        reference=objectives.contrastive_scores,
        cases=contrastive_scores_cases,
        wrong={
            "transposed": scores_fn("transposed"),
            "not summed over F": scores_fn("no sum"),
            "variance as scale": scores_fn("variance"),
        },
    ),
    ExerciseSpec(
        "info_nce_loss",
        "02.2",
        params=("scores",),
        reference=objectives.info_nce_loss,
        cases=info_nce_loss_cases,
        wrong={
            "logsumexp over the wrong axis": nce("wrong axis"),
            "missing normaliser": nce("no normaliser"),
            "naive log-sum-exp overflows": nce("naive"),
            "not negated": nce("not negated"),
        },
    ),
]
