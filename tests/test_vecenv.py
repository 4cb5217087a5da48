"""Parallel collection (``Config.num_envs``): workers, rounds, the schedule over all workers."""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pytest

from dreamer_lite.config import Config
from dreamer_lite.replay import ReplayBuffer
from dreamer_lite.rollout import random_policy, run_episode
from dreamer_lite.rundir import load_history
from dreamer_lite.train import train
from dreamer_lite.vecenv import ParallelEnvs, random_batch_policy, run_round
from tests.fakes import FakeEnv, fake_factory


def tiny(**overrides) -> Config:
    values = {
        "device": "cpu",
        "time_limit": 160,
        "total_steps": 480,
        "train_every": 80,
        "train_steps": 2,
        "eval_every": 160,
        "checkpoint_every": 80,
        "seed_episodes": 1,
        "num_envs": 2,
    }
    values.update(overrides)
    return Config.tiny(**values)


def test_round_in_workers_equals_episodes_played_here():
    """Worker i plays what ``factory(cfg, seed_i)`` plays in this process: a round of random
    actions gives, per environment, the episode of ``run_episode`` with the same actions."""
    cfg = tiny(time_limit=40)  # 10 agent steps
    with ParallelEnvs(fake_factory, cfg, seeds=[3, 4]) as envs:
        assert (envs.num_envs, envs.obs_shape, envs.action_dim) == (2, (3, 64, 64), 1)
        recorders = run_round(envs, random_batch_policy(envs, np.random.default_rng(0)))
    rng = np.random.default_rng(0)
    actions = [[rng.uniform(-1, 1, 1) for _ in range(2)] for _ in range(10)]  # (L, N) order
    for i, seed in enumerate([3, 4]):
        script = iter([a[i] for a in actions])
        policy = lambda obs, s, script=script: (next(script), None)
        expected, _ = run_episode(fake_factory(cfg, seed), policy)
        assert len(recorders[i]) == 10
        for key, value in expected.episode().items():
            np.testing.assert_allclose(recorders[i].episode()[key], value, err_msg=key)


def test_round_counts_steps_of_environments_still_running():
    """Episodes of different lengths: ``on_step`` gets the number that stepped; the shorter
    episode's environment waits."""

    calls = []
    with ParallelEnvs(partial(lengths_factory, lengths=(3, 5)), tiny(), seeds=[0, 1]) as envs:
        recorders = run_round(
            envs, random_batch_policy(envs, np.random.default_rng(0)), on_step=_append(calls)
        )
    assert [len(r) for r in recorders] == [3, 5]
    assert calls == [(2, False), (2, False), (2, False), (1, False), (1, True)]


def lengths_factory(cfg, seed, lengths):
    """Environment ``seed`` has episodes of ``lengths[seed]`` steps (picklable for workers)."""
    return FakeEnv(seed=seed, length=lengths[seed])


def _append(calls):
    return lambda stepped, finished: calls.append((stepped, finished))


def test_worker_error_is_raised_with_its_traceback():
    with pytest.raises(RuntimeError, match=r"(?s)worker 0 failed.*IndexError"):
        ParallelEnvs(partial(lengths_factory, lengths=()), tiny(), seeds=[0]).close()


def test_random_batch_policy_draws_like_random_policy():
    env = FakeEnv()
    batch, _ = random_batch_policy(env, np.random.default_rng(5))(np.zeros((3, 2)), None)
    single = random_policy(env, np.random.default_rng(5))
    np.testing.assert_array_equal(batch, np.stack([single(None, None)[0] for _ in range(3)]))


def test_schedule_with_two_envs_counts_steps_of_both(tmp_path):
    """The order of records worked out by hand for two 40-step (160 env step) episodes per
    round: a joint step counts 2 x 4 = 8 env steps. The seed round's 2 episodes are stored and
    counted one after the other (160, 320), as with one env; training is due at 320 (before the
    round), then every 80 env steps from then on, at 400, 480, 560, and at 640 the round has
    ended (its episodes stored first, then evaluated)."""
    train(tiny(), tmp_path, env_factory=fake_factory, progress=False, final_media=False)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [(r["kind"], r["env_steps"]) for r in map(json.loads, lines)]
    assert records == [
        ("episode", 160),
        ("episode", 320),
        ("train", 320),
        ("train", 400),
        ("train", 480),
        ("train", 560),
        ("episode", 640),
        ("episode", 640),
        ("eval", 640),
    ]
    assert [r["updates"] for r in load_history(tmp_path)["train"]] == [2, 4, 6, 8]
    assert len(ReplayBuffer(tmp_path / "episodes").episodes) == 4


def dmc_state(**overrides) -> Config:
    values = {
        "task": "cartpole_balance",
        "obs_type": "state",
        "time_limit": 200,
        "total_steps": 800,
        "train_every": 200,
        "eval_every": 800,
        "checkpoint_every": 400,
    }
    return tiny(**{**values, **overrides})


@pytest.mark.dmc
def test_two_dmc_workers_give_two_episodes_per_round_and_resume(tmp_path):
    """Real cartpole in two workers: 2 episodes of 50 agent steps (200 env steps) per round,
    env steps counted over both (a round adds 400), and a resumed run continues the counters."""
    from dreamer_lite.envs import make_task_env

    history = train(dmc_state(), tmp_path, env_factory=make_task_env, progress=False)
    episodes = history["episode"]
    assert [(r["phase"], r["env_steps"], r["length"]) for r in episodes] == [
        ("seed", 200, 50),
        ("seed", 400, 50),
        ("train", 800, 50),
        ("train", 800, 50),
    ]
    assert [r["env_steps"] for r in history["train"]] == [400, 600]
    updates = history["train"][-1]["updates"]
    history = train(
        dmc_state(total_steps=1200), tmp_path, env_factory=make_task_env, progress=False
    )
    resumed = [r["env_steps"] for r in history["episode"]]
    assert resumed == [200, 400, 800, 800, 1200, 1200]
    assert [r["env_steps"] for r in history["train"]] == [400, 600, 800, 1000]
    assert history["train"][-1]["updates"] == updates + 2 * 2
    assert len(ReplayBuffer(tmp_path / "episodes").episodes) == 6
