"""Checker cases of lesson 00 (model-based RL): exercise 00.1, ``rollout_model``.

Each exercise is registered once, in ``EXERCISES`` at the end: its reference, its cases and the
plausible wrong versions that the tests feed its checker (each must fail).
"""

from __future__ import annotations

import torch

from dreamer_lite.course import mbrl
from dreamer_lite.course.checking import (
    SEED,
    Case,
    ExerciseSpec,
    close,
    result,
)
from dreamer_lite.course.mbrl import OneStepModel

# --- 00.1 rollout_model -------------------------------------------------------------------------


def rollout_model_cases() -> list[Case]:
    from dreamer_lite.course.mbrl import rollout_model as ref

    torch.manual_seed(SEED)
    model = OneStepModel(3, 2, units=8, layers=1)
    gen = torch.Generator().manual_seed(SEED)
    state, actions = torch.randn(4, 3, generator=gen), torch.randn(5, 4, 2, generator=gen)
    stack = "stack the start and the H predictions along a new dim 0"

    def run(f, state, actions):
        with torch.no_grad():
            out = f(model, state, actions)
        return result(out, (len(actions) + 1, *state.shape), "(H+1, N, X)", hint=stack)

    def shape(f):
        run(f, state, actions)
        return "(H+1, N, X) as expected"

    def start(f):
        hint = "the rollout begins with the state you were given, before any action"
        close(run(f, state, actions)[0], state, "entry 0 is not the start state", hint)
        return "entry 0 is the start state"

    def values(s, a, label):
        def case(f):
            hint = "feed the model its own previous prediction and the next action, one at a time"
            close(run(f, s, a), ref(model, s, a).detach(), "the predictions differ", hint)
            return label

        return case

    return [
        ("shape", shape),
        ("start", start),
        ("open loop", values(state, actions, "each prediction is fed back, as expected")),
        ("horizon 1", values(state, actions[:1], "one step works")),
        ("batch 1", values(state[:1], actions[:, :1], "works for N = 1")),
    ]


# --- plausible wrong versions (the tests check that each one fails) ---


def rollout(feed_back=True, keep_start=True, same_action=False):
    def rollout_model(model, state, actions):
        start, states = state, [state] if keep_start else []
        for action in actions:
            action = actions[0] if same_action else action
            state = model(state if feed_back else start, action)
            states.append(state)
        return torch.stack(states)

    return rollout_model


EXERCISES = [
    ExerciseSpec(
        "rollout_model",
        "00.1",
        params=("model", "state", "actions"),
        reference=mbrl.rollout_model,
        cases=rollout_model_cases,
        wrong={
            "not fed back": rollout(feed_back=False),
            "start missing": rollout(keep_start=False),
            "first action repeated": rollout(same_action=True),
        },
    ),
]
