"""Checker cases of lesson 01 (RSSM): exercises 01.1 ``imagine_step`` and 01.2 ``observe_step``.

Each exercise is registered once, in ``EXERCISES`` at the end: its reference, its cases and the
plausible wrong versions that the tests feed its checker (each must fail).
"""

from __future__ import annotations

import torch
from torch.distributions import Normal
from torch.nn import functional as F

from dreamer_lite.course.checking import (
    REPARAM,
    SEED,
    SIZES,
    Case,
    CaseFailure,
    ExerciseSpec,
    close,
    no_gradient,
    pair,
    reparameterised,
    seeded,
    state_result,
)
from dreamer_lite.rssm import RSSM, LatentState


def _imagine_step(rssm: RSSM, prev_state: LatentState, prev_action: torch.Tensor) -> LatentState:
    return rssm.imagine_step(prev_state, prev_action)


def _observe_step(rssm: RSSM, prev_state: LatentState, prev_action, embed):
    return rssm.observe_step(prev_state, prev_action, embed)


# --- 01.1 / 01.2 RSSM steps ---------------------------------------------------------------------


def _rssm_parts(batch: int, seed: int = SEED):
    """A small RSSM (A=2, E=6, D=8, S=4), a previous state, an action and an embedding (B, .)."""
    torch.manual_seed(seed)
    rssm = RSSM(action_size=2, embed_size=6, deter_size=8, stoch_size=4, hidden_size=8)
    gen = torch.Generator().manual_seed(seed)
    deter, stoch, mean = (torch.randn(batch, n, generator=gen) for n in (8, 4, 4))
    prev = LatentState(deter, stoch, mean, torch.rand(batch, 4, generator=gen) + 0.5)
    action = torch.rand(batch, 2, generator=gen) * 2 - 1
    embed = torch.randn(batch, 6, generator=gen)
    return rssm, prev, action, embed


DETER_HINT = (
    "concatenate [stoch, action], pass it through rssm.img_in (its ELU included), then "
    "rssm.gru with the previous deter as the hidden state"
)
STD_HINT = "std = softplus(raw std) + rssm.min_std: the floor keeps it from collapsing"


def imagine_step_cases() -> list[Case]:
    def parts(f, batch):
        rssm, prev, action, _ = _rssm_parts(batch)
        out = state_result(seeded(f, rssm, prev, action), batch, rssm)
        return rssm, out, seeded(rssm.imagine_step, prev, action)

    def shapes(f):
        parts(f, 5)
        return "a LatentState with deter (B, D) and stoch, mean, std (B, S)"

    def field(name, hint, label):
        def case(f):
            _, out, ref = parts(f, 5)
            close(getattr(out, name), getattr(ref, name), f"{name} differs", hint)
            return label

        return case

    def sample(f):
        rssm, out, ref = parts(f, 512)
        label = reparameterised(out.stoch, out.mean, out.std, ref.stoch, "stoch")
        if no_gradient(out.stoch, [rssm.img_out[-1].weight]):
            raise CaseFailure("no gradient flows from stoch into the network", REPARAM)
        return label

    def batch1(f):
        _, out, ref = parts(f, 1)
        for name in ("deter", "mean", "std"):  # the sample itself: see "sample"
            close(getattr(out, name), getattr(ref, name), f"{name} differs for B = 1", SIZES)
        return "works for B = 1"

    mean_hint = "the first half of rssm.img_out(deter) is the mean"
    return [
        ("shapes", shapes),
        ("deter", field("deter", DETER_HINT, "h_t from the GRU as expected")),
        ("mean", field("mean", mean_hint, "prior mean from rssm.img_out(h_t)")),
        ("std", field("std", STD_HINT, "softplus std with its floor min_std")),
        ("sample", sample),
        ("batch 1", batch1),
    ]


