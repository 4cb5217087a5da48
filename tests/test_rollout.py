"""Tests of dreamer_lite.rollout: the one episode loop, its hook and step limit, random actions."""

from __future__ import annotations

import numpy as np

from dreamer_lite.rollout import (
    EpisodeRecorder,
    random_action,
    random_policy,
    random_policy_return,
    run_episode,
)
from tests.fakes import FakeEnv


def test_run_episode_records_the_replay_layout():
    """entry 0: reset obs, zero action and reward; entry t: the action into obs t and its reward."""
    env = FakeEnv(seed=0, length=6, obs_type="state")
    actions = [np.array([0.5], np.float32)] * 6
    recorder, frames = run_episode(env, lambda obs, state: (actions[0], state))
    episode = recorder.episode()
    assert len(recorder) == 6 and frames == []
    assert episode["obs"].shape == (7, 2) and episode["action"].shape == (7, 1)
    assert episode["action"][0, 0] == 0.0 and episode["reward"][0] == 0.0
    np.testing.assert_allclose(episode["action"][1:, 0], 0.5)
    # FakeEnv: position += 0.2 * action each step; the state's second entry is t / length.
    np.testing.assert_allclose(episode["obs"][1:, 1], np.arange(1, 7) / 6, rtol=1e-6)
    np.testing.assert_allclose(episode["reward"][1:], 1 - np.abs(episode["obs"][1:, 0]), rtol=1e-6)
    assert abs(recorder.total_reward - float(episode["reward"].sum())) < 1e-5


def test_run_episode_threads_the_policy_state():
    env = FakeEnv(seed=0, length=4, obs_type="state")
    seen = []

    def counting_policy(obs, state):
        seen.append(state)
        return np.zeros(1, np.float32), (0 if state is None else state + 1)

    run_episode(env, counting_policy)
    assert seen == [None, 0, 1, 2]


def test_on_step_sees_every_step_after_it_is_recorded():
    env = FakeEnv(seed=1, length=5, obs_type="state")
    calls = []

    def on_step(obs, reward, done, info):
        calls.append((float(obs[1]), reward, done))

    recorder, _ = run_episode(env, random_policy(env, np.random.default_rng(0)), on_step=on_step)
    assert [done for *_, done in calls] == [False] * 4 + [True]
    assert [reward for _, reward, _ in calls] == recorder.reward[1:]
    np.testing.assert_allclose([t for t, _, _ in calls], np.arange(1, 6) / 5, rtol=1e-6)


def test_max_steps_cuts_an_episode_short_and_render_adds_frames():
    env = FakeEnv(seed=0, length=50)
    recorder, frames = run_episode(
        env, random_policy(env, np.random.default_rng(0)), max_steps=3, render=True
    )
    assert len(recorder) == 3
    assert len(frames) == 4 and frames[0].shape == (64, 64, 3)  # the start and every step


def test_random_policy_draws_the_same_actions_as_random_action():
    env = FakeEnv(seed=0, length=5, obs_type="state")
    recorder, _ = run_episode(env, random_policy(env, np.random.default_rng(3)))
    rng = np.random.default_rng(3)
    expected = np.stack([random_action(env, rng) for _ in range(5)])
    np.testing.assert_array_equal(recorder.episode()["action"][1:], expected)
    assert np.all(np.abs(expected) <= 1.0)


def test_random_action_discrete_is_one_hot():
    class Discrete:
        discrete, action_dim = True, 4

    action = random_action(Discrete(), np.random.default_rng(0))
    assert action.shape == (4,) and action.sum() == 1.0 and set(action) <= {0.0, 1.0}


def test_random_policy_return_averages_episodes():
    """The mean over episodes of the summed rewards, counted here with a plain loop."""
    rng = np.random.default_rng(5)
    env = FakeEnv(seed=2, length=8, obs_type="state")
    totals = []
    for _ in range(3):
        env.reset()
        total, done = 0.0, False
        while not done:
            _, reward, done, _ = env.step(random_action(env, rng))
            total += reward
        totals.append(total)
    value = random_policy_return(FakeEnv(seed=2, length=8, obs_type="state"), episodes=3, seed=5)
    assert abs(value - float(np.mean(totals))) < 1e-9


def test_recorder_length_counts_agent_steps():
    recorder = EpisodeRecorder(np.zeros(2), action_size=1)
    assert len(recorder) == 0
    recorder.add(np.ones(1), 2.0, np.ones(2))
    assert len(recorder) == 1 and recorder.total_reward == 2.0
