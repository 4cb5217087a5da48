"""Tests of dreamer_lite.behavior: actor/critic, imagination and where the gradients go."""

import pytest
import torch
from torch.distributions import OneHotCategoricalStraightThrough

from dreamer_lite.behavior import (
    Actor,
    Critic,
    actor_loss,
    discount_weights,
    frozen,
    imagine,
    imagined_behavior,
    straight_through_sample,
    value_loss,
    value_targets,
)
from dreamer_lite.config import Config
from dreamer_lite.returns import k_step_return, lambda_return, sum_of_rewards
from dreamer_lite.world_model import WorldModel

CFG = Config.tiny()
T, B, A, X = 3, 2, 2, 5  # batch of starts (T, B), action size, vector-observation size
HORIZON = CFG.horizon
FEAT = CFG.feat_size


def make_parts(discrete: bool = False):
    """A small vector-observation world model, actor and critic, and posterior start states."""
    torch.manual_seed(0)
    model = WorldModel.from_config(CFG, (X,), A)
    actor = Actor(FEAT, A, units=CFG.units, layers=CFG.actor_layers, discrete=discrete)
    critic = Critic(FEAT, units=CFG.units, layers=CFG.value_layers)
    batch = {"obs": torch.randn(T, B, X), "action": torch.rand(T, B, A) * 2 - 1}
    post, _ = model.observe(batch)  # (T, B, .), attached to the world model's graph
    return model, actor, critic, post


def behave(model, actor, critic, post, estimator: str = "lambda"):
    return imagined_behavior(
        model.rssm,
        actor,
        critic,
        model.predict_reward,
        post,
        horizon=HORIZON,
        discount=CFG.discount,
        estimator=estimator,
        lambda_=CFG.lambda_,
        k=2,
    )


def assert_one_hot(action: torch.Tensor) -> None:
    """Exactly one entry of each row is 1 and the rest 0 (up to float rounding of the
    straight-through ``sample + probs - probs.detach()``)."""
    action = action.detach()
    one_hot = torch.nn.functional.one_hot(action.argmax(-1), action.shape[-1]).to(action.dtype)
    torch.testing.assert_close(action, one_hot)


def params(*modules):
    return [p for m in modules for p in m.parameters()]


def test_actor_sample_shape_and_range():
    """Continuous actions (..., A) lie in [-1, 1]; the mode too; log_prob is per sample."""
    torch.manual_seed(0)
    actor = Actor(FEAT, A, units=16, layers=2)
    feat = 3 * torch.randn(7, 5, FEAT)
    dist = actor(feat)
    sample = dist.rsample()
    assert sample.shape == (7, 5, A)
    assert sample.abs().max() <= 1.0
    assert dist.log_prob(sample.clamp(-0.999, 0.999)).shape == (7, 5)
    mode = actor.mode(feat)
    assert mode.shape == (7, 5, A) and mode.abs().max() <= 1.0


def test_actor_init_std_and_mean_scale():
    """With a zero output layer the std is init_std (+ min_std); the mean is bounded by mean_scale."""
    actor = Actor(FEAT, A, units=16, layers=2, init_std=5.0, mean_scale=5.0, min_std=1e-4)
    last = actor.net.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    normal = actor(torch.randn(4, FEAT)).base_dist.base_dist
    torch.testing.assert_close(normal.scale, torch.full((4, A), 5.0 + 1e-4))
    torch.testing.assert_close(normal.loc, torch.zeros(4, A))
    with torch.no_grad():
        last.bias.fill_(1000.0)
    normal = actor(torch.randn(4, FEAT)).base_dist.base_dist
    assert normal.loc.max() <= 5.0 + 1e-6


def test_critic_shape():
    """The critic maps (..., F) to a value per state (...)."""
    critic = Critic(FEAT, units=16, layers=3)
    assert critic(torch.randn(HORIZON + 1, 6, FEAT)).shape == (HORIZON + 1, 6)


def test_discrete_actions_are_one_hot():
    """Discrete samples and modes have exactly one 1 per row and zeros elsewhere."""
    torch.manual_seed(0)
    actor = Actor(FEAT, 4, units=16, layers=2, discrete=True)
    feat = torch.randn(50, FEAT)
    for action in (actor(feat).sample(), actor(feat).rsample(), actor.mode(feat)):
        assert action.shape == (50, 4)
        assert_one_hot(action)


