"""The Dreamer agent: acting (``act``) and learning (``update``), kept apart.

Shape legend: ``T`` time, ``B`` batch, ``A`` action. ``act`` takes one observation per
environment (B, *obs_shape); ``update`` takes a replay batch with fields (T, B, ...).
The schedule (when to collect, train, evaluate) lives in ``dreamer_lite.train``. Notebook 05.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from dreamer_lite.behavior import Actor, Critic, frozen, imagined_behavior, value_loss
from dreamer_lite.compiling import compile_agent
from dreamer_lite.config import Config
from dreamer_lite.networks import keras_init_
from dreamer_lite.rssm import LatentState
from dreamer_lite.world_model import WorldModel


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; the message names it and the update number."""


class AgentState(NamedTuple):
    """What the agent carries between environment steps."""

    latent: LatentState  # (B, .) posterior after the last observation
    action: torch.Tensor  # (B, A) the action just taken (it leads into the next observation)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for, but torch sees no CUDA GPU; use 'cpu'")
    return torch.device(device)


def check_precision(conv_precision: str, device: torch.device) -> None:
    """Raise a clear error if ``device`` cannot run the conv nets in ``conv_precision``."""
    if conv_precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise RuntimeError(
            f"conv_precision='bf16' needs a GPU with bfloat16 support (Ampere or newer); "
            f"{torch.cuda.get_device_name(device)} has none. Use conv_precision='fp32'."
        )


