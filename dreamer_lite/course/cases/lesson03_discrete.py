"""Checker cases of lesson 03 (discrete actions): exercise 03.3 ``straight_through_sample``.

Each exercise is registered once, in ``EXERCISES`` at the end: its reference, its cases and the
plausible wrong versions that the tests feed its checker (each must fail).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from dreamer_lite import behavior
from dreamer_lite.course.checking import (
    SEED,
    Case,
    CaseFailure,
    ExerciseSpec,
    gradients,
    result,
    same_gradients,
    seeded,
)

# --- 03.3 straight_through_sample ----------------------------------------------------------------


def straight_through_sample_cases() -> list[Case]:
    from dreamer_lite.behavior import straight_through_sample as ref

    gen = torch.Generator().manual_seed(SEED)
    logits = torch.randn(6, 4, generator=gen)
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    many = probs.log().expand(4000, 4).contiguous()

    def shapes(f):
        for shape in ((6, 4), (2, 3, 4), (4,)):
            x = logits.reshape(-1)[: torch.Size(shape).numel()].reshape(shape)
            hint = "one one-hot vector per row of logits, same shape"
            result(seeded(f, x), shape, "the logits' shape", dtype=torch.float32, hint=hint)
        return "same shape and dtype as the logits, also for (A,) and (B, T, A)"

    def one_hot(f):
        out = result(seeded(f, logits), logits.shape, "(B, A)").detach()
        if not (((out == 0) | (out == 1)).all() and (out.sum(-1) == 1).all()):
            hint = "the value must be the one-hot sample itself; only its gradient is the probs'"
            raise CaseFailure("the forward value is not exactly one-hot", hint)
        return "the forward value is exactly one-hot"

    def sampling(f):
        out = result(seeded(f, many), many.shape, "(B, A)").detach()
        if torch.equal(out, seeded(ref, many).detach()):
            return "same sample as the package for the same seed"
        if (out.mean(0) - probs).abs().max() > 0.03:
            hint = "draw the index from the categorical distribution, not the argmax"
            raise CaseFailure("the samples are not distributed as softmax(logits)", hint)
        return "samples follow softmax(logits) (drawn in another order: fine)"

    def backward(f):
        x = logits.clone().requires_grad_(True)
        w = torch.linspace(-2, 2, 24).reshape(6, 4)
        out = result(seeded(f, x), logits.shape, "(B, A)")
        expected = gradients(torch.softmax(x, -1) * w, [x])
        hint = "the gradient must be exactly that of softmax(logits), whatever the sample"
        same_gradients(gradients(out * w, [x]), expected, ["logits"], hint)
        return "backward equals d softmax(logits) / d logits"

    return [
        ("shapes", shapes),
        ("one-hot", one_hot),
        ("sampling", sampling),
        ("straight-through gradient", backward),
    ]


# --- plausible wrong versions (the tests check that each one fails) ---


def straight_through(mode):
    def straight_through_sample(logits):
        probs = torch.softmax(logits, -1)
        if mode == "probs":
            return probs
        flat = probs.reshape(-1, probs.shape[-1])
        if mode == "argmax":
            index = probs.argmax(-1)
        else:
            index = torch.multinomial(flat, 1).reshape(probs.shape[:-1])
        sample = F.one_hot(index, probs.shape[-1]).to(probs.dtype)
        return sample if mode == "detached" else sample + probs - probs.detach()

    return straight_through_sample


EXERCISES = [
    ExerciseSpec(
        "straight_through_sample",
        "03.3",
        params=("logits",),
        reference=behavior.straight_through_sample,
        cases=straight_through_sample_cases,
        wrong={
            "returns probs": straight_through("probs"),
            "detached sample": straight_through("detached"),
            "argmax, not a sample": straight_through("argmax"),
        },
    ),
]