def test_straight_through_gradient_reaches_logits_and_actor():
    """rsample of the straight-through categorical passes gradient to the logits and the actor."""
    logits = torch.randn(6, 4, requires_grad=True)
    sample = OneHotCategoricalStraightThrough(logits=logits).rsample()
    (grad,) = torch.autograd.grad((sample * torch.arange(4.0)).sum(), logits)
    assert grad.abs().sum() > 0
    torch.manual_seed(0)
    actor = Actor(FEAT, 4, units=16, layers=2, discrete=True)
    action = actor(torch.randn(6, FEAT)).rsample()
    grads = torch.autograd.grad((action * torch.arange(4.0)).sum(), list(actor.parameters()))
    assert all(g.abs().sum() > 0 for g in grads)


def test_imagine_shapes_and_detached_start():
    """imagine returns (H+1, N, .) states whose entry 0 is the detached start, and (H, N, A) actions."""
    model, actor, _, post = make_parts()
    assert post.deter.requires_grad
    states, actions = imagine(model.rssm, actor, post, HORIZON)
    n = T * B
    assert states.deter.shape == (HORIZON + 1, n, CFG.deter_size)
    assert states.stoch.shape == (HORIZON + 1, n, CFG.stoch_size)
    assert states.feat.shape == (HORIZON + 1, n, FEAT)
    assert actions.shape == (HORIZON, n, A) and actions.abs().max() <= 1.0
    torch.testing.assert_close(states.at(0).feat, post.flatten().feat.detach())
    inputs = [post.deter, post.stoch, *model.parameters()]
    grads = torch.autograd.grad(states.feat[0].sum(), inputs, allow_unused=True)
    assert all(g is None or not g.any() for g in grads)  # entry 0 is cut from the model


def test_imagination_never_reaches_the_representation():
    """No gradient from imagination flows back into the posterior states (start is detached)."""
    model, actor, critic, post = make_parts()
    out = behave(model, actor, critic, post)
    grads = torch.autograd.grad(out["actor_loss"], [post.deter, post.stoch], allow_unused=True)
    assert all(g is None for g in grads)


def test_imagine_follows_the_prior_steps():
    """imagine equals a manual loop of actor rsample + rssm.imagine_step with the same seed."""
    model, actor, _, post = make_parts()
    torch.manual_seed(9)
    states, actions = imagine(model.rssm, actor, post, HORIZON)
    torch.manual_seed(9)
    state = post.flatten().detach()
    for t in range(HORIZON):
        action = actor(state.feat).rsample()
        state = model.rssm.imagine_step(state, action)
        torch.testing.assert_close(actions[t], action)
    torch.testing.assert_close(states.at(-1).feat, state.feat)


def test_actor_loss_gives_no_gradient_to_world_model_or_critic():
    """Inside frozen(world model, critic) the actor loss only reaches the actor's parameters."""
    model, actor, critic, post = make_parts()
    with frozen(model, critic):
        out = behave(model, actor, critic, post)
    frozen_params = params(model, critic)
    loss = out["actor_loss"]
    grads = torch.autograd.grad(loss, frozen_params, allow_unused=True, retain_graph=True)
    assert all(g is None for g in grads)
    actor_grads = torch.autograd.grad(loss, list(actor.parameters()), retain_graph=True)
    assert all(g.abs().sum() > 0 for g in actor_grads)
    for p in params(model, actor, critic):
        p.grad = None
    loss.backward()
    assert all(p.grad is None for p in frozen_params)
    assert all(p.grad is not None for p in actor.parameters())


def test_without_frozen_the_world_model_would_get_gradient():
    """Sanity check of the test above: outside frozen() the actor loss does reach the model."""
    model, actor, critic, post = make_parts()
    out = behave(model, actor, critic, post)
    grads = torch.autograd.grad(out["actor_loss"], list(model.rssm.gru.parameters()))
    assert any(g.abs().sum() > 0 for g in grads)


def test_frozen_restores_requires_grad_flags():
    """frozen() turns gradients off inside the block and restores each flag afterwards."""
    critic = Critic(FEAT, units=8, layers=1)
    first = next(critic.parameters())
    first.requires_grad_(False)
    with frozen(critic):
        assert not any(p.requires_grad for p in critic.parameters())
    assert not first.requires_grad
    assert all(p.requires_grad for p in list(critic.parameters())[1:])
    with pytest.raises(KeyError), frozen(critic):
        raise KeyError("restored even on errors")
    assert all(p.requires_grad for p in list(critic.parameters())[1:])


def record_actions(model) -> list[torch.Tensor]:
    """Wrap rssm.imagine_step to record the action tensors fed into the dynamics."""
    step, seen = model.rssm.imagine_step, []

    def recording_step(state, action):
        seen.append(action)
        return step(state, action)

    model.rssm.imagine_step = recording_step
    return seen


