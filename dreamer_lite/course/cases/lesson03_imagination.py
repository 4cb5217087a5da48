"""Checker cases of lesson 03 (imagination): exercises 03.1 ``imagine`` and 03.2 ``actor_loss``.

Each exercise is registered once, in ``EXERCISES`` at the end: its reference, its cases and the
plausible wrong versions that the tests feed its checker (each must fail).
"""

from __future__ import annotations

import torch

from dreamer_lite import behavior
from dreamer_lite.behavior import Actor
from dreamer_lite.course.checking import (
    F64,
    SEED,
    Case,
    CaseFailure,
    ExerciseSpec,
    as_state,
    close,
    gradients,
    no_gradient,
    pair,
    result,
    same_gradients,
    seeded,
)
from dreamer_lite.rssm import RSSM, LatentState

# --- 03.1 imagine / 03.2 actor_loss --------------------------------------------------------------


def imagine_cases() -> list[Case]:
    from dreamer_lite.behavior import imagine as ref

    torch.manual_seed(SEED)
    rssm = RSSM(action_size=2, embed_size=6, deter_size=8, stoch_size=4, hidden_size=8)
    actor = Actor(12, 2, units=8, layers=1)
    gen = torch.Generator().manual_seed(SEED)
    leaves = [torch.randn(2, 3, n, generator=gen) for n in (8, 4, 4)]  # start (T, B, .)
    leaves.append(torch.rand(2, 3, 4, generator=gen) + 0.5)
    order = (
        "per step: action = actor(features).rsample(), then rssm.imagine_step(state, action) "
        "(the checker replays the random numbers in that order)"
    )

    def run(f, horizon=3, flat=False, grad=False):
        fields = [x.clone().requires_grad_(grad) for x in leaves]
        start = LatentState(*fields).flatten() if flat else LatentState(*fields)
        out = pair(seeded(f, rssm, actor, start, horizon), "a pair", "return (states, actions)")
        states = as_state(out[0], "your states")
        hint = "flatten the start to (N, .) and stack H+1 states, the start first"
        for name, x in zip(LatentState._fields, states):
            size = (horizon + 1, 6, 8 if name == "deter" else 4)
            result(x, size, "(H+1, N, size)", what=f"states.{name}", hint=hint)
        hint = "stack the H actions, action[t] taken in state t"
        actions = result(out[1], (horizon, 6, 2), "(H, N, A)", what="your actions", hint=hint)
        ref_states, ref_actions = seeded(ref, rssm, actor, LatentState(*fields), horizon)
        return fields, states, actions, ref_states, ref_actions

    def shapes(f):
        run(f)
        return "states (H+1, N, .) and actions (H, N, A)"

    def start(f):
        _, states, _, ref_states, _ = run(f)
        hint = "the trajectory begins with the start state itself"
        close(states.feat[0], ref_states.feat[0], "entry 0 is not the (flattened) start", hint)
        return "entry 0 is the start"

    def values(horizon, flat, label):
        def case(f):
            _, states, actions, ref_states, ref_actions = run(f, horizon, flat)
            close(actions, ref_actions, "the actions differ", order)
            close(states.feat, ref_states.feat, "the imagined states differ", order)
            return label

        return case

    def detached_start(f):
        fields, states, actions, _, _ = run(f, grad=True)
        if not no_gradient(states.feat.sum() + actions.sum(), fields):
            hint = "behaviour learning must not change the representation: detach the start"
            raise CaseFailure("gradient flows back into the start state", hint)
        return "no gradient reaches the start state"

    def through_dynamics(f):
        _, states, _, ref_states, _ = run(f)
        params = list(actor.parameters())
        got = gradients(states.feat[-1], params)
        if all((g == 0).all() for g in got):
            hint = "use rsample(), not sample() or .detach(), so the actions stay differentiable"
            raise CaseFailure("no gradient reaches the actor from the last imagined state", hint)
        close(states.feat, ref_states.feat, "cannot compare gradients: the states differ", order)
        hint = (
            "give the actor detached features: its gradient should come only through the actions "
            "it chose and the dynamics"
        )
        got, want = (
            torch.cat([g.flatten() for g in gs])
            for gs in (got, gradients(ref_states.feat[-1], params))
        )
        close(got, want, "the actor's gradient differs", hint, rtol=1e-4)
        return "the actor's gradient flows through the dynamics"

    same = "same trajectory as the package for the same seed"
    return [
        ("shapes", shapes),
        ("start", start),
        ("values (same seed)", values(3, False, same)),
        ("start detached", detached_start),
        ("actions reparameterised", through_dynamics),
        ("horizon 1", values(1, False, "works for H = 1")),
        ("flat start", values(2, True, "works for a start of shape (N, .)")),
    ]