def observe_step_cases() -> list[Case]:
    def parts(f, batch, embed_scale=1.0):
        rssm, prev, action, embed = _rssm_parts(batch)
        out = pair(
            seeded(f, rssm, prev, action, embed * embed_scale), "a pair", "return (post, prior)"
        )
        post = state_result(out[0], batch, rssm, "your posterior")
        prior = state_result(out[1], batch, rssm, "your prior")
        ref_post, ref_prior = seeded(rssm.observe_step, prev, action, embed * embed_scale)
        return rssm, post, prior, ref_post, ref_prior

    def shapes(f):
        parts(f, 5)
        return "(posterior, prior), two LatentStates of the right shapes"

    def prior(f):
        _, _, prior, ref_post, ref_prior = parts(f, 5)
        hint = "the prior is exactly one imagine step from the previous state"
        swapped = ((ref_post.mean, "you returned (prior, posterior): the order is (post, prior)"),)
        close(prior.mean, ref_prior.mean, "the prior's mean differs", hint, swapped)
        for name in ("deter", "std"):
            close(
                getattr(prior, name), getattr(ref_prior, name), f"the prior's {name} differs", hint
            )
        return "the prior is the imagine step"

    def shared(f):
        _, post, prior, _, _ = parts(f, 5)
        hint = "the posterior shares the prior's h_t: only z_t sees the frame"
        close(post.deter, prior.deter, "the posterior's deter differs from the prior's", hint)
        return "the posterior shares the prior's deter h_t"

    def posterior(f):
        _, post, _, ref_post, _ = parts(f, 5)
        hint = "rssm.obs_out on the concatenation [deter, embed], then split in mean and raw std"
        close(post.mean, ref_post.mean, "the posterior mean differs", hint)
        close(post.std, ref_post.std, "the posterior std differs", STD_HINT)
        return "posterior mean and std from rssm.obs_out([h_t, e_t])"

    def uses_embed(f):
        a, b = parts(f, 5)[1], parts(f, 5, embed_scale=-1.0)[1]
        if torch.allclose(a.mean, b.mean):
            problem = "the posterior does not change when the frame's embedding does"
            raise CaseFailure(problem, "q(z_t | h_t, e_t) must look at the embedding")
        return "the posterior depends on the embedding"

    def samples(f):
        rssm, post, prior, ref_post, ref_prior = parts(f, 512)
        reparameterised(prior.stoch, prior.mean, prior.std, ref_prior.stoch, "the prior's stoch")
        label = reparameterised(post.stoch, post.mean, post.std, ref_post.stoch, "the post's stoch")
        if no_gradient(post.stoch, [rssm.obs_out[-1].weight]):
            raise CaseFailure(
                "no gradient flows from the posterior's stoch into the network", REPARAM
            )
        return label

    def batch1(f):
        _, post, _, ref_post, _ = parts(f, 1)
        close(post.mean, ref_post.mean, "the posterior differs for B = 1", SIZES)
        close(post.std, ref_post.std, "the posterior differs for B = 1", SIZES)
        return "works for B = 1"

    return [
        ("shapes", shapes),
        ("prior", prior),
        ("shared deter", shared),
        ("posterior", posterior),
        ("uses the frame", uses_embed),
        ("samples", samples),
        ("batch 1", batch1),
    ]


# --- plausible wrong versions (the tests check that each one fails) ---


def gaussian(stats, rssm, min_std=True, reparam=True):
    mean, raw_std = stats.chunk(2, dim=-1)
    std = F.softplus(raw_std) + (rssm.min_std if min_std else 0.0)
    stoch = Normal(mean, std).rsample() if reparam else Normal(mean, std).sample()
    return mean, std, stoch


def img_step(elu=True, min_std=True, reparam=True, action_first=False):
    def imagine_step(rssm, prev_state, prev_action):
        pair = [prev_action, prev_state.stoch] if action_first else [prev_state.stoch, prev_action]
        layer = rssm.img_in if elu else rssm.img_in[0]
        deter = rssm.gru(layer(torch.cat(pair, -1)), prev_state.deter)
        mean, std, stoch = gaussian(rssm.img_out(deter), rssm, min_std, reparam)
        return LatentState(deter, stoch, mean, std)

    return imagine_step


def obs_step(use_embed=True, swap=False, deter_from_prev=False):
    def observe_step(rssm, prev_state, prev_action, embed):
        prior = rssm.imagine_step(prev_state, prev_action)
        deter = prev_state.deter if deter_from_prev else prior.deter
        embed = embed if use_embed else torch.zeros_like(embed)
        mean, std, stoch = gaussian(rssm.obs_out(torch.cat([deter, embed], -1)), rssm)
        post = LatentState(deter, stoch, mean, std)
        return (prior, post) if swap else (post, prior)

    return observe_step


EXERCISES = [
    ExerciseSpec(
        "imagine_step",
        "01.1",
        params=("rssm", "prev_state", "prev_action"),
        reference=_imagine_step,
        cases=imagine_step_cases,
        wrong={
            "missing ELU": img_step(elu=False),
            "std without min_std": img_step(min_std=False),
            "sample() not rsample()": img_step(reparam=False),
            "[action, stoch]": img_step(action_first=True),
        },
    ),
    ExerciseSpec(
        "observe_step",
        "01.2",
        params=("rssm", "prev_state", "prev_action", "embed"),
        reference=_observe_step,
        cases=observe_step_cases,
        wrong={
            "posterior ignores the embedding": obs_step(use_embed=False),
            "(prior, post) swapped": obs_step(swap=True),
            "posterior from the old deter": obs_step(deter_from_prev=True),
        },
    ),
]
