"""Behaviour learning in imagination: actor, critic, imagined rollouts and their losses.

Shape legend: ``T`` time, ``B`` batch, ``N = T*B`` imagination starts, ``H`` horizon,
``A`` action, ``F`` features. Imagined trajectories are (H+1, N, .): entry 0 is the start state.
Built in notebook 03 (imagination, actor gradients) and notebook 04 (value estimators).

How the gradient reaches the actor (paper, Section 3): actions are *reparameterised* samples, the
learned dynamics and reward head are differentiable, so d(return)/d(actor parameters) flows
backwards through rewards, values and every imagined transition. The world model and the critic
are frozen while this happens (``frozen``): they pass gradient through, but receive none.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.distributions import (
    Distribution,
    Independent,
    Normal,
    OneHotCategoricalStraightThrough,
    TanhTransform,
    TransformedDistribution,
)

from dreamer_lite.networks import MLP
from dreamer_lite.returns import VALUE_ESTIMATORS
from dreamer_lite.rssm import RSSM, LatentState


def one_hot_straight_through(logits: torch.Tensor) -> OneHotCategoricalStraightThrough:
    """``OneHotCategoricalStraightThrough(logits)`` (..., A) without argument checks, which are
    host-device syncs (``rssm.diagonal_normal`` says why). Easy to overlook: it builds an inner
    ``Categorical`` that ignores our ``validate_args``, so the default is switched off for the
    construction and restored after."""
    previous = Distribution._validate_args
    Distribution.set_default_validate_args(False)
    try:
        return OneHotCategoricalStraightThrough(logits=logits, validate_args=False)
    finally:
        Distribution.set_default_validate_args(previous)


class Actor(nn.Module):
    """The policy q(a_t | s_t): features (..., F) -> a distribution over actions (..., A).

    Continuous: a tanh-transformed Normal; its mean is squashed as ``mean_scale * tanh(m /
    mean_scale)`` (``_squash_mean``, shared by ``forward`` and ``mode``) and its std is
    ``softplus(x + c) + min_std`` with c chosen so that x = 0 gives ``init_std``.
    Discrete: a one-hot categorical whose samples pass gradients straight through.
    """

    def __init__(
        self,
        feat_size: int,
        action_size: int,
        *,
        units: int = 400,
        layers: int = 4,
        discrete: bool = False,
        init_std: float = 5.0,
        mean_scale: float = 5.0,
        min_std: float = 1e-4,
    ) -> None:
        super().__init__()
        self.discrete = discrete
        self.action_size = action_size
        self.mean_scale = mean_scale
        self.min_std = min_std
        self.raw_init_std = math.log(math.expm1(init_std))  # softplus^-1(init_std)
        out = action_size if discrete else (2, action_size)
        self.net = MLP(feat_size, out, units=units, layers=layers)

    def _squash_mean(self, raw_mean: torch.Tensor) -> torch.Tensor:
        """The Gaussian's mean (..., A), kept in (-mean_scale, mean_scale) by a scaled tanh."""
        return self.mean_scale * torch.tanh(raw_mean / self.mean_scale)

    def forward(self, feat: torch.Tensor) -> Distribution:
        """The action distribution at features (..., F); its samples are (..., A)."""
        out = self.net(feat)
        if self.discrete:
            return one_hot_straight_through(out)  # (..., A) one-hot samples
        raw_mean, raw_std = out.unbind(-2)  # (..., A) each
        mean = self._squash_mean(raw_mean)
        std = nn.functional.softplus(raw_std + self.raw_init_std) + self.min_std
        normal = Normal(mean, std, validate_args=False)  # no syncs (see rssm.LatentState.dist)
        dist = TransformedDistribution(normal, TanhTransform(cache_size=1), validate_args=False)
        return Independent(dist, 1, validate_args=False)

    def mode(self, feat: torch.Tensor) -> torch.Tensor:
        """A deterministic action for evaluation (..., A): tanh of the Gaussian's mean, or the
        most likely one-hot action."""
        out = self.net(feat)
        if self.discrete:
            index = out.argmax(-1)
            return nn.functional.one_hot(index, self.action_size).to(out.dtype)
        return torch.tanh(self._squash_mean(out.unbind(-2)[0]))

    def densest_sample(self, feat: torch.Tensor, samples: int = 100) -> torch.Tensor:
        """The evaluation action of the official code (``SampleDist.mode``): of ``samples``
        draws from the continuous action distribution, the one of highest density. (..., A).

        With the tanh squashing, tanh(mean) is not the most likely action; the densest sample
        approximates the mode of the squashed distribution.
        """
        dist = self(feat)
        draws = dist.sample((samples,))  # (samples, ..., A)
        best = dist.log_prob(draws).argmax(0)  # (...): the index of the densest draw
        index = best.unsqueeze(0).unsqueeze(-1).expand(1, *draws.shape[1:])
        return draws.gather(0, index).squeeze(0)


def straight_through_sample(logits: torch.Tensor) -> torch.Tensor:
    """A one-hot sample (..., A) whose gradient is that of the probabilities (straight-through).

    Forward: a one-hot vector drawn from Categorical(logits). Backward: d(sample)/d(logits) is
    taken as d(probs)/d(logits), because ``sample + probs - probs.detach()`` equals the sample in
    value but differentiates like ``probs``. This is what ``OneHotCategoricalStraightThrough``
    does inside ``Actor`` for discrete actions; notebook 03 builds it.
    """
    probs = torch.softmax(logits, dim=-1)
    index = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1).reshape(probs.shape[:-1])
    sample = nn.functional.one_hot(index, probs.shape[-1]).to(probs.dtype)
    return sample + probs - probs.detach()


