"""Model-based RL basics for notebook 00: one-step dynamics models, open-loop rollouts, Dyna-Q.

Shape legend: ``N`` batch, ``H`` horizon, ``L`` agent steps per episode, ``E`` episodes,
``X`` state (proprioceptive vector), ``A`` action.

A one-step model predicts x_{t+1} from (x_t, a_t). Used open loop -- each prediction fed back
as the next input -- its small one-step errors compound with the horizon: the reason Dreamer
imagines only 15 steps ahead and why "when to trust your model" matters.

Dyna (Sutton 1991) is the oldest way to use a learned model: remember what each action did, and
between real steps replay imagined transitions from that memory to do extra value updates.
``GridMaze`` and ``dyna_q`` show it on a tiny discrete maze (Sutton & Barto 2018, Section 8.2).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from dreamer_lite.networks import MLP
from dreamer_lite.rollout import random_policy, run_episode


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one CPU thread for a while. The models here are tiny: extra threads only add
    overhead, and on a busy 2-core machine they can make training tens of times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class OneStepModel(nn.Module):
    """x_{t+1} = x_t + f(x_t, a_t): an MLP that predicts the change of the state (N, X)."""

    def __init__(self, state_size: int, action_size: int, units: int = 128, layers: int = 2):
        super().__init__()
        self.net = MLP(state_size + action_size, state_size, units=units, layers=layers)

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return state + self.net(torch.cat([state, action], dim=-1))  # (N, X)


def rollout_model(model: nn.Module, state: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Open-loop prediction: start at ``state`` (N, X), apply ``actions`` (H, N, A) one by one,
    each time feeding the model its own previous prediction. Returns (H+1, N, X), entry 0 the
    start state itself."""
    states = [state]
    for action in actions:
        state = model(state, action)
        states.append(state)
    return torch.stack(states)  # (H+1, N, X)


