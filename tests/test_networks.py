"""Tests of dreamer_lite.networks: output shapes and the paper's parameter counts."""

import math

import pytest
import torch
from torch import nn

from dreamer_lite.agent import Dreamer
from dreamer_lite.config import Config
from dreamer_lite.networks import (
    MLP,
    ConvDecoder,
    ConvEncoder,
    VectorDecoder,
    VectorEncoder,
    count_parameters,
    subpixel_conv_transpose,
)


def test_conv_encoder_shape_at_paper_depth():
    """(T, B, 3, 64, 64) -> (T, B, 1024) at depth 32."""
    torch.manual_seed(0)
    encoder = ConvEncoder(depth=32)
    embed = encoder(torch.rand(2, 3, 3, 64, 64) - 0.5)
    assert encoder.embed_size == 1024
    assert embed.shape == (2, 3, 1024)
    assert torch.isfinite(embed).all()


@pytest.mark.parametrize("lead", [(), (5,), (2, 3)])
def test_conv_encoder_any_leading_dims(lead):
    """The encoder keeps any leading dims and gives 32 * depth features."""
    torch.manual_seed(0)
    encoder = ConvEncoder(depth=4)
    assert encoder(torch.zeros(*lead, 3, 64, 64)).shape == (*lead, 128)


def test_conv_encoder_batches_independently():
    """Encoding a batch equals encoding each item on its own (no mixing across the batch)."""
    torch.manual_seed(0)
    encoder = ConvEncoder(depth=4)
    images = torch.rand(2, 3, 3, 64, 64)
    whole = encoder(images)
    torch.testing.assert_close(whole[1, 2], encoder(images[1, 2]))


def test_conv_decoder_shape():
    """Features (T, B, F) -> images (T, B, 3, 64, 64)."""
    torch.manual_seed(0)
    decoder = ConvDecoder(feat_size=20, depth=4)
    assert decoder(torch.randn(2, 3, 20)).shape == (2, 3, 3, 64, 64)
    assert decoder(torch.randn(20)).shape == (3, 64, 64)


def test_encoder_decoder_round_trip_shapes():
    """Decoding the encoder's embedding (used as features) gives an image of the input's shape."""
    torch.manual_seed(0)
    encoder = ConvEncoder(depth=4)
    decoder = ConvDecoder(feat_size=encoder.embed_size, depth=4)
    images = torch.rand(4, 3, 64, 64)
    assert decoder(encoder(images)).shape == images.shape


@pytest.mark.parametrize("out, shape", [(3, (3,)), ((2, 5), (2, 5))])
def test_mlp_shapes(out, shape):
    """MLP maps (..., in) to (..., *out), reshaping tuple outputs."""
    torch.manual_seed(0)
    mlp = MLP(7, out, units=16, layers=2)
    assert mlp(torch.randn(4, 6, 7)).shape == (4, 6, *shape)
    assert mlp(torch.randn(7)).shape == shape


@pytest.mark.parametrize("layers", [1, 2, 4])
def test_mlp_layer_count(layers):
    """``layers`` hidden Linear+ELU pairs, then one output Linear."""
    mlp = MLP(3, 2, units=8, layers=layers)
    linears = [m for m in mlp.modules() if isinstance(m, torch.nn.Linear)]
    elus = [m for m in mlp.modules() if isinstance(m, torch.nn.ELU)]
    assert len(linears) == layers + 1 and len(elus) == layers
    assert count_parameters(mlp) == (3 * 8 + 8) + (layers - 1) * (8 * 8 + 8) + (8 * 2 + 2)


def test_vector_encoder_decoder_shapes():
    """Vector encoder (..., X) -> (..., units); decoder (..., F) -> (..., X)."""
    torch.manual_seed(0)
    encoder = VectorEncoder(obs_size=5, units=16)
    decoder = VectorDecoder(feat_size=12, obs_size=5, units=16)
    assert encoder.embed_size == 16
    assert encoder(torch.randn(3, 2, 5)).shape == (3, 2, 16)
    assert decoder(torch.randn(3, 2, 12)).shape == (3, 2, 5)


def test_paper_parameter_counts():
    """At the paper preset with a 6-d action: world model 5,296,820, actor 578,412, value 413,601."""
    torch.manual_seed(0)
    agent = Dreamer(Config.paper(device="cpu"), (3, 64, 64), 6)
    assert count_parameters(agent.world_model) == 5_296_820
    assert count_parameters(agent.actor) == 578_412
    assert count_parameters(agent.critic) == 413_601


def test_fast_conv_paths_equal_the_plain_layers():
    """The decoder's matmul first layer and channels-last layout change speed, not results."""
    torch.manual_seed(0)
    decoder = ConvDecoder(12, depth=4)
    feat = torch.randn(3, 12)
    plain = decoder.net(decoder.linear(feat).reshape(3, -1, 1, 1).contiguous())
    torch.testing.assert_close(decoder(feat), plain, rtol=1e-5, atol=1e-5)
    encoder = ConvEncoder(depth=4)
    reference = ConvEncoder(depth=4, channels_last=False)
    reference.load_state_dict(encoder.state_dict())
    image = torch.rand(2, 3, 3, 64, 64)
    torch.testing.assert_close(encoder(image), reference(image), rtol=1e-5, atol=1e-5)