def test_actor_gradient_flows_through_the_dynamics():
    """The last imagined reward depends on the first action through the learned transitions."""
    model, actor, critic, post = make_parts()
    actions = record_actions(model)
    with frozen(model, critic):
        out = behave(model, actor, critic, post)
    assert len(actions) == HORIZON
    grads = torch.autograd.grad(out["reward"][-1].sum(), actions)
    assert grads[0].abs().sum() > 0  # action 0 -> s_1 -> ... -> s_H -> reward[H-1]
    assert all(g.abs().sum() > 0 for g in grads)


def test_detaching_actions_in_imagination_cuts_the_actor_gradient():
    """Variant with detached actions: the actor loss no longer reaches the actor at all."""
    model, actor, critic, post = make_parts()
    torch.manual_seed(1)
    with frozen(model, critic):
        out = behave(model, actor, critic, post)
    reference = torch.autograd.grad(out["actor_loss"], list(actor.parameters()))
    assert sum(g.abs().sum() for g in reference) > 0

    step = model.rssm.imagine_step
    model.rssm.imagine_step = lambda state, action: step(state, action.detach())
    torch.manual_seed(1)
    with frozen(model, critic):
        cut = behave(model, actor, critic, post)
    del model.rssm.imagine_step
    torch.testing.assert_close(cut["actor_loss"], out["actor_loss"].detach())  # same value ...
    assert not cut["actor_loss"].requires_grad  # ... but no path back to the actor


def test_actor_sees_detached_features():
    """Action t+1 does not depend on action t through the actor's input (features are detached)."""
    model, actor, critic, post = make_parts()
    actions = record_actions(model)
    with frozen(model, critic):
        behave(model, actor, critic, post)
    (grad,) = torch.autograd.grad(actions[1].sum(), actions[0], allow_unused=True)
    assert grad is None or not grad.any()


def test_value_loss_detaches_its_target():
    """value_loss = mean(w * 0.5 (v - stopgrad(G))^2): no gradient to the returns."""
    value = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    returns = torch.tensor([[0.0, 4.0], [3.0, 0.0]], requires_grad=True)
    weights = torch.tensor([[1.0, 1.0], [0.5, 0.5]])
    loss = value_loss(value, returns, weights)
    # (1 * 0.5 * 1 + 1 * 0.5 * 4 + 0.5 * 0.5 * 0 + 0.5 * 0.5 * 16) / 4 = (0.5 + 2 + 0 + 4) / 4
    assert loss.item() == pytest.approx(6.5 / 4)
    grad_v, grad_r = torch.autograd.grad(loss, [value, returns], allow_unused=True)
    assert grad_r is None
    torch.testing.assert_close(grad_v, weights * (value - returns).detach() / 4)


def test_actor_loss_formula():
    """actor_loss = -mean(weights * returns)."""
    returns, weights = (
        torch.tensor([[1.0, 3.0], [2.0, -2.0]]),
        torch.tensor([[1.0, 1.0], [0.5, 0.5]]),
    )
    assert actor_loss(returns, weights).item() == pytest.approx(-(1 + 3 + 1 - 1) / 4)


def test_discount_weights_are_cumulative_products():
    """weights[t] = prod_{i<t} d_i (weights[0] = 1), detached."""
    discount = 0.5 + 0.5 * torch.rand(5, 3, generator=torch.Generator().manual_seed(0))
    discount.requires_grad_()
    weights = discount_weights(discount)
    assert weights.shape == (5, 3) and not weights.requires_grad
    for t in range(5):
        expected = torch.ones(3)
        for i in range(t):
            expected = expected * discount[i].detach()
        torch.testing.assert_close(weights[t], expected)
    constant = discount_weights(torch.full((4, 1), 0.9))
    torch.testing.assert_close(constant[:, 0], torch.tensor([1.0, 0.9, 0.81, 0.729]))


def test_value_targets_dispatch():
    """value_targets picks lambda_return, k_step_return or sum_of_rewards; unknown raises."""
    gen = torch.Generator().manual_seed(0)
    reward, value = torch.randn(4, 3, generator=gen), torch.randn(5, 3, generator=gen)
    disc = torch.full((4, 3), 0.9)
    torch.testing.assert_close(
        value_targets(reward, value, disc, "lambda", 0.7), lambda_return(reward, value, disc, 0.7)
    )
    torch.testing.assert_close(
        value_targets(reward, value, disc, "k_step", k=2), k_step_return(reward, value, disc, 2)
    )
    torch.testing.assert_close(
        value_targets(reward, value, disc, "reward_sum"), sum_of_rewards(reward)
    )
    with pytest.raises(ValueError, match="estimator"):
        value_targets(reward, value, disc, "monte_carlo")