def fit_one_step_model(
    model: nn.Module,
    states: torch.Tensor,
    actions: torch.Tensor,
    *,
    steps: int = 2000,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
) -> list[float]:
    """Fit ``model`` by regression on transitions of real episodes.

    states (L+1, E, X) and actions (L+1, E, A) of E episodes in the replay layout (``actions[t]``
    leads into ``states[t]``), so the pairs are (states[t], actions[t+1]) -> states[t+1].
    Returns the training losses (mean squared error per step).
    """
    inputs = states[:-1].reshape(-1, states.shape[-1])  # (L*E, X)
    acts = actions[1:].reshape(-1, actions.shape[-1])  # (L*E, A)
    targets = states[1:].reshape(-1, states.shape[-1])  # (L*E, X)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    with _one_thread():
        for _ in range(steps):
            index = torch.randint(len(inputs), (batch_size,), generator=generator)
            loss = ((model(inputs[index], acts[index]) - targets[index]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


@torch.no_grad()
def open_loop_error(
    model: nn.Module, states: torch.Tensor, actions: torch.Tensor, horizon: int
) -> torch.Tensor:
    """Mean squared error of open-loop predictions against the truth at each horizon.

    states (L+1, E, X), actions (L+1, E, A): held-out episodes in the replay layout. Every t with
    t + horizon <= L is a start. Returns (horizon + 1,): error after 0, 1, ..., horizon steps.
    """
    length = states.shape[0] - 1
    if not 0 <= horizon <= length:
        raise ValueError(f"horizon must lie in [0, {length}] for episodes of {length} steps")
    num_starts = length - horizon + 1
    # All starts at once: window k of every episode becomes one more batch entry.
    truth = torch.stack([states[t : t + horizon + 1] for t in range(num_starts)], dim=2)
    acts = torch.stack([actions[t + 1 : t + 1 + horizon] for t in range(num_starts)], dim=2)
    truth = truth.flatten(1, 2)  # (H+1, E * starts, X)
    acts = acts.flatten(1, 2)  # (H, E * starts, A)
    with _one_thread():
        predicted = rollout_model(model, truth[0], acts)  # (H+1, E * starts, X)
    return ((predicted - truth) ** 2).mean(dim=(1, 2))  # (H+1,)


# --- collecting real transitions -----------------------------------------------------------------


def random_episodes(env: Any, episodes: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Play ``episodes`` whole episodes of ``env`` with uniform random actions.

    Returns one dict per episode in the replay layout (``dreamer_lite.replay``): ``obs``
    (L+1, *obs_shape), ``action`` (L+1, A) with ``action[t]`` leading into ``obs[t]`` (entry 0
    is zero), ``reward`` (L+1,). Ready for ``ReplayBuffer.add_episode``. Notebooks 00 and 01.
    """
    policy = random_policy(env, np.random.default_rng(seed))
    return [run_episode(env, policy)[0].episode() for _ in range(episodes)]


def stack_episodes(episodes: list[dict[str, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Episodes of equal length -> (states (L+1, E, X), actions (L+1, E, A)) float tensors, the
    input of ``fit_one_step_model`` and ``open_loop_error``."""
    states = torch.as_tensor(np.stack([ep["obs"] for ep in episodes], axis=1)).float()
    actions = torch.as_tensor(np.stack([ep["action"] for ep in episodes], axis=1)).float()
    return states, actions  # (L+1, E, X), (L+1, E, A)


_POLE_DOMAINS = {"cartpole": 1, "pendulum": 0}  # domain -> index of cos(angle) in the state


def pole_qpos(task: str, state: Any) -> np.ndarray:
    """The simulator positions (qpos) of a cartpole or pendulum state vector (X,).

    cartpole: [cart position, pole angle]; pendulum: [pole angle]. dm_control reports the pole's
    rotation entries (zz, xz), i.e. the cosine and sine of the hinge angle, so angle = atan2.
    """
    domain = task.split("_")[0]
    if domain not in _POLE_DOMAINS:
        raise ValueError(f"only cartpole and pendulum states can be rendered, not {task!r}")
    cos_index = _POLE_DOMAINS[domain]
    angle = math.atan2(float(state[cos_index + 1]), float(state[cos_index]))
    return np.array([float(state[0]), angle] if domain == "cartpole" else [angle])


def render_states(env: Any, states: Any, size: int | None = None) -> np.ndarray:
    """Render proprioceptive states of cartpole or pendulum as frames (T, S, S, 3) uint8.

    states (T, X), e.g. a model's open-loop predictions. The simulator is set to each state's
    positions (``pole_qpos``; velocities do not show in a picture) and rendered, so predicted
    and true trajectories can be watched side by side. The env's own state is restored after.
    """
    physics = env.physics
    saved = physics.get_state().copy()
    frames = []
    for state in np.asarray(states, dtype=np.float64):
        qpos = pole_qpos(env.task, state)
        with physics.reset_context():
            physics.data.qpos[:] = qpos
            physics.data.qvel[:] = 0.0
        frames.append(env.render(size))
    with physics.reset_context():
        physics.set_state(saved)
    return np.stack(frames)  # (T, S, S, 3)


# --- Dyna-Q on a tiny maze -----------------------------------------------------------------------


class GridMaze:
    """A deterministic grid maze: the Dyna maze of Sutton & Barto (2018), Figure 8.2.

    States are cell numbers ``row * width + col``; actions 0..3 are up, down, left, right.
    Walls and the border leave the agent where it is. Reaching the goal gives reward 1 and ends
    the episode; every other step gives 0.
    """

    LAYOUT = (
        "       #G",
        "  #    # ",
        "S #    # ",
        "  #      ",
        "     #   ",
        "         ",
    )
    MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right

    def __init__(self, layout: tuple[str, ...] | None = None) -> None:
        self.layout = tuple(layout or self.LAYOUT)
        self.height, self.width = len(self.layout), len(self.layout[0])
        cells = {ch: (r, c) for r, row in enumerate(self.layout) for c, ch in enumerate(row)}
        self.start = self._index(*cells["S"])
        self.goal = self._index(*cells["G"])
        self.num_states = self.height * self.width
        self.num_actions = len(self.MOVES)
        self.state = self.start

    def _index(self, row: int, col: int) -> int:
        return row * self.width + col

    def reset(self) -> int:
        self.state = self.start
        return self.state

    def step(self, action: int) -> tuple[int, float, bool]:
        """Move; returns (next state, reward, done)."""
        row, col = divmod(self.state, self.width)
        d_row, d_col = self.MOVES[action]
        new_row, new_col = row + d_row, col + d_col
        inside = 0 <= new_row < self.height and 0 <= new_col < self.width
        if inside and self.layout[new_row][new_col] != "#":
            self.state = self._index(new_row, new_col)
        done = self.state == self.goal
        return self.state, float(done), done


def dyna_q(
    maze: GridMaze,
    episodes: int = 50,
    planning_steps: int = 0,
    *,
    alpha: float = 0.1,
    gamma: float = 0.95,
    epsilon: float = 0.1,
    max_steps: int = 10_000,
    seed: int = 0,
) -> tuple[list[int], np.ndarray]:
    """Tabular Dyna-Q (Sutton 1991). Returns the number of real steps of each episode and the
    final action values Q (num_states, num_actions).

    Every real step does one Q-learning update from the real transition and stores it in a
    table model ``(s, a) -> (r, s', done)`` (the maze is deterministic, so remembering is
    learning). Then ``planning_steps`` times: pick a remembered (s, a) at random, ask the model
    what happens, and do the same Q-learning update on that imagined transition. With
    ``planning_steps=0`` this is plain Q-learning. epsilon-greedy actions, ties broken at random.
    """
    rng = np.random.default_rng(seed)
    q = np.zeros((maze.num_states, maze.num_actions))
    model: dict[tuple[int, int], tuple[float, int, bool]] = {}
    seen: list[tuple[int, int]] = []  # the keys of ``model``, for uniform sampling

    def update(s: int, a: int, r: float, s_next: int, done: bool) -> None:
        target = r if done else r + gamma * q[s_next].max()
        q[s, a] += alpha * (target - q[s, a])

    steps_per_episode = []
    for _ in range(episodes):
        s, done, steps = maze.reset(), False, 0
        while not done and steps < max_steps:
            if rng.random() < epsilon:
                a = int(rng.integers(maze.num_actions))
            else:
                best = np.flatnonzero(q[s] == q[s].max())
                a = int(rng.choice(best))
            s_next, r, done = maze.step(a)
            update(s, a, r, s_next, done)  # direct RL: learn from the real step
            if (s, a) not in model:
                seen.append((s, a))
            model[(s, a)] = (r, s_next, done)  # model learning
            for _ in range(planning_steps):  # planning: learn from imagined steps
                ps, pa = seen[rng.integers(len(seen))]
                update(ps, pa, *model[(ps, pa)])
            s, steps = s_next, steps + 1
        steps_per_episode.append(steps)
    return steps_per_episode, q