def test_decoder_gradients_equal_the_plain_layers():
    """The fast decoder path (matmul first layer, channels-last, sub-pixel last layer) gives
    the plain transposed convs' gradients for every parameter and for the features."""
    torch.manual_seed(0)
    decoder = ConvDecoder(12, depth=4)
    target = torch.rand(3, 2, 3, 64, 64)
    grads = []
    for plain in (False, True):
        decoder.zero_grad()
        feat = torch.randn(3, 2, 12, generator=torch.Generator().manual_seed(1))
        feat.requires_grad_(True)
        if plain:
            x = decoder.linear(feat.reshape(6, 12)).reshape(6, -1, 1, 1).contiguous()
            mean = decoder.net(x).reshape(3, 2, 3, 64, 64)
        else:
            mean = decoder(feat)
        ((mean - target) ** 2).sum().backward()
        grads.append([feat.grad] + [p.grad.clone() for p in decoder.parameters()])
    assert len(grads[0]) == 1 + 2 + 2 * 4  # features; linear and four transposed convs (w, b)
    for fast, plain in zip(*grads):
        torch.testing.assert_close(fast, plain, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "n_in, n_out, kernel, stride, size", [(4, 3, 6, 2, 7), (3, 5, 4, 2, 5), (2, 3, 6, 3, 4)]
)
@pytest.mark.parametrize("channels_last", [False, True])
def test_subpixel_conv_transpose_equals_the_transposed_conv(
    n_in, n_out, kernel, stride, size, channels_last
):
    """One conv plus pixel shuffle = PyTorch's transposed conv: outputs, the input's gradient
    and the weight's and bias's gradients, for kernels 2 and 3 times the stride."""
    torch.manual_seed(0)
    layer = nn.ConvTranspose2d(n_in, n_out, kernel, stride=stride)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(2, n_in, size, size).contiguous(memory_format=fmt).requires_grad_(True)
    results = []
    for fn in (layer, lambda x: subpixel_conv_transpose(x, layer)):
        layer.zero_grad()
        x.grad = None
        out = fn(x)
        out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
        results.append((out.detach(), x.grad, layer.weight.grad.clone(), layer.bias.grad.clone()))
    assert results[0][0].shape == (
        2,
        n_out,
        stride * (size - 1) + kernel,
        stride * (size - 1) + kernel,
    )
    for fast, reference in zip(*results[::-1]):  # sums of up to 800 terms: float32 rounding
        torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-4)


def test_subpixel_conv_transpose_refuses_kernels_it_cannot_split():
    """A kernel that is not a multiple of the stride (the decoder's 5s) is refused, not mangled."""
    with pytest.raises(ValueError, match="divisible by the stride"):
        subpixel_conv_transpose(torch.zeros(1, 2, 3, 3), nn.ConvTranspose2d(2, 2, 5, stride=2))
    with pytest.raises(ValueError, match="padding"):
        layer = nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1)
        subpixel_conv_transpose(torch.zeros(1, 2, 3, 3), layer)


def test_keras_init_glorot_weights_zero_biases_orthogonal_recurrence():
    """keras_init_: every dense/conv weight within the Glorot-uniform limit sqrt(6 / (fan_in +
    fan_out)) with the variance of that uniform, zero biases, an orthogonal recurrent GRU matrix."""
    from dreamer_lite.networks import keras_init_

    torch.manual_seed(0)
    agent = Dreamer(Config.tiny(device="cpu", weight_init="keras"), (3, 64, 64), 2)
    layers = [
        m for m in agent.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))
    ]
    assert len(layers) > 10
    for layer in layers:
        w = layer.weight.detach()
        receptive = w[0, 0].numel() if w.dim() > 2 else 1
        fan_sum = (w.shape[0] + w.shape[1]) * receptive
        limit = math.sqrt(6.0 / fan_sum)
        assert w.abs().max() <= limit + 1e-6
        if w.numel() > 2000:  # enough draws for the variance of U(-a, a) = a^2 / 3
            assert abs(w.var().item() / (limit**2 / 3) - 1) < 0.15
        assert layer.bias is None or torch.count_nonzero(layer.bias) == 0
    gru = agent.world_model.rssm.gru
    w_hh = gru.weight_hh.detach()  # (3D, D): orthonormal columns
    torch.testing.assert_close(w_hh.T @ w_hh, torch.eye(w_hh.shape[1]), atol=1e-5, rtol=0)
    assert torch.count_nonzero(gru.bias_ih) == 0 and torch.count_nonzero(gru.bias_hh) == 0
    torch_default = Dreamer(Config.tiny(device="cpu"), (3, 64, 64), 2)
    assert any(
        torch.count_nonzero(m.bias) > 0 for m in torch_default.modules() if isinstance(m, nn.Linear)
    )
    assert keras_init_(nn.Linear(2, 2)) is not None