class Critic(nn.Module):
    """The value model v(s_t): features (..., F) -> value (...)."""

    def __init__(self, feat_size: int, *, units: int = 400, layers: int = 3) -> None:
        super().__init__()
        self.net = MLP(feat_size, 1, units=units, layers=layers)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """Features (..., F) -> values (...)."""
        return self.net(feat).squeeze(-1)


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Within the block, the modules' parameters get no gradient (activations still do)."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def imagine(
    rssm: RSSM, actor: Actor, start: LatentState, horizon: int
) -> tuple[LatentState, torch.Tensor]:
    """Roll the learned dynamics ``horizon`` steps from every start state.

    start: states (..., .) e.g. the posteriors (T, B, .) of a training batch, flattened to N.
    Returns the imagined states (H+1, N, .) with entry 0 the (detached) start, and the actions
    (H, N, A) with action[t] taken in state t. The start is detached: behaviour learning must not
    change the representation. Actions are reparameterised samples (``rsample``), so gradients
    flow from later states back into the actor. The actor sees detached features.
    """
    state = start.flatten().detach()  # (N, .)
    states, actions = [state], []
    for _ in range(horizon):
        action = actor(state.feat.detach()).rsample()  # (N, A)
        state = rssm.imagine_step(state, action)
        states.append(state)
        actions.append(action)
    return LatentState.stack(states), torch.stack(actions)


def discount_weights(discount: torch.Tensor) -> torch.Tensor:
    """Weights (H, N) of the imagined steps: 1, d_0, d_0 d_1, ... (later steps count less)."""
    ones = torch.ones_like(discount[:1])
    return torch.cumprod(torch.cat([ones, discount[:-1]], dim=0), dim=0).detach()


def value_targets(
    reward: torch.Tensor,
    value: torch.Tensor,
    discount: torch.Tensor,
    estimator: str = "lambda",
    lambda_: float = 0.95,
    k: int = 5,
) -> torch.Tensor:
    """The actor's and critic's target (H, N) by the chosen estimator, a key of
    ``returns.VALUE_ESTIMATORS`` (the table ``Config.value_estimator`` is checked against).

    reward (H, N), value (H+1, N), discount (H, N); ``lambda_`` and ``k`` where they apply.
    """
    if estimator not in VALUE_ESTIMATORS:
        raise ValueError(
            f"unknown value estimator {estimator!r}; use one of {tuple(VALUE_ESTIMATORS)}"
        )
    return VALUE_ESTIMATORS[estimator](reward, value, discount, lambda_, k)


def actor_loss(returns: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Maximise the discount-weighted returns: ``-mean(weights * returns)``. (H, N) -> ()."""
    return -(weights * returns).mean()


def value_loss(value: torch.Tensor, returns: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Regress v(s_t) (H, N) onto the returns, which are detached here: the critic must not move
    its own target. ``mean(weights * 0.5 (v - stopgrad(G))^2)``."""
    return (weights * 0.5 * (value - returns.detach()) ** 2).mean()


def imagined_behavior(
    rssm: RSSM,
    actor: Actor,
    critic: Critic,
    reward_fn: Callable[[torch.Tensor], torch.Tensor],
    start: LatentState,
    *,
    horizon: int,
    discount: float,
    estimator: str = "lambda",
    lambda_: float = 0.95,
    k: int = 5,
    entropy_scale: float = 0.0,
) -> dict[str, torch.Tensor]:
    """Imagine from ``start`` and compute everything the two behaviour losses need.

    Call it inside ``frozen(world_model, critic)``. Returns the tensors ``feat`` (H+1, N, F),
    ``action`` (H, N, A), ``reward`` (H, N), ``value`` (H+1, N), ``returns`` (H, N),
    ``weights`` (H, N) and the scalar ``actor_loss``. With ``entropy_scale`` > 0 (off in the
    paper) the actor loss also rewards the policy's entropy at the imagined states, returned as
    ``entropy`` (H, N); see ``policy_entropy``.

    Alignment (easy to get off by one): the reward of the step s_t -> s_{t+1} is the reward
    head at s_{t+1}, because a replayed ``reward[t]`` is received on entering ``obs[t]``.
    """
    states, actions = imagine(rssm, actor, start, horizon)
    feat = states.feat  # (H+1, N, F)
    reward = reward_fn(feat[1:])  # (H, N)
    value = critic(feat)  # (H+1, N)
    disc = torch.full_like(reward, discount)  # (H, N)
    returns = value_targets(reward, value, disc, estimator, lambda_, k)
    weights = discount_weights(disc)
    out = {
        "feat": feat,
        "action": actions,
        "reward": reward,
        "value": value,
        "returns": returns,
        "weights": weights,
        "actor_loss": actor_loss(returns, weights),
    }
    if entropy_scale > 0:
        entropy = policy_entropy(actor, feat[:-1].detach())  # (H, N)
        out["entropy"] = entropy
        out["actor_loss"] = out["actor_loss"] - entropy_scale * (weights * entropy).mean()
    return out


def policy_entropy(actor: Actor, feat: torch.Tensor) -> torch.Tensor:
    """The entropy of the actor's distribution at features (..., F): exact for discrete
    actions; for the tanh-Gaussian, which has no closed form, ``-log q(a)`` of one
    reparameterised sample (the log-density reuses the sample's pre-tanh value, so it stays
    finite where the tanh saturates). (...)."""
    dist = actor(feat)
    if actor.discrete:
        return dist.entropy()
    return -dist.log_prob(dist.rsample())
