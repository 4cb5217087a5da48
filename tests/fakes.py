"""A tiny fake environment for fast tests of the training loop (no MuJoCo, no rendering).

A point on a line: action in [-1, 1] moves it, reward is high near the centre, and the
observation is a 64x64 picture with a bright column at the point's position, so a world model
can learn it. Real-environment tests live in test_envs.py and test_learning.py.
"""

from __future__ import annotations

import numpy as np
import torch


class FakeEnv:
    discrete = False

    def __init__(
        self, seed: int = 0, length: int = 50, obs_type: str = "pixels", nan_reward: bool = False
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.length = length
        self.obs_type = obs_type
        self.nan_reward = nan_reward
        self.action_dim = 1
        self.obs_shape = (3, 64, 64) if obs_type == "pixels" else (2,)
        self.action_repeat = 1
        self.max_agent_steps = length

    def _obs(self) -> np.ndarray:
        if self.obs_type == "state":
            return np.array([self.pos, self.t / self.length], np.float32)
        image = np.zeros(self.obs_shape, np.uint8)
        column = int(np.clip((self.pos + 1) / 2 * 63, 0, 63))
        image[:, :, column] = 255
        return image

    def reset(self) -> np.ndarray:
        self.pos, self.t = float(self.rng.uniform(-1, 1)), 0
        return self._obs()

    def step(self, action):
        action = np.asarray(action, np.float32).reshape(self.action_dim)
        self.pos = float(np.clip(self.pos + 0.2 * action[0], -1, 1))
        self.t += 1
        reward = float("nan") if self.nan_reward else 1.0 - abs(self.pos)
        return self._obs(), reward, self.t >= self.length, {"discount": 1.0}

    def render(self, size=None) -> np.ndarray:
        frame = np.zeros((64, 64, 3), np.uint8)
        frame[:, int(np.clip((self.pos + 1) / 2 * 63, 0, 63))] = 255
        return frame


def fake_factory(cfg, seed, **kwargs):
    """``env_factory`` for ``dreamer_lite.train.train``."""
    length = cfg.time_limit // cfg.action_repeat
    return FakeEnv(seed=seed, length=length, obs_type=cfg.obs_type, **kwargs)


def pixel_batch(cfg, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A random replay batch of 64x64 frames (T, B, 3, 64, 64), 1-d actions and rewards."""
    shape = (cfg.seq_len, cfg.batch_size)
    return {
        "obs": torch.randint(0, 256, (*shape, 3, 64, 64), dtype=torch.uint8, generator=generator),
        "action": torch.rand(*shape, 1, generator=generator) * 2 - 1,
        "reward": torch.rand(*shape, generator=generator),
    }


def tiny_run_config(**overrides):
    """A training run on ``fake_factory``: 40-step episodes of 160 env steps, 2 updates every 80
    env steps (8 updates in 480 env steps), an evaluation every 160 and a checkpoint every 80."""
    from dreamer_lite.config import Config

    values = {
        "device": "cpu",
        "time_limit": 160,
        "total_steps": 480,
        "train_every": 80,
        "train_steps": 2,
        "eval_every": 160,
        "checkpoint_every": 80,
        "seed_episodes": 1,
    }
    values.update(overrides)
    return Config.tiny(**values)