class Dreamer(nn.Module):
    """World model, actor and critic with one Adam optimizer each.

    Args:
        cfg: the run's ``Config``.
        obs_shape: (3, 64, 64) or (X,).
        action_size: A.
        discrete: one-hot actions (straight-through actor) instead of continuous ones in [-1, 1].
    """

    def __init__(
        self, cfg: Config, obs_shape: tuple[int, ...], action_size: int, discrete: bool = False
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.discrete = discrete
        self.action_size = action_size
        self.world_model = WorldModel.from_config(cfg, obs_shape, action_size)
        feat = cfg.feat_size
        self.actor = Actor(
            feat,
            action_size,
            units=cfg.units,
            layers=cfg.actor_layers,
            discrete=discrete,
            init_std=cfg.actor_init_std,
            mean_scale=cfg.actor_mean_scale,
            min_std=cfg.actor_min_std,
        )
        self.critic = Critic(feat, units=cfg.units, layers=cfg.value_layers)
        if cfg.weight_init == "keras":
            keras_init_(self)
        self._device = resolve_device(cfg.device)
        check_precision(cfg.conv_precision, self._device)
        self.to(self._device)

        def adam(module: nn.Module, lr: float) -> torch.optim.Adam:
            return torch.optim.Adam(module.parameters(), lr=lr, eps=cfg.adam_eps)

        self.model_opt = adam(self.world_model, cfg.model_lr)
        self.actor_opt = adam(self.actor, cfg.actor_lr)
        self.value_opt = adam(self.critic, cfg.value_lr)
        self.num_updates = 0
        if cfg.compile:
            compile_agent(self)

    @property
    def device(self) -> torch.device:
        """The device the networks live on (``cfg.device``, ``auto`` resolved)."""
        return self._device

    # --- acting ------------------------------------------------------------------------------
    def initial_state(self, batch_size: int = 1) -> AgentState:
        """The state before the first observation: the RSSM's initial latent and a zero action,
        (B, .) each."""
        latent = self.world_model.rssm.initial(batch_size, self.device)
        return AgentState(latent, torch.zeros(batch_size, self.action_size, device=self.device))

    @torch.no_grad()
    def act(
        self, obs: np.ndarray | torch.Tensor, state: AgentState | None = None, explore: bool = True
    ) -> tuple[np.ndarray, AgentState]:
        """Choose actions for a batch of observations (B, *obs_shape). Never trains.

        ``explore``: sample from the actor and add exploration noise (collection); otherwise take
        the actor's deterministic action (evaluation; ``cfg.eval_mode`` says which). Returns actions (B, A) as numpy and the next state.
        """
        obs_t = torch.as_tensor(np.asarray(obs), device=self.device)
        if state is None:
            state = self.initial_state(obs_t.shape[0])
        embed = self.world_model.embed(obs_t)  # (B, E)
        latent, _ = self.world_model.rssm.observe_step(state.latent, state.action, embed)
        feat = latent.feat
        if explore:
            action = self.actor(feat).sample()
            action = self._explore(action)
        elif self.cfg.eval_mode == "densest_sample" and not self.discrete:
            action = self.actor.densest_sample(feat)
        else:
            action = self.actor.mode(feat)
        return action.cpu().numpy(), AgentState(latent, action)

    def _explore(self, action: torch.Tensor) -> torch.Tensor:
        """Exploration noise on sampled actions (B, A): epsilon-greedy or clipped Gaussian."""
        if self.discrete:
            # Epsilon-greedy: with probability epsilon a uniformly random one-hot action.
            random = torch.randint(self.action_size, action.shape[:-1], device=action.device)
            random = nn.functional.one_hot(random, self.action_size).to(action.dtype)
            mask = torch.rand(action.shape[:-1], device=action.device) < self.cfg.expl_epsilon
            return torch.where(mask.unsqueeze(-1), random, action)
        noise = self.cfg.expl_noise * torch.randn_like(action)
        return (action + noise).clamp(-1.0, 1.0)

    # --- learning ----------------------------------------------------------------------------
    def _step(self, opt: torch.optim.Optimizer, module: nn.Module, loss: torch.Tensor, name: str):
        """One optimizer step on ``loss`` with gradient clipping; returns the gradient norm.
        A non-finite loss raises ``NonFiniteLossError`` before anything changes."""
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"{name} is {loss.item()} at update {self.num_updates}; try a lower learning "
                "rate, fp32 or a smaller grad_clip"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(module.parameters(), self.cfg.grad_clip)
        opt.step()
        return norm

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step of world model, actor and critic on a replay batch.

        batch: ``obs`` (T, B, ...), ``action`` (T, B, A), ``reward`` (T, B). Never touches an
        environment. Returns scalar metrics (losses, KL, gradient norms, mean return, seconds).
        """
        cfg = self.cfg
        start = time.perf_counter()
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

        # 1. World model: representation + dynamics + reward.
        model_loss, terms, post = self.world_model.loss(batch)
        model_norm = self._step(self.model_opt, self.world_model, model_loss, "model_loss")
        t_model = time.perf_counter()

        # 2. Actor: maximise imagined returns; gradients flow through the frozen model.
        with frozen(self.world_model, self.critic):
            out = imagined_behavior(
                self.world_model.rssm,
                self.actor,
                self.critic,
                self.world_model.predict_reward,
                post,
                horizon=cfg.horizon,
                discount=cfg.discount,
                estimator=cfg.value_estimator,
                lambda_=cfg.lambda_,
                k=cfg.k_step,
            )
        actor_norm = self._step(self.actor_opt, self.actor, out["actor_loss"], "actor_loss")
        t_actor = time.perf_counter()

        # 3. Critic: regress onto the detached returns from detached features.
        metrics: dict[str, Any] = {}
        if cfg.value_estimator != "reward_sum":  # V_R needs no value model
            value = self.critic(out["feat"][:-1].detach())  # (H, N)
            v_loss = value_loss(value, out["returns"], out["weights"])
            metrics["value_loss"] = v_loss.item()
            metrics["value_grad_norm"] = self._step(
                self.value_opt, self.critic, v_loss, "value_loss"
            ).item()
        t_value = time.perf_counter()

        self.num_updates += 1
        metrics.update({k: v.item() for k, v in terms.items()})
        metrics.update(
            actor_loss=out["actor_loss"].item(),
            model_grad_norm=model_norm.item(),
            actor_grad_norm=actor_norm.item(),
            imagined_return=out["returns"].mean().item(),
            imagined_reward=out["reward"].mean().item(),
            time_model=t_model - start,
            time_actor=t_actor - t_model,
            time_value=t_value - t_actor,
        )
        return metrics

    # --- checkpoints -------------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        """Networks, optimizers and the update counter, for ``torch.save``."""
        return {
            "networks": self.state_dict(),
            "model_opt": self.model_opt.state_dict(),
            "actor_opt": self.actor_opt.state_dict(),
            "value_opt": self.value_opt.state_dict(),
            "num_updates": self.num_updates,
        }

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        """Restore what ``checkpoint_state`` returned."""
        self.load_state_dict(state["networks"])
        self.model_opt.load_state_dict(state["model_opt"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.value_opt.load_state_dict(state["value_opt"])
        self.num_updates = int(state["num_updates"])
