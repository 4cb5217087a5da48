"""The Dreamer agent: acting (``act``) and learning (``update``), kept apart.

Shape legend: ``T`` time, ``B`` batch, ``A`` action. ``act`` takes one observation per
environment (B, *obs_shape); ``update`` takes a replay batch with fields (T, B, ...).
The schedule (when to collect, train, evaluate) lives in ``dreamer_lite.train``. Notebook 05.
"""

from __future__ import annotations

import math
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


LOSSES = ("model_loss", "actor_loss", "value_loss")
"""The three losses of an update, in the order they are computed and checked."""


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


def enable_tf32(device: torch.device) -> None:
    """On CUDA, let float32 matmuls use TF32 tensor cores (``set_float32_matmul_precision
    ("high")``): about 10 mantissa bits in the products, float32 accumulation and range, several
    times the matmul throughput on Ampere or newer. A no-op on a CPU. Process-wide (PyTorch has
    no per-module switch); cuDNN convolutions already use TF32 by default."""
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")


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
        enable_tf32(self._device)
        self.to(self._device)

        def adam(module: nn.Module, lr: float) -> torch.optim.Adam:
            # fused: one kernel per step on a GPU, and it can skip a step on the device
            # (``found_inf``) without the host looking at the loss; see ``_step``.
            return torch.optim.Adam(module.parameters(), lr=lr, eps=cfg.adam_eps, fused=True)

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
    def _step(
        self, opt: torch.optim.Optimizer, module: nn.Module, loss: torch.Tensor, skip: torch.Tensor
    ) -> torch.Tensor:
        """Backward, gradient clipping and one Adam step; returns the gradient norm (a tensor).

        ``skip`` is a 0-d float tensor on the device: 1.0 makes the fused Adam kernel leave the
        parameters and its state untouched (the mechanism ``torch.amp.GradScaler`` uses), so a
        non-finite loss changes nothing, and the host never waits for the device to find out.
        """
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(module.parameters(), self.cfg.grad_clip)
        opt.found_inf = skip  # read by Adam(fused=True).step, as GradScaler passes it
        opt.step()
        del opt.found_inf  # a later plain opt.step() must not see a stale flag
        return norm

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step of world model, actor and critic on a replay batch.

        batch: ``obs`` (T, B, ...), ``action`` (T, B, A), ``reward`` (T, B). Never touches an
        environment. Returns scalar metrics (losses, KL, gradient norms, mean return, seconds).

        No host-device sync until the end (on a GPU each one idles the device while the host
        launches the next kernels): losses and metrics stay tensors, and one ``tolist`` reads
        them all. A non-finite loss is found there too, after the steps, but each step was
        already told on the device to skip itself when its loss or an earlier one was not finite,
        so ``NonFiniteLossError`` (naming the first such loss and the update number) leaves the
        networks and optimizers exactly as a check before the step would have: a NaN model loss
        changes nothing; a NaN actor loss comes after a good world-model step, which stays.
        ``time_*`` are host seconds; on a GPU they measure kernel launches, not the kernels.
        """
        cfg = self.cfg
        start = time.perf_counter()
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        skip = torch.zeros((), device=self.device)  # 1.0 once a loss is not finite

        # 1. World model: representation + dynamics + reward.
        model_loss, terms, post = self.world_model.loss(batch)
        skip = skip.maximum((~torch.isfinite(model_loss)).float())
        model_norm = self._step(self.model_opt, self.world_model, model_loss, skip)
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
                entropy_scale=cfg.actor_entropy,
            )
        skip = skip.maximum((~torch.isfinite(out["actor_loss"])).float())
        actor_norm = self._step(self.actor_opt, self.actor, out["actor_loss"], skip)
        t_actor = time.perf_counter()

        # 3. Critic: regress onto the detached returns from detached features.
        tensors: dict[str, torch.Tensor] = dict(terms)
        if cfg.value_estimator != "reward_sum":  # V_R needs no value model
            value = self.critic(out["feat"][:-1].detach())  # (H, N)
            v_loss = value_loss(value, out["returns"], out["weights"])
            skip = skip.maximum((~torch.isfinite(v_loss)).float())
            tensors["value_loss"] = v_loss.detach()
            tensors["value_grad_norm"] = self._step(self.value_opt, self.critic, v_loss, skip)
        t_value = time.perf_counter()

        tensors.update(
            actor_loss=out["actor_loss"].detach(),
            model_grad_norm=model_norm,
            actor_grad_norm=actor_norm,
            imagined_return=out["returns"].detach().mean(),
            imagined_reward=out["reward"].detach().mean(),
        )
        if "entropy" in out:
            tensors["actor_entropy"] = out["entropy"].detach().mean()
        values = torch.stack([v.float() for v in tensors.values()]).tolist()  # the one sync
        metrics: dict[str, Any] = dict(zip(tensors, values))
        for name in LOSSES:
            if name in metrics and not math.isfinite(metrics[name]):
                self._forget_skipped_first_steps()
                raise NonFiniteLossError(
                    f"{name} is {metrics[name]} at update {self.num_updates}; try a lower "
                    "learning rate, fp32 or a smaller grad_clip"
                )
        self.num_updates += 1
        metrics.update(
            time_model=t_model - start, time_actor=t_actor - t_model, time_value=t_value - t_actor
        )
        return metrics

    def _forget_skipped_first_steps(self) -> None:
        """Drop the zero state that Adam creates lazily even for a skipped first step, so an
        optimizer that never stepped is exactly as it was (error path only; reads the host)."""
        for opt in (self.model_opt, self.actor_opt, self.value_opt):
            for param in [p for p, state in opt.state.items() if float(state["step"]) == 0]:
                del opt.state[param]

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
