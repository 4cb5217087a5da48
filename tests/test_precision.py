"""``Config.conv_precision``: bf16 autocast in the conv nets only, close to fp32, clear errors."""

from __future__ import annotations

import pytest
import torch

from dreamer_lite.agent import Dreamer, check_precision
from dreamer_lite.bench import random_batch
from dreamer_lite.config import Config


def _pair(**overrides):
    """An fp32 and a bf16 agent with the same parameters."""
    cfg = Config.tiny(device="cpu", batch_size=4, seq_len=6, horizon=3, **overrides)
    torch.manual_seed(0)
    fp32 = Dreamer(cfg, (3, 64, 64), 1)
    bf16 = Dreamer(cfg.replace(conv_precision="bf16"), (3, 64, 64), 1)
    bf16.load_state_dict(fp32.state_dict())
    return cfg, fp32, bf16


def test_bf16_world_model_loss_and_gradients_stay_close_to_fp32():
    cfg, fp32, bf16 = _pair()
    batch = random_batch(cfg, (3, 64, 64), 1, seed=1)
    losses, grads = [], []
    for agent in (fp32, bf16):
        torch.manual_seed(2)  # the same posterior samples
        loss, _, post = agent.world_model.loss(batch)
        assert loss.dtype == post.feat.dtype == torch.float32  # only the convs ran in bf16
        agent.world_model.zero_grad()
        loss.backward()
        losses.append(loss.item())
        grads.append(torch.cat([p.grad.flatten() for p in agent.world_model.parameters()]))
    assert losses[1] != losses[0]  # bf16 did run: the rounding shows
    assert losses[1] == pytest.approx(losses[0], rel=1e-3)
    cosine = torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0)
    assert cosine > 0.99
    want, got = fp32.world_model.embed(batch["obs"]), bf16.world_model.embed(batch["obs"])
    error = ((got - want).abs().max() / want.abs().max()).item()
    assert 1e-4 < error < 3e-2  # bf16 keeps about 3 significant digits
    for param in bf16.parameters():
        assert param.dtype == torch.float32  # autocast casts copies; parameters stay float32


def test_bf16_updates_run_and_act_returns_float_actions():
    cfg, _, bf16 = _pair()
    batch = random_batch(cfg, (3, 64, 64), 1, seed=1)
    for _ in range(2):
        metrics = bf16.update(batch)
        assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    action, _ = bf16.act(batch["obs"][0], explore=False)
    assert action.dtype == "float32" and action.shape == (cfg.batch_size, 1)


def test_conv_precision_is_checked():
    with pytest.raises(ValueError, match="conv_precision.*choose one of"):
        Config.tiny(conv_precision="fp16")
    with pytest.raises(ValueError, match="conv_precision.*state observations"):
        Config.tiny(obs_type="state", conv_precision="bf16")


def test_bf16_on_a_gpu_without_bf16_names_the_fix(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: "Tesla T4")
    with pytest.raises(RuntimeError, match="Tesla T4.*conv_precision='fp32'"):
        check_precision("bf16", torch.device("cuda"))
    check_precision("fp32", torch.device("cuda"))  # fp32 needs nothing
