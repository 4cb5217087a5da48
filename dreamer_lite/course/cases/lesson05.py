"""Checker cases of lesson 05 (training): exercise 05.1 ``updates_due``.

Each exercise is registered once, in ``EXERCISES`` at the end: its reference, its cases and the
plausible wrong versions that the tests feed its checker (each must fail).
"""

from __future__ import annotations

import numbers

from dreamer_lite import schedule
from dreamer_lite.course.checking import (
    Case,
    CaseFailure,
    ExerciseSpec,
    pair,
)

# --- 05.1 updates_due ---------------------------------------------------------------------------


def updates_due_cases() -> list[Case]:
    from dreamer_lite.schedule import updates_due as ref

    def ints(out) -> tuple[int, int]:
        out = pair(out, "a pair of ints", "return (updates, next_train)")
        if not all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in out):
            hint = "return plain Python ints (updates, next_train)"
            raise CaseFailure("your result should hold two ints", hint)
        return int(out[0]), int(out[1])

    def call(args, label, hint):
        def case(f):
            if ints(f(*args)) != ref(*args):
                problem = (
                    f"wrong result for (env_steps, next_train, train_every, train_steps) = {args}"
                )
                raise CaseFailure(problem, hint)
            return label

        return case

    def types(f):
        ints(f(0, 0, 1000, 100))
        return "a pair of ints (updates, next_train)"

    def run(f):
        state, ref_state, total, ref_total = 0, 0, 0, 0
        for env_steps in range(0, 10_000, 8):
            updates, state = ints(f(env_steps, state, 1000, 100))
            ref_updates, ref_state = ref(env_steps, ref_state, 1000, 100)
            total, ref_total = total + updates, ref_total + ref_updates
        if total != ref_total:
            problem = f"a run of 10k env steps (8 per call) got {total} updates, not {ref_total}"
            raise CaseFailure(problem, "after a phase, next_train moves forward")
        return f"a run of 10k env steps gets {ref_total} updates"

    due = "a phase is due once env_steps has reached next_train (>=)"
    return [
        ("types", types),
        ("not due yet", call((500, 1000, 1000, 100), "no updates before next_train", due)),
        ("due exactly", call((1000, 1000, 1000, 100), "due once env_steps reaches it", due)),
        (
            "late",
            call(
                (1300, 1000, 1000, 100),
                "next phase counted from now",
                "count the next phase from the current env_steps",
            ),
        ),
        (
            "first call",
            call(
                (0, 0, 500, 7),
                "trains at once, next after train_every",
                "the first phase comes before any policy step",
            ),
        ),
        ("whole run", run),
    ]


# --- plausible wrong versions (the tests check that each one fails) ---


def schedule_fn(mode):
    def updates_due(env_steps, next_train, train_every, train_steps):
        due = env_steps > next_train if mode == ">" else env_steps >= next_train
        if not due:
            return 0, next_train
        if mode == "never resets":
            return train_steps, next_train
        if mode == "from next_train":
            return train_steps, next_train + train_every
        return train_steps, env_steps + train_every

    return updates_due


EXERCISES = [
    ExerciseSpec(
        "updates_due",
        "05.1",
        params=("env_steps", "next_train", "train_every", "train_steps"),
        reference=schedule.updates_due,
        cases=updates_due_cases,
        wrong={
            "never resets next_train": schedule_fn("never resets"),
            "> instead of >=": schedule_fn(">"),
            "next from next_train": schedule_fn("from next_train"),
        },
    ),
]
