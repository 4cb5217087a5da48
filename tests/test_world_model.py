"""Tests of dreamer_lite.world_model: loss terms, gradient routing and shapes for all objectives."""

import math

import pytest
import torch

from dreamer_lite.bench import random_batch
from dreamer_lite.config import Config
from dreamer_lite.world_model import WorldModel, preprocess_obs

T, B, A = 4, 3, 2
IMAGE = (3, 64, 64)


def make_model(objective: str = "reconstruction", obs_shape=IMAGE, **overrides) -> WorldModel:
    torch.manual_seed(0)
    cfg = Config.tiny(objective=objective, **overrides)
    return WorldModel.from_config(cfg, obs_shape, A)


def make_batch(obs_shape=IMAGE, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random (T, B) batch: uint8 frames or normal vectors, actions in [-1, 1]."""
    return random_batch(Config.tiny(), obs_shape, A, seed=seed, seq_len=T, batch_size=B)


def grads_of(module: torch.nn.Module) -> dict[str, torch.Tensor | None]:
    return {name: p.grad for name, p in module.named_parameters()}


def test_preprocess_obs():
    """uint8 images map to [-0.5, 0.5]; float vectors pass through unchanged."""
    image = torch.tensor([0, 255, 51], dtype=torch.uint8)
    torch.testing.assert_close(preprocess_obs(image), torch.tensor([-0.5, 0.5, -0.3]))
    vector = torch.randn(4)
    torch.testing.assert_close(preprocess_obs(vector), vector)


def test_preprocess_obs_images_are_channels_last_with_the_same_values():
    """A (T, B, C, H, W) uint8 batch keeps its shape and values (x / 255 - 0.5 by a plain loop
    over a few pixels) but is stored (T, B, H, W, C): channels-last once the leading dims merge."""
    frames = torch.randint(0, 256, (2, 3, 3, 8, 8), dtype=torch.uint8)
    out = preprocess_obs(frames)
    assert out.shape == frames.shape and out.dtype == torch.float32
    for t, b, c, h, w in [(0, 0, 0, 0, 0), (1, 2, 2, 7, 7), (0, 1, 1, 3, 5), (1, 0, 2, 6, 1)]:
        assert out[t, b, c, h, w].item() == pytest.approx(frames[t, b, c, h, w].item() / 255 - 0.5)
    assert out.reshape(6, 3, 8, 8).is_contiguous(memory_format=torch.channels_last)
    assert not out.is_contiguous()
    assert out.stride(2) == 1  # neighbouring channels of a pixel sit next to each other


@pytest.mark.parametrize(
    "objective, expected",
    [
        ("reconstruction", {"obs_log_prob"}),
        ("contrastive", {"info_nce"}),
        ("reward", set()),
    ],
)
def test_loss_terms_present_and_finite(objective, expected):
    """The terms dict holds kl, kl_term, reward_log_prob, model_loss (+ the objective's term)."""
    model = make_model(objective)
    loss, terms, post = model.loss(make_batch())
    assert set(terms) == {"kl", "kl_term", "reward_log_prob", "model_loss"} | expected
    assert loss.shape == () and torch.isfinite(loss)
    for name, value in terms.items():
        assert value.shape == () and torch.isfinite(value), name
        assert not value.requires_grad, name
    torch.testing.assert_close(terms["model_loss"], loss.detach())
    assert post.feat.shape == (T, B, model.rssm.feat_size)


def test_reconstruction_loss_adds_up():
    """model_loss = kl_scale * kl_term - reward_log_prob - obs_log_prob."""
    model = make_model("reconstruction", kl_scale=0.5)
    _, terms, _ = model.loss(make_batch())
    expected = 0.5 * terms["kl_term"] - terms["reward_log_prob"] - terms["obs_log_prob"]
    torch.testing.assert_close(terms["model_loss"], expected)
    assert terms["kl_term"] == torch.clamp(terms["kl"], min=model.free_nats)


def test_contrastive_and_reward_losses_add_up():
    """Contrastive: kl - reward_ll - info_nce; reward-only: kl - reward_ll."""
    _, terms, _ = make_model("contrastive").loss(make_batch())
    expected = terms["kl_term"] - terms["reward_log_prob"] - terms["info_nce"]
    torch.testing.assert_close(terms["model_loss"], expected)
    assert terms["info_nce"] <= 0  # the InfoNCE bound itself is <= 0
    _, terms, _ = make_model("reward").loss(make_batch())
    torch.testing.assert_close(terms["model_loss"], terms["kl_term"] - terms["reward_log_prob"])


def test_reward_log_prob_uses_posterior_features_at_same_step():
    """reward[t] is scored against the reward head at the posterior s_t (unit-variance Normal)."""
    model = make_model()
    batch = make_batch()
    torch.manual_seed(11)
    _, terms, post = model.loss(batch)
    with torch.no_grad():
        pred = model.predict_reward(post.feat)  # (T, B)
    expected = (-0.5 * (batch["reward"] - pred) ** 2 - 0.5 * math.log(2 * math.pi)).mean()
    torch.testing.assert_close(terms["reward_log_prob"], expected)


def test_reconstruction_gradient_reaches_every_parameter():
    """With free nats off, every parameter (encoder, RSSM, decoder, reward head) gets gradient."""
    model = make_model("reconstruction", free_nats=0.0)
    loss, _, _ = model.loss(make_batch())
    loss.backward()
    for part in ("encoder", "rssm", "decoder", "reward"):
        for name, grad in grads_of(getattr(model, part)).items():
            assert grad is not None and grad.abs().sum() > 0, f"{part}.{name}"


def test_contrastive_gradient_reaches_head_and_encoder():
    """The contrastive head and the encoder get gradient; there is no decoder."""
    model = make_model("contrastive", free_nats=0.0)
    assert model.decoder is None and model.contrast is not None
    loss, _, _ = model.loss(make_batch())
    loss.backward()
    for part in ("contrast", "encoder", "rssm", "reward"):
        for name, grad in grads_of(getattr(model, part)).items():
            assert grad is not None and grad.abs().sum() > 0, f"{part}.{name}"


def test_reward_objective_has_no_decoder():
    """The reward-only objective builds no decoder or contrastive head; decode() raises."""
    model = make_model("reward", free_nats=0.0)
    assert model.decoder is None and model.contrast is None
    with pytest.raises(RuntimeError, match="reward"):
        model.decode(torch.zeros(model.rssm.feat_size))
    loss, _, _ = model.loss(make_batch())
    loss.backward()
    assert all(g is not None and g.abs().sum() > 0 for g in grads_of(model.encoder).values())


def test_unknown_objective_raises():
    """A WorldModel with an unknown objective is a ValueError."""
    with pytest.raises(ValueError, match="objective"):
        WorldModel(
            IMAGE,
            A,
            objective="magic",
            cnn_depth=4,
            deter_size=8,
            stoch_size=2,
            hidden_size=8,
            units=8,
        )


def test_vector_observations():
    """With a state vector, encoder/decoder are MLPs and the loss and decode shapes work."""
    model = make_model("reconstruction", obs_shape=(5,), obs_type="state")
    batch = make_batch(obs_shape=(5,))
    loss, terms, post = model.loss(batch)
    assert torch.isfinite(loss) and "obs_log_prob" in terms
    assert model.embed(batch["obs"]).shape == (T, B, model.encoder.embed_size)
    assert model.decode(post.feat).shape == (T, B, 5)


def test_pieces_shapes():
    """embed, observe, decode and predict_reward give (T, B, ...) outputs."""
    model = make_model()
    batch = make_batch()
    cfg = Config.tiny()
    assert model.embed(batch["obs"]).shape == (T, B, 32 * cfg.cnn_depth)
    post, prior = model.observe(batch)
    assert post.deter.shape == prior.deter.shape == (T, B, cfg.deter_size)
    assert model.decode(post.feat).shape == (T, B, *IMAGE)
    assert model.predict_reward(post.feat).shape == (T, B)


def test_open_loop_shapes_and_range():
    """open_loop returns the true frames scaled to [0, 1] (obs / 255), the model's frames and
    the rewards, all (T, B, ...)."""
    model = make_model()
    batch = make_batch()
    out = model.open_loop(batch, context=2)
    assert out["truth"].shape == out["model"].shape == (T, B, *IMAGE)
    assert out["reward"].shape == (T, B)
    torch.testing.assert_close(out["truth"], batch["obs"].float() / 255.0)


def test_kl_scale_weights_kl_term():
    """Changing kl_scale changes model_loss by exactly the extra weight on kl_term."""
    batch = make_batch()
    torch.manual_seed(3)
    _, a, _ = make_model(kl_scale=1.0).loss(batch)
    torch.manual_seed(3)
    _, b, _ = make_model(kl_scale=2.0).loss(batch)
    torch.testing.assert_close(b["model_loss"] - a["model_loss"], a["kl_term"])
