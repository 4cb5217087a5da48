"""The training loop's hook for the learner's update step: ``train(..., update_fn=...)``.

The expected runs are plain runs without the hook: with the same seed, a run whose update_fn is
the package's update, or an update written out here with plain optimizer steps, must make the
same records and end with the same networks. A counting update_fn checks the bookkeeping.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from dreamer_lite.agent import Dreamer
from dreamer_lite.behavior import frozen, imagined_behavior
from dreamer_lite.checkpoint import load_checkpoint
from dreamer_lite.config import Config
from dreamer_lite.rundir import load_history
from dreamer_lite.train import train
from tests.fakes import fake_factory, tiny_run_config

# Records that depend on the wall clock, not on what the run computed.
CLOCK = ("wall_time", "updates_per_s", "batch_wait_s", "time_model", "time_actor", "time_value")


def tiny() -> Config:
    """The run of tests/test_train.py with state observations."""
    return tiny_run_config(obs_type="state")


def run(path, update_fn=None) -> list[dict]:
    train(
        tiny(),
        path,
        env_factory=fake_factory,
        progress=False,
        final_media=False,
        **({"update_fn": update_fn} if update_fn is not None else {}),
    )
    lines = (path / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in CLOCK} for line in lines]


def networks(path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path / "checkpoint.pt", map_location="cpu")["agent"]["networks"]


def plain_update(agent: Dreamer, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An update as a learner writes it: plain zero_grad / backward / clip / step, no fused-Adam
    skip flag, metrics as 0-d tensors and without the package's keys."""
    cfg = agent.cfg

    def step(opt, module, loss):
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(module.parameters(), cfg.grad_clip)
        opt.step()

    model_loss, _, post = agent.world_model.loss(batch)
    step(agent.model_opt, agent.world_model, model_loss)
    with frozen(agent.world_model, agent.critic):
        out = imagined_behavior(
            agent.world_model.rssm,
            agent.actor,
            agent.critic,
            agent.world_model.predict_reward,
            post,
            horizon=cfg.horizon,
            discount=cfg.discount,
            lambda_=cfg.lambda_,
        )
    step(agent.actor_opt, agent.actor, out["actor_loss"])
    gamma = torch.tensor([cfg.discount**t for t in range(cfg.horizon)])[:, None]  # (H, 1)
    value = agent.critic(out["feat"][:-1].detach())  # (H, N)
    loss = (gamma * 0.5 * (value - out["returns"].detach()) ** 2).mean()
    step(agent.value_opt, agent.critic, loss)
    return {"model_loss": model_loss.detach()}


def test_update_fn_replaces_the_update_and_is_counted(tmp_path):
    calls = []

    def counting(agent, batch):
        calls.append(agent.num_updates)
        assert batch["obs"].shape[:2] == (agent.cfg.seq_len, agent.cfg.batch_size)
        return None if len(calls) % 2 else {"loss": torch.tensor(float(len(calls)))}

    records = run(tmp_path, counting)
    assert calls == list(range(8))  # the loop counted every update it made
    trains = [r for r in records if r["kind"] == "train"]
    assert [r["updates"] for r in trains] == [2, 4, 6, 8]
    assert [r["loss"] for r in trains] == [1.0, 2.0, 3.0, 4.0]  # (0 + 2) / 2, (0 + 4) / 2, ...
    assert all("kl" not in r and "kl_below_free_nats" not in r for r in trains)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["agent"]["num_updates"] == 8


def test_the_package_update_through_the_hook_is_the_plain_run(tmp_path):
    plain = run(tmp_path / "plain")
    hooked = run(tmp_path / "hooked", lambda agent, batch: agent.update(batch))
    assert hooked == plain  # counted once (Dreamer.update counts itself), same metrics
    assert [r["updates"] for r in hooked if r["kind"] == "train"] == [2, 4, 6, 8]
    for name, value in networks(tmp_path / "plain").items():
        assert torch.equal(networks(tmp_path / "hooked")[name], value), name


def test_a_hand_written_update_trains_the_same_agent(tmp_path):
    """Plain optimizer steps give the parameters of Dreamer.update's fused, skippable steps, so
    the run (actions, episodes, evaluations) is the same up to float32 rounding: this update
    computes the critic's weights and loss in its own way."""
    plain = run(tmp_path / "plain")
    mine = run(tmp_path / "mine", plain_update)
    assert [(r["kind"], r["env_steps"]) for r in mine] == [
        (r["kind"], r["env_steps"]) for r in plain
    ]
    for ours, theirs in zip(mine, plain):
        for key in ("return", "model_loss"):
            if key in theirs:
                assert ours[key] == pytest.approx(theirs[key], rel=1e-5), (ours, theirs)
    assert load_history(tmp_path / "mine")["train"][-1]["updates"] == 8
    ours, theirs = networks(tmp_path / "mine"), networks(tmp_path / "plain")
    for name, value in theirs.items():
        torch.testing.assert_close(ours[name], value, rtol=0, atol=1e-5, msg=name)
