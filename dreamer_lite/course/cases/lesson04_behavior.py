"""Checker cases of lesson 04 (value estimators): exercise 04.3 ``behavior_losses``, the actor and
value losses of Dreamer built from imagination, lambda-returns and discount weights.

Each exercise is registered once, in ``EXERCISES`` at the end: its reference, its cases and the
plausible wrong versions that the tests feed its checker (each must fail).

The losses are compared with the package's on the same seeded imagination, and their gradients
are routed by hand: the actor loss may reach only the actor, the value loss only the critic.
"""

from __future__ import annotations

import torch

from dreamer_lite.agent import Dreamer
from dreamer_lite.behavior import (
    Actor,
    Critic,
    discount_weights,
    frozen,
    imagine,
    imagined_behavior,
    value_loss,
)
from dreamer_lite.config import Config
from dreamer_lite.course.checking import (
    SEED,
    Case,
    CaseFailure,
    ExerciseSpec,
    close,
    gradients,
    pair,
    result,
    seeded,
)
from dreamer_lite.returns import lambda_return
from dreamer_lite.rssm import LatentState
from dreamer_lite.world_model import WorldModel

# --- 04.3 behavior_losses -----------------------------------------------------------------------


def behavior_losses(
    world_model: WorldModel, actor: Actor, critic: Critic, start: LatentState, cfg: Config
) -> tuple[torch.Tensor, torch.Tensor]:
    """The package's two behaviour losses with the learner's signature: ``imagined_behavior``
    inside ``frozen(world_model, critic)`` for the actor loss, then ``value_loss`` of the critic
    on the detached current states (as ``Dreamer.update`` steps 2 and 3). Scalars ()."""
    with frozen(world_model, critic):
        out = imagined_behavior(
            world_model.rssm,
            actor,
            critic,
            world_model.predict_reward,
            start,
            horizon=cfg.horizon,
            discount=cfg.discount,
            lambda_=cfg.lambda_,
        )
    value = critic(out["feat"][:-1].detach())  # (H, N): v(s_t), t = 0 .. H-1
    return out["actor_loss"], value_loss(value, out["returns"], out["weights"])


NAMES = ("actor_loss", "value_loss")  # what the learner returns, in order


