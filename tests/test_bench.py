"""The benchmark runs and prints what it promises (its figures are measured, not tested)."""

import json

import pytest
import torch

from dreamer_lite.bench import bench_env, main, random_batch
from dreamer_lite.config import Config
from tests.fakes import FakeEnv


def test_random_batch_shapes_ranges_and_seed():
    cfg = Config.tiny()
    batch = random_batch(cfg, (3, 64, 64), 2, seed=1)
    T, B = cfg.seq_len, cfg.batch_size
    assert batch["obs"].shape == (T, B, 3, 64, 64) and batch["obs"].dtype == torch.uint8
    assert batch["action"].shape == (T, B, 2) and batch["action"].abs().max() <= 1
    assert batch["reward"].shape == (T, B) and 0 <= batch["reward"].min()
    again = random_batch(cfg, (3, 64, 64), 2, seed=1)
    assert all(torch.equal(batch[k], again[k]) for k in batch)
    other = random_batch(cfg, (3, 64, 64), 2, seed=2)
    assert not torch.equal(batch["obs"], other["obs"])


def test_random_batch_vectors_discrete_and_sizes():
    batch = random_batch(Config.tiny(), (5,), 3, seq_len=4, batch_size=2, discrete=True)
    assert batch["obs"].shape == (4, 2, 5) and batch["obs"].dtype == torch.float32
    assert batch["action"].shape == (4, 2, 3)
    assert torch.equal(batch["action"].sum(-1), torch.ones(4, 2))  # one-hot


def test_bench_env_counts_steps_across_episodes():
    """250 agent steps of 100-step episodes: three resets, exactly 250 steps."""

    class CountingEnv(FakeEnv):
        resets, steps = 0, 0

        def reset(self):
            self.resets += 1
            return super().reset()

        def step(self, action):
            self.steps += 1
            return super().step(action)

    env = CountingEnv(seed=0, length=100)
    result = bench_env(env, steps=250)
    assert env.steps == 250 and env.resets == 3
    assert result["env_steps_per_s"] == pytest.approx(result["agent_steps_per_s"])  # repeat 1


def test_bench_json_has_the_figures(capsys):
    main(
        [
            "--preset",
            "tiny",
            "--device",
            "cpu",
            "--no-env",
            "--json",
            "--warmup",
            "0",
            "--repeats",
            "1",
        ]
    )
    result = json.loads(capsys.readouterr().out)
    for key in ("update_s", "model_s", "actor_s", "value_s", "act_ms", "peak_rss_mb"):
        assert result[key] > 0, key
    assert result["preset"] == "tiny" and result["device"] == "cpu"


@pytest.mark.dmc
def test_bench_table_with_rendering(capsys):
    main(
        [
            "--preset",
            "tiny",
            "--device",
            "cpu",
            "--warmup",
            "0",
            "--repeats",
            "1",
            "--task",
            "cartpole_balance",
        ]
    )
    out = capsys.readouterr().out
    assert "full update" in out and "env steps/s" in out
