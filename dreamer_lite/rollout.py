"""Running episodes: random seed episodes, collection with exploration, evaluation with the mode.

An episode is stored as in ``dreamer_lite.replay``: arrays of length L+1 where ``action[t]``
and ``reward[t]`` lead *into* ``obs[t]`` (entry 0 holds the reset observation, a zero action and
zero reward). Used by the training loop (notebook 05) and to measure a random policy's return.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Policy = Callable[[np.ndarray], np.ndarray]


class EpisodeRecorder:
    """Collects one episode step by step in the replay layout."""

    def __init__(self, obs: np.ndarray, action_size: int) -> None:
        self.obs = [obs]
        self.action = [np.zeros(action_size, np.float32)]
        self.reward = [0.0]

    def add(self, action: np.ndarray, reward: float, obs: np.ndarray) -> None:
        """Record the action taken, the reward it earned and the observation it led to."""
        self.action.append(np.asarray(action, np.float32))
        self.reward.append(float(reward))
        self.obs.append(obs)

    def __len__(self) -> int:
        return len(self.obs) - 1  # agent steps

    @property
    def total_reward(self) -> float:
        return float(sum(self.reward))

    def episode(self) -> dict[str, np.ndarray]:
        return {
            "obs": np.stack(self.obs),
            "action": np.stack(self.action),
            "reward": np.asarray(self.reward, np.float32),
        }


def random_action(env: Any, rng: np.random.Generator) -> np.ndarray:
    """A uniform random action: in [-1, 1]^A, or a random one-hot vector for discrete envs."""
    if getattr(env, "discrete", False):
        return np.eye(env.action_dim, dtype=np.float32)[rng.integers(env.action_dim)]
    return rng.uniform(-1.0, 1.0, env.action_dim).astype(np.float32)


def run_episode(
    env: Any,
    policy: Callable[[np.ndarray, Any], tuple[np.ndarray, Any]],
    *,
    render: bool = False,
    render_size: int | None = None,
) -> tuple[EpisodeRecorder, list[np.ndarray]]:
    """Play one whole episode. ``policy(obs, state) -> (action, state)``, state None at first.

    Returns the recorder and, if ``render``, the frames (H, W, 3) uint8 of every step.
    """
    obs = env.reset()
    recorder = EpisodeRecorder(obs, env.action_dim)
    frames = [env.render(render_size)] if render else []
    state, done = None, False
    while not done:
        action, state = policy(obs, state)
        obs, reward, done, _ = env.step(action)
        recorder.add(action, reward, obs)
        if render:
            frames.append(env.render(render_size))
    return recorder, frames


def random_policy_return(env: Any, episodes: int = 5, seed: int = 0) -> float:
    """Mean return of uniform random actions over ``episodes`` episodes of ``env``."""
    rng = np.random.default_rng(seed)
    returns = [
        run_episode(env, lambda obs, s: (random_action(env, rng), None))[0].total_reward
        for _ in range(episodes)
    ]
    return float(np.mean(returns))
