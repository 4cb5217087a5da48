"""Running episodes: random seed episodes, collection with exploration, evaluation with the mode.

An episode is stored as in ``dreamer_lite.replay``: arrays of length L+1 where ``action[t]``
and ``reward[t]`` lead *into* ``obs[t]`` (entry 0 holds the reset observation, a zero action and
zero reward). ``run_episode`` is the one loop that steps an environment: the training loop
(notebook 05), the random baseline, ``bench.bench_env`` and the lessons' random episodes
(``course.mbrl.random_episodes``) all play their episodes through it.

Shape legend: ``A`` action size, ``L`` agent steps in an episode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


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
        """Agent steps recorded so far (L)."""
        return len(self.obs) - 1

    @property
    def total_reward(self) -> float:
        """The episode's return: the sum of its rewards."""
        return float(sum(self.reward))

    def episode(self) -> dict[str, np.ndarray]:
        """The episode as arrays: ``obs`` (L+1, *obs_shape), ``action`` (L+1, A), ``reward``
        (L+1,), ready for ``ReplayBuffer.add_episode``."""
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


def random_policy(env: Any, rng: np.random.Generator) -> Callable[[np.ndarray, Any], tuple]:
    """A ``run_episode`` policy of uniform random actions (``random_action``) drawn from ``rng``."""

    def policy(obs: np.ndarray, state: Any) -> tuple[np.ndarray, None]:
        return random_action(env, rng), None

    return policy


def agent_policy(agent: Any, explore: bool) -> Callable[[np.ndarray, Any], tuple]:
    """A ``run_episode`` policy of a ``Dreamer`` acting on one observation at a time (as a batch
    of one): with exploration noise while collecting, the actor's mode when ``explore`` is off."""

    def policy(obs: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        action, state = agent.act(obs[None], state, explore=explore)
        return action[0], state

    return policy


def run_episode(
    env: Any,
    policy: Callable[[np.ndarray, Any], tuple[np.ndarray, Any]],
    *,
    render: bool = False,
    render_size: int | None = None,
    max_steps: int | None = None,
    on_step: Callable[[np.ndarray, float, bool, dict[str, Any]], None] | None = None,
) -> tuple[EpisodeRecorder, list[np.ndarray]]:
    """Play one episode. ``policy(obs, state) -> (action (A,), state)``, state None at first.

    Args:
        env: ``reset() -> obs``, ``step(action) -> (obs, reward, done, info)``, ``action_dim``.
        render: also return a frame (H, W, 3) uint8 of the start and of every step.
        render_size: the frames' size (None: the env's default).
        max_steps: stop after this many agent steps even if the episode goes on (benchmarks).
        on_step: called after every step with what ``env.step`` returned,
            ``on_step(obs, reward, done, info)`` (the training loop counts steps and trains there).

    Returns the recorder (L steps) and the frames (empty unless ``render``).
    """
    obs = env.reset()
    recorder = EpisodeRecorder(obs, env.action_dim)
    frames = [env.render(render_size)] if render else []
    state, done = None, False
    while not done and (max_steps is None or len(recorder) < max_steps):
        action, state = policy(obs, state)
        obs, reward, done, info = env.step(action)
        recorder.add(action, reward, obs)
        if render:
            frames.append(env.render(render_size))
        if on_step is not None:
            on_step(obs, reward, done, info)
    return recorder, frames


def random_policy_return(env: Any, episodes: int = 5, seed: int = 0) -> float:
    """Mean return of uniform random actions over ``episodes`` episodes of ``env``."""
    policy = random_policy(env, np.random.default_rng(seed))
    return float(np.mean([run_episode(env, policy)[0].total_reward for _ in range(episodes)]))