def behavior_losses_cases() -> list[Case]:
    X, A = 5, 2  # a state observation and a 2-d action keep the networks tiny
    base = Config.tiny(device="cpu", obs_type="state", horizon=4, seq_len=3, batch_size=2)
    torch.manual_seed(SEED)
    agent = Dreamer(base, (X,), A)  # the networks only; its optimizers are not used
    world_model, actor, critic = agent.world_model, agent.actor, agent.critic
    gen = torch.Generator().manual_seed(SEED)
    batch = {
        "obs": torch.randn(3, 2, X, generator=gen),
        "action": torch.rand(3, 2, A, generator=gen) * 2 - 1,
    }
    modules = {"world model": world_model, "actor": actor, "critic": critic}
    order = (
        "imagine with the actor as in lesson 03 (the checker replays the random numbers: one "
        "action sample, then one imagined step, per step)"
    )

    def start() -> LatentState:
        # Posterior states (T, B, .) of a batch, attached to the world model as in an update.
        torch.manual_seed(SEED + 1)
        return world_model.observe(batch)[0]

    def run(f, cfg=base):
        out = pair(
            seeded(f, world_model, actor, critic, start(), cfg),
            "a pair",
            "return (actor_loss, value_loss)",
        )
        hint = "average over all imagined steps and trajectories to a scalar"
        losses = [result(x, (), what=f"your {name}", hint=hint) for x, name in zip(out, NAMES)]
        return losses, seeded(behavior_losses, world_model, actor, critic, start(), cfg)

    def grads(loss: torch.Tensor) -> dict[str, torch.Tensor]:
        # d loss / d parameters, one flat vector per module (zeros where nothing arrives)
        names = list(modules)
        params = [p for m in modules.values() for p in m.parameters()]
        flat = [g.flatten() for g in gradients(loss, params)]
        sizes = [sum(p.numel() for p in m.parameters()) for m in modules.values()]
        return dict(zip(names, torch.cat(flat).split(sizes)))

    def types(f):
        run(f)
        return "a pair of scalars (actor_loss, value_loss)"

    def actor_value(f):
        (actor_loss, _), (expected, _) = run(f)
        hint = (
            "the actor maximises the lambda-returns of the imagined states s_0 .. s_{H-1}, each "
            "step weighted by the product of the discounts before it"
        )
        close(
            actor_loss, expected, "the actor loss differs from the package's", hint + "; " + order
        )
        return "equals the package's actor loss (same seed)"

    def value_value(f):
        (_, loss), (_, expected) = run(f)
        hint = (
            "regress v(s_t) of the states the returns belong to (s_0 .. s_{H-1}) onto the "
            "returns, with the same discount weights and the 1/2 of a squared error"
        )
        close(loss, expected, "the value loss differs from the package's", hint)
        return "equals the package's value loss (same seed)"

    def actor_routing(f):
        (actor_loss, _), (expected, _) = run(f)
        got, want = grads(actor_loss), grads(expected)
        if (got["critic"] != 0).any() or (got["world model"] != 0).any():
            hint = (
                "imagine, predict rewards and values inside frozen(world model, critic), from a "
                "detached start: they pass gradients on to the actor but must not learn from its loss"
            )
            raise CaseFailure("the actor loss reaches world-model or critic parameters", hint)
        if (got["actor"] == 0).all():
            hint = "keep the actions reparameterised and the returns attached for the actor loss"
            raise CaseFailure("the actor loss does not reach the actor", hint)
        close(actor_loss, expected, "cannot compare gradients: the actor losses differ", order)
        hint = "the actor's gradient flows through rewards, values and the imagined dynamics"
        close(got["actor"], want["actor"], "the actor's gradient differs", hint, rtol=1e-4)
        return "reaches the actor only, with the package's gradient"

    def value_routing(f):
        (_, loss), (_, expected) = run(f)
        got, want = grads(loss), grads(expected)
        if (got["actor"] != 0).any() or (got["world model"] != 0).any():
            hint = (
                "the critic learns from the imagined trajectory without changing it: detach its "
                "input features and its targets (the returns), so its loss moves only the critic"
            )
            raise CaseFailure("the value loss reaches actor or world-model parameters", hint)
        if (got["critic"] == 0).all():
            hint = (
                "frozen(...) switches the critic's gradients off inside its block: compute the "
                "critic's values for its own loss after the block"
            )
            raise CaseFailure("the value loss does not reach the critic", hint)
        close(loss, expected, "cannot compare gradients: the value losses differ", "see above")
        hint = "the critic's gradient comes from its values of the current imagined states"
        close(got["critic"], want["critic"], "the critic's gradient differs", hint, rtol=1e-4)
        return "reaches the critic only, with the package's gradient"

    def other_cfg(horizon, discount, lambda_, label):
        def case(f):
            cfg = base.replace(horizon=horizon, discount=discount, lambda_=lambda_)
            (actor_loss, loss), (ref_actor, ref_value) = run(f, cfg)
            hint = "read horizon, discount and lambda_ from cfg (no numbers written in)"
            close(actor_loss, ref_actor, f"the actor loss differs for {label}", hint)
            close(loss, ref_value, f"the value loss differs for {label}", hint)
            return f"both losses match for {label}"

        return case

    def parameters_restored(f):
        run(f)
        if not all(p.requires_grad for m in modules.values() for p in m.parameters()):
            hint = "freeze with `with frozen(...)`, which switches gradients back on after it"
            raise CaseFailure("some parameters no longer require gradients afterwards", hint)
        return "every parameter trainable again afterwards"

    return [
        ("types", types),
        ("actor loss", actor_value),
        ("value loss", value_value),
        ("actor loss gradient", actor_routing),
        ("value loss gradient", value_routing),
        ("horizon 2, discount 0.9, lambda 0.5", other_cfg(2, 0.9, 0.5, "H=2, 0.9, 0.5")),
        ("horizon 1", other_cfg(1, 0.99, 0.95, "H=1")),
        ("parameters trainable after", parameters_restored),
    ]


# --- plausible wrong versions (the tests check that each one fails) ---


def behavior(mode):
    def behavior_losses(world_model, actor, critic, start, cfg):
        freeze = (world_model, critic) if mode != "no frozen" else ()
        with frozen(*freeze):
            states, _ = imagine(world_model.rssm, actor, start, cfg.horizon)
            feat = states.feat  # (H+1, N, F)
            at = feat[:-1] if mode == "reward of the current state" else feat[1:]
            reward = world_model.predict_reward(at)  # (H, N)
            value = critic(feat)  # (H+1, N)
            discount = torch.full_like(reward, cfg.discount)
            target = lambda_return(reward, value, discount, cfg.lambda_)
            weights = discount_weights(discount)
            if mode == "no discount weights":
                weights = torch.ones_like(weights)
            actor_loss = -(weights * target).mean()
            if mode == "value loss inside frozen":
                v = critic(feat[:-1].detach())
        if mode != "value loss inside frozen":
            inputs = {"next states": feat[1:].detach(), "features attached": feat[:-1]}
            v = critic(inputs.get(mode, feat[:-1].detach()))
        target = target if mode == "returns attached" else target.detach()
        return actor_loss, (weights * 0.5 * (v - target) ** 2).mean()

    return behavior_losses


EXERCISES = [
    ExerciseSpec(
        "behavior_losses",
        "04.3",
        params=("world_model", "actor", "critic", "start", "cfg"),
        reference=behavior_losses,
        cases=behavior_losses_cases,
        wrong={
            "returns not detached in the value loss": behavior("returns attached"),
            "no frozen: the actor loss trains world model and critic": behavior("no frozen"),
            "critic trained on the next states": behavior("next states"),
            "no discount weights": behavior("no discount weights"),
            "imagined features not detached for the critic": behavior("features attached"),
            "value loss computed inside frozen": behavior("value loss inside frozen"),
            "reward of the current state": behavior("reward of the current state"),
        },
    ),
]
