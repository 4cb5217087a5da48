"""One honest learning check on real frames: the tiny world model learns to reconstruct them."""

import numpy as np
import pytest
import torch

from dreamer_lite.config import Config
from dreamer_lite.envs import make_env
from dreamer_lite.replay import ReplayBuffer
from dreamer_lite.rollout import random_action, run_episode
from dreamer_lite.world_model import WorldModel, preprocess_obs


@torch.no_grad()
def reconstruction_error(model: WorldModel, batch: dict) -> float:
    post, _ = model.observe(batch)
    return ((model.decode(post.feat) - preprocess_obs(batch["obs"])) ** 2).mean().item()


@pytest.mark.dmc
@pytest.mark.learning
def test_tiny_world_model_learns_real_cartpole_frames(tmp_path):
    """300 updates on random-action cartpole frames cut the pixel error to under a third."""
    torch.manual_seed(0)
    env = make_env("cartpole_swingup", action_repeat=4, time_limit=400, shadows=False, seed=1)
    rng = np.random.default_rng(0)
    replay = ReplayBuffer(tmp_path, seed=0)
    for _ in range(4):
        recorder, _ = run_episode(env, lambda obs, state: (random_action(env, rng), None))
        replay.add_episode(recorder.episode())
    cfg = Config.tiny(cnn_depth=8, deter_size=32, stoch_size=8, hidden_size=32, units=32)
    model = WorldModel.from_config(cfg, env.obs_shape, env.action_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    held_out = replay.sample(8, 16)
    before = reconstruction_error(model, held_out)
    for _ in range(300):
        loss, _, _ = model.loss(replay.sample(8, 16))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = reconstruction_error(model, held_out)
    assert after < before / 3, f"pixel MSE {before:.4f} -> {after:.4f}"
