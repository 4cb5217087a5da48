"""Checker cases of lesson 05 (training): exercises 05.1 ``updates_due`` and 05.2 ``update``.

Each exercise is registered once, in ``EXERCISES`` at the end: its reference, its cases and the
plausible wrong versions that the tests feed its checker (each must fail).
"""

from __future__ import annotations

import functools
import numbers
from typing import Any

import torch
from torch import nn

from dreamer_lite import schedule
from dreamer_lite.agent import Dreamer
from dreamer_lite.behavior import frozen, imagined_behavior, value_loss
from dreamer_lite.config import Config
from dreamer_lite.course.checking import (
    SEED,
    Case,
    CaseFailure,
    ExerciseSpec,
    Learner,
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


# --- 05.2 update --------------------------------------------------------------------------------

MODULES = ("world_model", "actor", "critic")  # in the order an update steps them
FIRST = {  # what to look at when a module differs after the first update
    "world_model": "step the world model first, on its own loss only (world_model.loss), with "
    "its own optimizer",
    "actor": "after the world-model step, imagine from the posteriors inside frozen(world model, "
    "critic) and step the actor on the actor loss, before the critic changes",
    "critic": "regress the critic's values of the current imagined states (detached) onto the "
    "detached returns, and step it with its own optimizer",
}
LATER = (
    "the first update matched, a later one did not: gradients add up until they are cleared, so "
    "clear each optimizer's before its backward; and use the agent's three optimizers, whose "
    "moments carry over from update to update"
)
CLIPPED = "clip each module's gradient norm to cfg.grad_clip between its backward and its step"


def _no_update(batch):
    raise RuntimeError("the checker's agent has no update(): write the three steps yourself")


def update_cases() -> list[Case]:
    X, A = 5, 2  # state observations and a 2-d action: a tiny, fast agent
    base = Config.tiny(
        device="cpu", obs_type="state", seq_len=6, batch_size=3, actor_lr=1e-3, value_lr=1e-3
    )

    def agent_and_batches(cfg: Config) -> tuple[Dreamer, list[dict[str, torch.Tensor]]]:
        torch.manual_seed(SEED)
        agent = Dreamer(cfg, (X,), A)
        gen = torch.Generator().manual_seed(SEED)
        batches = [
            {
                "obs": torch.randn(6, 3, X, generator=gen),
                "action": torch.rand(6, 3, A, generator=gen) * 2 - 1,
                "reward": torch.rand(6, 3, generator=gen),
            }
            for _ in range(3)
        ]
        return agent, batches

    def flat(agent: Dreamer) -> dict[str, torch.Tensor]:
        """Every parameter of each module, flattened into one vector (a copy)."""
        return {
            name: torch.cat([p.detach().flatten() for p in getattr(agent, name).parameters()])
            for name in MODULES
        }

    def learner_update(learner: Learner, agent: Dreamer, batch) -> Any:
        # The agent is meant to change, so only the batch is checked for in-place edits.
        call = functools.partial(learner.fn, agent)
        if hasattr(learner.fn, "__code__"):
            call.__code__ = learner.fn.__code__  # lets errors name the line of the function
        return Learner(call, ("batch",))(batch)

    def run(learner: Learner, updates: int, cfg: Config = base, hint: str = "") -> Any:
        """The same seeded updates on the learner's agent and the package's, comparing the
        parameters after each; returns what the learner's first update returned. A module that
        differs gets ``hint``, or else the hint for the first or for a later update."""
        mine, batches = agent_and_batches(cfg)
        reference, _ = agent_and_batches(cfg)
        mine.update = _no_update  # the package's update is what the learner writes
        first = None
        for i, batch in enumerate(batches[:updates]):
            before = flat(mine)
            torch.manual_seed(SEED + i)
            out = learner_update(learner, mine, batch)
            first = out if i == 0 else first
            got = flat(mine)
            if i == 0 and all(torch.equal(before[n], got[n]) for n in MODULES):
                returned = "returned None and " if out is None else ""
                hint = "each of the three modules takes one step of its optimizer on its loss"
                raise CaseFailure(f"your update {returned}changed no parameter", hint)
            torch.manual_seed(SEED + i)
            Dreamer.update(reference, batch)
            want = flat(reference)
            for name in MODULES:  # in update order: the first module that differs is the culprit
                error = (got[name] - want[name]).abs().max().item()
                if not error <= 1e-2 * cfg.model_lr:  # float32 rounding: 1% of one Adam step
                    problem = f"after update {i + 1}, your {name} differs from the package's"
                    why = hint or (FIRST[name] if i == 0 else LATER)
                    raise CaseFailure(f"{problem} (by {error:.2g})", why)
        return first

    def one(f):
        run(f, 1)
        return "world model, actor and critic as after Dreamer.update"

    def three(f):
        run(f, 3)
        return "still equal after three updates on new batches"

    def clipping(f):
        run(f, 2)  # first without clipping at work, so that a failure below is the clipping
        run(f, 2, base.replace(grad_clip=0.01), CLIPPED)
        return "equal with a grad_clip small enough to clip every step"

    def metrics(f):
        out = run(f, 1)
        if out is not None and not isinstance(out, dict):
            hint = "return a dict of scalar metrics (e.g. the three losses) or nothing"
            raise CaseFailure(f"your update returned a {type(out).__name__}", hint)
        return "returns a dict of metrics or None (the training loop logs the dict)"

    return [
        ("one update", one),
        ("three updates", three),
        ("gradient clipping", clipping),
        ("metrics", metrics),
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


def learner_update(mode):
    """A learner's update with plain optimizer steps; ``mode`` names one mistake (or none)."""

    def update(agent, batch):
        cfg = agent.cfg
        batch = {key: value.to(agent.device) for key, value in batch.items()}

        def step(opt, module, loss):
            if mode == "new optimizers every update":
                opt = torch.optim.Adam(module.parameters(), opt.defaults["lr"], eps=cfg.adam_eps)
            if mode != "no zero_grad":
                opt.zero_grad()
            loss.backward()
            if mode != "no clipping":
                nn.utils.clip_grad_norm_(module.parameters(), cfg.grad_clip)
            opt.step()

        joint = mode == "actor loss added to the model loss"  # one backward pass for both
        model_loss, _, post = agent.world_model.loss(batch)
        if not joint:
            step(agent.model_opt, agent.world_model, model_loss)
        with frozen(*(() if joint else (agent.world_model, agent.critic))):
            out = imagined_behavior(
                agent.world_model.rssm,
                agent.actor,
                agent.critic,
                agent.world_model.predict_reward,
                post,
                horizon=cfg.horizon,
                discount=cfg.discount,
                lambda_=cfg.lambda_,
            )
        feat = out["feat"][1:] if mode == "critic on the next states" else out["feat"][:-1]
        v_loss = value_loss(agent.critic(feat.detach()), out["returns"], out["weights"])
        if joint:
            step(agent.model_opt, agent.world_model, model_loss + out["actor_loss"])
            agent.actor_opt.step()  # the actor's gradient came with the same backward pass
            step(agent.value_opt, agent.critic, v_loss)
        elif mode == "critic before actor":
            step(agent.value_opt, agent.critic, v_loss)
            step(agent.actor_opt, agent.actor, out["actor_loss"])
        else:
            step(agent.actor_opt, agent.actor, out["actor_loss"])
            step(agent.value_opt, agent.critic, v_loss)
        return {"model_loss": model_loss.item(), "actor_loss": out["actor_loss"].item()}

    return update


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
    ExerciseSpec(
        "update",
        "05.2",
        params=("agent", "batch"),
        reference=Dreamer.update,
        cases=update_cases,
        wrong={
            "actor loss added to the model loss": learner_update(
                "actor loss added to the model loss"
            ),
            "no gradient clipping": learner_update("no clipping"),
            "no zero_grad": learner_update("no zero_grad"),
            "critic before actor": learner_update("critic before actor"),
            "critic on the next states": learner_update("critic on the next states"),
            "new optimizers every update": learner_update("new optimizers every update"),
        },
    ),
]
