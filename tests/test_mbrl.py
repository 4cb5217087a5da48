"""Tests of dreamer_lite.course.mbrl: one-step models, open-loop error, random episodes, Dyna-Q."""

from collections import deque

import numpy as np
import pytest
import torch
from torch import nn

from dreamer_lite.course.mbrl import (
    GridMaze,
    OneStepModel,
    dyna_q,
    fit_one_step_model,
    open_loop_error,
    pole_qpos,
    random_episodes,
    render_states,
    rollout_model,
    stack_episodes,
)
from tests.fakes import FakeEnv


class LinearSystem(nn.Module):
    """x' = M x + B a: a known model, so open-loop predictions of its own data are exact."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.m = 0.9 * torch.linalg.qr(torch.randn(3, 3, generator=gen))[0]  # stable
        self.b = torch.randn(2, 3, generator=gen)

    def forward(self, state, action):
        return state @ self.m.T + action @ self.b


def linear_data(length=30, episodes=4, seed=0, noise=0.0):
    """states (L+1, E, 3), actions (L+1, E, 2) of LinearSystem in the replay layout."""
    system = LinearSystem()
    gen = torch.Generator().manual_seed(seed)
    actions = torch.rand(length + 1, episodes, 2, generator=gen) * 2 - 1
    actions[0] = 0  # entry 0 has no action
    states = [torch.randn(episodes, 3, generator=gen)]
    for t in range(1, length + 1):
        nxt = system(states[-1], actions[t]) + noise * torch.randn(episodes, 3, generator=gen)
        states.append(nxt)
    return system, torch.stack(states), actions


def test_one_step_model_predicts_a_change():
    """A zero-initialised last layer predicts 'no change': x_{t+1} = x_t."""
    model = OneStepModel(3, 2, units=8)
    nn.init.zeros_(model.net.net[-1].weight)
    nn.init.zeros_(model.net.net[-1].bias)
    state = torch.randn(5, 3)
    torch.testing.assert_close(model(state, torch.randn(5, 2)), state)


def test_rollout_model_matches_a_loop():
    """(H+1, N, X), entry 0 the start, every entry the model applied to the previous one."""
    system = LinearSystem()
    state, actions = torch.randn(4, 3), torch.randn(6, 4, 2)
    out = rollout_model(system, state, actions)
    assert out.shape == (7, 4, 3)
    torch.testing.assert_close(out[0], state)
    for t in range(6):
        torch.testing.assert_close(out[t + 1], system(out[t], actions[t]))


def test_open_loop_error_matches_a_plain_loop():
    """The vectorised version equals averaging rollout errors start by start."""
    torch.manual_seed(0)
    model = OneStepModel(3, 2, units=16)
    _, states, actions = linear_data(noise=0.1)
    horizon = 7
    expected = torch.zeros(horizon + 1)
    starts = range(states.shape[0] - 1 - horizon + 1)
    with torch.no_grad():
        for t in starts:
            predicted = rollout_model(model, states[t], actions[t + 1 : t + 1 + horizon])
            expected += ((predicted - states[t : t + horizon + 1]) ** 2).mean(dim=(1, 2))
    expected /= len(starts)
    torch.testing.assert_close(open_loop_error(model, states, actions, horizon), expected)


def test_open_loop_error_of_the_true_model_is_zero():
    """The system that generated the data predicts it exactly, at every horizon."""
    system, states, actions = linear_data()
    errors = open_loop_error(system, states, actions, 10)
    assert errors.shape == (11,)
    torch.testing.assert_close(errors, torch.zeros(11), atol=1e-10, rtol=0)


def test_open_loop_error_rejects_a_too_long_horizon():
    system, states, actions = linear_data(length=5)
    with pytest.raises(ValueError, match="horizon"):
        open_loop_error(system, states, actions, 6)


def test_fit_one_step_model_learns_and_error_compounds():
    """Regression on a linear system lowers the loss, and open-loop error grows with horizon."""
    torch.manual_seed(0)
    _, states, actions = linear_data(length=50, episodes=8, noise=0.01)
    model = OneStepModel(3, 2, units=16, layers=1)
    losses = fit_one_step_model(model, states, actions, steps=150, batch_size=32, lr=3e-3)
    assert len(losses) == 150
    assert np.mean(losses[-20:]) < 0.1 * np.mean(losses[:5])
    errors = open_loop_error(model, states, actions, 10)
    assert errors[0] == 0
    assert errors[10] > errors[1] > 0


def test_random_episodes_follow_the_replay_layout():
    """obs/action/reward have L+1 entries; entry 0 holds no action and no reward."""
    env = FakeEnv(seed=0, length=12, obs_type="state")
    episodes = random_episodes(env, 3, seed=0)
    assert len(episodes) == 3
    for episode in episodes:
        assert episode["obs"].shape == (13, 2)
        assert episode["action"].shape == (13, 1) and episode["reward"].shape == (13,)
        assert (episode["action"][0] == 0).all() and episode["reward"][0] == 0
        assert (np.abs(episode["action"][1:]) <= 1).all()
    states, actions = stack_episodes(episodes)
    assert states.shape == (13, 3, 2) and actions.shape == (13, 3, 1)
    assert states.dtype == torch.float32
    again = random_episodes(FakeEnv(seed=0, length=12, obs_type="state"), 3, seed=0)
    np.testing.assert_array_equal(again[2]["action"], episodes[2]["action"])


def shortest_path(maze: GridMaze) -> int:
    """Breadth-first search over the maze's own step function."""
    queue, dist = deque([maze.start]), {maze.start: 0}
    while queue:
        s = queue.popleft()
        for a in range(maze.num_actions):
            maze.state = s
            s_next, _, _ = maze.step(a)
            if s_next not in dist:
                dist[s_next] = dist[s] + 1
                queue.append(s_next)
    return dist[maze.goal]


