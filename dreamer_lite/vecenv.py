"""N environments stepping in worker processes, for collection with ``Config.num_envs > 1``.

Shape legend: ``N`` environments, ``A`` action size, ``L`` agent steps in an episode.

Rendering a pixel observation costs milliseconds of CPU (software GL) or of driver time (EGL on
a GPU), and one MuJoCo simulation is single-threaded, so one environment cannot keep a GPU busy.
``ParallelEnvs`` runs N of them, each in its own process, stepping at the same time; the agent
acts on the N observations as one batch (``Dreamer.act`` is batched over B). A *round* plays one
episode in every environment (``run_round``); the training loop stores the N episodes in the
replay one by one, exactly as the single-environment loop stores one (notebook 05).

Why processes with pipes, and not ``gymnasium.vector.AsyncVectorEnv``: gymnasium is not a
dependency of this package, and the standard library does what is needed in a page. Each worker
builds its own environment (MuJoCo and GL contexts cannot be shared between processes, nor
survive a ``fork``), so workers are started with ``spawn``. Observations travel pickled through
a pipe: 12 KB for a 64x64 frame, tens of microseconds against the milliseconds of rendering, so
shared memory would add code for little.

With ``num_envs == 1`` the training loop keeps its single environment in its own process and
``rollout.run_episode`` (the one loop for one environment); ``run_round`` is its batched twin.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dreamer_lite.config import Config
from dreamer_lite.rollout import EpisodeRecorder, random_action

if TYPE_CHECKING:  # annotations only (typing.Self is Python 3.11+)
    from typing import Self


def _worker(connection, factory: Callable[[Config, int], Any], cfg: Config, seed: int) -> None:
    """A worker process: build ``factory(cfg, seed)``, then answer commands until ``close``."""
    try:
        env = factory(cfg, seed)
        spec = {
            "obs_shape": tuple(env.obs_shape),
            "action_dim": int(env.action_dim),
            "discrete": bool(getattr(env, "discrete", False)),
            "action_repeat": int(getattr(env, "action_repeat", cfg.action_repeat)),
        }
        connection.send(("ok", spec))
        while True:
            command, argument = connection.recv()
            if command == "reset":
                connection.send(("ok", env.reset()))
            elif command == "step":
                connection.send(("ok", env.step(argument)))
            elif command == "close":
                getattr(env, "close", lambda: None)()
                connection.send(("ok", None))
                return
    except Exception:  # noqa: BLE001 -- raised by the parent, with the worker's traceback
        connection.send(("error", traceback.format_exc()))


class ParallelEnvs:
    """N environments ``factory(cfg, seed)``, one per worker process, for ``run_round``.

    Args:
        factory: ``(cfg, seed) -> env`` with ``reset() -> obs``, ``step(action) -> (obs,
            reward, done, info)``, ``obs_shape`` and ``action_dim``; it must be picklable (a
            module-level function such as ``envs.make_task_env``, or a ``functools.partial``).
        cfg: passed to the factory.
        seeds: one per environment (the training loop uses ``cfg.seed + i``).

    ``obs_shape``, ``action_dim``, ``discrete`` and ``action_repeat`` are those of environment 0.
    """

    def __init__(
        self, factory: Callable[[Config, int], Any], cfg: Config, seeds: Sequence[int]
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._connections, self._processes = [], []
        for seed in seeds:
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(child, factory, cfg, seed), daemon=True)
            process.start()
            child.close()
            self._connections.append(parent)
            self._processes.append(process)
        specs = [self._receive(i) for i in range(len(seeds))]
        self.num_envs = len(seeds)
        self.obs_shape: tuple[int, ...] = specs[0]["obs_shape"]
        self.action_dim: int = specs[0]["action_dim"]
        self.discrete: bool = specs[0]["discrete"]
        self.action_repeat: int = specs[0]["action_repeat"]

    def _receive(self, index: int) -> Any:
        """The answer of worker ``index``; its exception, if it raised one, as a RuntimeError."""
        try:
            status, payload = self._connections[index].recv()
        except EOFError:
            raise RuntimeError(f"environment worker {index} died without a word") from None
        if status == "error":
            raise RuntimeError(f"environment worker {index} failed:\n{payload}")
        return payload

    def reset(self) -> np.ndarray:
        """Reset every environment; returns the first observations (N, *obs_shape)."""
        for connection in self._connections:
            connection.send(("reset", None))
        return np.stack([self._receive(i) for i in range(self.num_envs)])

    def step(self, actions: dict[int, np.ndarray]) -> dict[int, tuple]:
        """Step the environments named by ``actions`` ({index: action (A,)}) at the same time;
        returns {index: (obs, reward, done, info)}."""
        for index, action in actions.items():
            self._connections[index].send(("step", action))
        return {index: self._receive(index) for index in actions}

    def close(self) -> None:
        """Close the environments and end the workers (idempotent)."""
        for index, connection in enumerate(self._connections):
            if self._processes[index].is_alive():
                try:
                    connection.send(("close", None))
                    self._receive(index)
                except (OSError, EOFError, RuntimeError):
                    pass
            connection.close()
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
        self._connections, self._processes = [], []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def random_batch_policy(envs: Any, rng: np.random.Generator) -> Callable:
    """A ``run_round`` policy of uniform random actions (N, A), drawn from ``rng`` in order."""

    def policy(obs: np.ndarray, state: Any) -> tuple[np.ndarray, None]:
        return np.stack([random_action(envs, rng) for _ in range(len(obs))]), None

    return policy


def run_round(
    envs: ParallelEnvs,
    policy: Callable[[np.ndarray, Any], tuple[np.ndarray, Any]],
    *,
    on_step: Callable[[int, bool], None] | None = None,
) -> list[EpisodeRecorder]:
    """Play one episode in each of the N environments at once; the batched ``run_episode``.

    ``policy(obs (N, *obs_shape), state) -> (actions (N, A), state)``, state None at first. An
    environment whose episode has ended waits for the others (its action is ignored).
    ``on_step(stepped, finished)`` is called after every joint step with the number of
    environments that stepped and whether every episode has now ended (the training loop counts
    ``stepped * action_repeat`` env steps there and trains when due).

    Returns the N recorders (L steps each), in environment order.
    """
    obs = envs.reset()  # (N, *obs_shape)
    recorders = [EpisodeRecorder(o.copy(), envs.action_dim) for o in obs]  # obs is reused
    active = list(range(envs.num_envs))
    state = None
    while active:
        actions, state = policy(obs, state)  # (N, A)
        results = envs.step({i: actions[i] for i in active})
        for index, (next_obs, reward, done, _) in results.items():
            recorders[index].add(actions[index], reward, next_obs)
            obs[index] = next_obs
        stepped = len(active)
        active = [index for index in active if not results[index][2]]
        if on_step is not None:
            on_step(stepped, not active)
    return recorders