def returns_by_loop(reward, value, estimator: str, gamma: float, lambda_: float, k: int):
    """The three estimators written out one (t, n) at a time (paper eqs. 4-6), float64."""
    horizon, starts = reward.shape
    r, v = reward.double().tolist(), value.double().tolist()
    out = torch.zeros(horizon, starts, dtype=torch.float64)
    for n in range(starts):
        for t in range(horizon):
            if estimator == "reward_sum":  # V_R: undiscounted rewards to the horizon
                out[t, n] = sum(r[i][n] for i in range(t, horizon))
            elif estimator == "k_step":  # V_N^k: k discounted rewards, then the value
                end = min(t + k, horizon)
                ret = sum(gamma ** (i - t) * r[i][n] for i in range(t, end))
                out[t, n] = ret + gamma ** (end - t) * v[end][n]
        if estimator == "lambda":  # G_t = r_t + gamma ((1 - lambda) v_{t+1} + lambda G_{t+1})
            following = v[horizon][n]
            for t in reversed(range(horizon)):
                mix = (1 - lambda_) * v[t + 1][n] + lambda_ * following
                following = r[t][n] + gamma * mix
                out[t, n] = following
    return out


@pytest.mark.parametrize("estimator", ["lambda", "k_step", "reward_sum"])
def test_imagined_behavior_outputs(estimator):
    """Shapes, the reward alignment (reward[t] = head(s_{t+1})), and the returns, weights and
    actor loss against loops written out here (not the module's helpers)."""
    model, actor, critic, post = make_parts()
    with frozen(model, critic):
        out = behave(model, actor, critic, post, estimator)
    n = T * B
    assert out["feat"].shape == (HORIZON + 1, n, FEAT)
    assert out["action"].shape == (HORIZON, n, A)
    assert out["reward"].shape == out["returns"].shape == out["weights"].shape == (HORIZON, n)
    assert out["value"].shape == (HORIZON + 1, n)
    with torch.no_grad():
        reward_at_next = model.reward(out["feat"][1:]).squeeze(-1)  # the head at s_{t+1}
        torch.testing.assert_close(out["reward"], reward_at_next)
        torch.testing.assert_close(out["value"], critic(out["feat"]))
    gamma = CFG.discount
    expected = returns_by_loop(out["reward"], out["value"], estimator, gamma, CFG.lambda_, 2)
    torch.testing.assert_close(out["returns"].double(), expected, rtol=1e-5, atol=1e-5)
    weights = torch.tensor([gamma**t for t in range(HORIZON)]).unsqueeze(1).expand(HORIZON, n)
    torch.testing.assert_close(out["weights"], weights)
    loss = -(weights.double() * expected).sum() / (HORIZON * n)
    torch.testing.assert_close(out["actor_loss"].double(), loss, rtol=1e-5, atol=1e-5)


def test_discrete_imagination():
    """A discrete actor imagines one-hot actions and still gets gradient (straight-through)."""
    model, actor, critic, post = make_parts(discrete=True)
    with frozen(model, critic):
        out = behave(model, actor, critic, post)
    assert_one_hot(out["action"])
    grads = torch.autograd.grad(out["actor_loss"], list(actor.parameters()))
    assert sum(g.abs().sum() for g in grads) > 0


def test_straight_through_sample_is_one_hot_with_probs_gradient():
    """straight_through_sample: one-hot values forward, the softmax's gradient backward."""
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 4, requires_grad=True)
    sample = straight_through_sample(logits)
    assert sample.shape == (3, 5, 4)
    assert_one_hot(sample)
    weights = torch.randn(3, 5, 4)
    (grad,) = torch.autograd.grad((sample * weights).sum(), logits)
    (expected,) = torch.autograd.grad((torch.softmax(logits, -1) * weights).sum(), logits)
    torch.testing.assert_close(grad, expected)


def test_straight_through_sample_frequencies_follow_probs():
    """Sample frequencies match the categorical probabilities."""
    torch.manual_seed(0)
    logits = torch.log(torch.tensor([0.1, 0.2, 0.7])).expand(4000, 3)
    freq = straight_through_sample(logits).detach().mean(0)
    torch.testing.assert_close(freq, torch.tensor([0.1, 0.2, 0.7]), atol=0.03, rtol=0)