def test_grid_maze_walls_and_goal():
    maze = GridMaze()
    assert (maze.height, maze.width, maze.num_actions) == (6, 9, 4)
    assert maze.reset() == maze.start == 2 * 9
    assert maze.step(3) == (2 * 9 + 1, 0.0, False)  # right: free
    assert maze.step(3) == (2 * 9 + 1, 0.0, False)  # right again: a wall, stay
    maze.reset()
    assert maze.step(2) == (2 * 9, 0.0, False)  # left: the border, stay
    maze.state = maze.goal + maze.width  # just below the goal
    assert maze.step(0) == (maze.goal, 1.0, True)
    assert shortest_path(maze) == 14


def test_dyna_q_planning_speeds_up_learning():
    """Same seeds: planning with the learned table model needs far fewer real steps, and both
    end near the shortest path (epsilon-greedy adds a few steps)."""
    seeds = range(3)
    plain = np.array([dyna_q(GridMaze(), 30, 0, seed=s)[0] for s in seeds])
    dyna = np.array([dyna_q(GridMaze(), 30, 20, seed=s)[0] for s in seeds])
    assert dyna[:, 1:10].sum() < 0.5 * plain[:, 1:10].sum()
    assert dyna[:, -5:].mean() < 25
    steps, q = dyna_q(GridMaze(), 5, 5, seed=1)
    assert q.shape == (6 * 9, 4) and q.max() <= 1.0
    again = dyna_q(GridMaze(), 5, 5, seed=1)
    assert steps == again[0] and np.array_equal(q, again[1])


@pytest.mark.dmc
@pytest.mark.parametrize("task", ["cartpole_swingup", "pendulum_swingup"])
def test_render_states_uses_the_tasks_angle_convention(task):
    """Setting qpos from a state reproduces that state's observed positions; frames come out
    (T, S, S, 3) and the env's own state is left untouched."""
    from dreamer_lite.envs import make_env

    env = make_env(task, obs_type="state", action_repeat=2, time_limit=60, seed=3)
    states, _ = stack_episodes(random_episodes(env, 1, seed=1))
    physics = env.physics
    before = physics.get_state().copy()
    frames = render_states(env, states[::10, 0].numpy(), size=32)
    assert frames.shape == (len(states[::10]), 32, 32, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(physics.get_state(), before)
    key = "position" if task.startswith("cartpole") else "orientation"
    for state in states[::7, 0].numpy():
        with physics.reset_context():
            physics.data.qpos[:] = pole_qpos(task, state)
        observed = env._env.task.get_observation(physics)[key]
        np.testing.assert_allclose(observed, state[: len(observed)], atol=1e-5)
    env.close()
