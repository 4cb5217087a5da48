"""``Dreamer.update`` itself, checked against computations written out in the test.

The critic step is replayed by hand: the lambda-returns by a plain loop over the imagined rewards
and values that the update used, the critic's loss on the *current* imagined states, and Adam's
first step, which moves every parameter by ``-lr * g / (|g| + eps)``. A critic trained on the
next states, on undiscounted or unweighted targets, or by the wrong optimizer fails here.
"""

import copy

import torch

from dreamer_lite.agent import Dreamer
from dreamer_lite.config import Config

T, B, A, X = 6, 3, 2, 5  # vector observations keep these tests fast


def make_agent(seed: int = 0, **overrides) -> Dreamer:
    torch.manual_seed(seed)
    cfg = Config.tiny(device="cpu", obs_type="state", **overrides)
    return Dreamer(cfg, (X,), A)


def make_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "obs": torch.randn(T, B, X, generator=gen),
        "action": torch.rand(T, B, A, generator=gen) * 2 - 1,
        "reward": torch.rand(T, B, generator=gen),
    }


def record_calls(module: torch.nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(input, output) of every forward call of ``module``, detached."""
    calls = []
    module.register_forward_hook(
        lambda _, args, out: calls.append((args[0].detach().clone(), out.detach().clone()))
    )
    return calls


def lambda_returns_by_loop(reward, value, discount, lambda_):
    """G_t = r_t + gamma ((1 - lambda) v_{t+1} + lambda G_{t+1}), G_H = v_H, one entry at a time."""
    horizon, starts = reward.shape
    out = torch.zeros(horizon, starts, dtype=torch.float64)
    for n in range(starts):
        following = float(value[horizon, n])
        for t in reversed(range(horizon)):
            mix = (1 - lambda_) * float(value[t + 1, n]) + lambda_ * following
            following = float(reward[t, n]) + discount * mix
            out[t, n] = following
    return out


def test_critic_step_regresses_current_states_onto_their_lambda_returns():
    agent = make_agent(grad_clip=1e9)  # no clipping, so Adam's first step is exactly known
    cfg = agent.cfg
    critic_before = copy.deepcopy(agent.critic)
    critic_calls = record_calls(agent.critic)
    reward_calls = record_calls(agent.world_model.reward)

    agent.update(make_batch())

    # The imagination call sees all H+1 imagined states; the reward head's last call is on them.
    feat = next(inp for inp, _ in critic_calls if inp.shape[0] == cfg.horizon + 1)
    value = critic_before(feat).detach().double()  # (H+1, N)
    reward = reward_calls[-1][1].squeeze(-1).double()  # (H, N)
    assert reward.shape == (cfg.horizon, feat.shape[1])
    returns = lambda_returns_by_loop(reward, value, cfg.discount, cfg.lambda_)
    weights = torch.tensor([cfg.discount**t for t in range(cfg.horizon)], dtype=torch.float64)

    # The loss the critic should have minimised, on a copy of the critic before the update.
    current = critic_before(feat[:-1]).double()  # v(s_t) for t = 0 .. H-1
    loss = (weights[:, None] * 0.5 * (current - returns) ** 2).mean()
    grads = torch.autograd.grad(loss, list(critic_before.parameters()))
    for before, after, g in zip(critic_before.parameters(), agent.critic.parameters(), grads):
        expected = before.detach().double() - cfg.value_lr * g / (g.abs() + cfg.adam_eps)
        torch.testing.assert_close(
            after.detach().double(), expected, rtol=0, atol=cfg.value_lr * 1e-2
        )


def test_actor_loss_adds_no_gradient_to_world_model_or_critic():
    """Between the actor's backward pass and its optimizer step, the gradients held by the world
    model and the critic are exactly what they were before the actor loss was computed."""
    agent = make_agent()
    others = list(agent.world_model.parameters()) + list(agent.critic.parameters())
    seen = {}

    def grads():
        return [None if p.grad is None else p.grad.clone() for p in others]

    model_step, actor_step = agent.model_opt.step, agent.actor_opt.step

    def after_model_step(*args, **kwargs):
        out = model_step(*args, **kwargs)
        seen["before_actor"] = grads()
        return out

    def at_actor_step(*args, **kwargs):
        seen.setdefault("checks", []).append(
            all(
                (a is None and b is None) or (a is not None and b is not None and torch.equal(a, b))
                for a, b in zip(seen["before_actor"], grads())
            )
        )
        seen["actor_has_grad"] = all(p.grad is not None for p in agent.actor.parameters())
        return actor_step(*args, **kwargs)

    agent.model_opt.step, agent.actor_opt.step = after_model_step, at_actor_step
    for seed in range(2):  # the second update starts with the critic's gradients populated
        agent.update(make_batch(seed))
    assert seen["checks"] == [True, True]
    assert seen["actor_has_grad"]