def actor_loss_cases() -> list[Case]:
    from dreamer_lite.behavior import actor_loss as ref

    gen = torch.Generator().manual_seed(SEED)
    returns = torch.randn(5, 4, generator=gen, dtype=F64)
    weights = torch.rand(5, 4, generator=gen, dtype=F64).cumprod(0)
    weights[2, 1] = weights[4, 3] = 0.0
    hint = "average weights * returns over all H x N entries"
    sign = "the sign: the optimiser minimises the loss, and we want high returns"

    def scalar(f):
        result(f(returns, weights), (), dtype=F64, hint=hint)
        return "a scalar"

    def values(r, w, label):
        def case(f):
            close(result(f(r, w), ()), ref(r, w), "the loss differs", hint, ((-ref(r, w), sign),))
            return label

        return case

    def grad_of(f):
        x = returns.clone().requires_grad_(True)
        return gradients(result(f(x, weights), ()), [x])[0]

    def signs(f):
        if (grad_of(f)[weights > 0] >= 0).any():
            hint = "the optimiser minimises: the loss must fall when returns rise"
            raise CaseFailure("minimising your loss does not raise every weighted return", hint)
        return "minimising the loss raises the returns"

    def weighting(f):
        x = returns.clone().requires_grad_(True)
        out, expected = result(f(x, weights), ()), ref(x, weights)
        hint = "each return counts with its weight (a zero weight: no gradient)"
        got, want = gradients(out, [x]), gradients(expected, [x])
        return same_gradients(got, want, ["returns"], hint, (out, expected))

    single = values(returns[:1, :1], weights[:1, :1], "works for a single entry")
    return [
        ("scalar", scalar),
        ("values", values(returns, weights, "-mean(weights * returns)")),
        ("sign", signs),
        ("weights", weighting),
        ("horizon 1, batch 1", single),
    ]


# --- plausible wrong versions (the tests check that each one fails) ---


def imag(detach_actions=False, detach_start=True, detach_feat=True, keep_start=True):
    def imagine(rssm, actor, start, horizon):
        state = start.flatten()
        state = state.detach() if detach_start else state
        states, actions = [state] if keep_start else [], []
        for _ in range(horizon):
            feat = state.feat.detach() if detach_feat else state.feat
            action = actor(feat).rsample()
            action = action.detach() if detach_actions else action
            state = rssm.imagine_step(state, action)
            states.append(state)
            actions.append(action)
        return LatentState.stack(states), torch.stack(actions)

    return imagine


EXERCISES = [
    ExerciseSpec(
        "imagine",
        "03.1",
        params=("rssm", "actor", "start", "horizon"),
        reference=behavior.imagine,
        cases=imagine_cases,
        wrong={
            "actions detached": imag(detach_actions=True),
            "start not detached": imag(detach_start=False),
            "actor sees attached features": imag(detach_feat=False),
            "start missing": imag(keep_start=False),
        },
    ),
    ExerciseSpec(
        "actor_loss",
        "03.2",
        params=("returns", "weights"),
        reference=behavior.actor_loss,
        cases=actor_loss_cases,
        wrong={
            "wrong sign": lambda r, w: (w * r).mean(),
            "no weights": lambda r, w: -r.mean(),
            "sum, not mean": lambda r, w: -(w * r).sum(),
        },
    ),
]
