"""The building blocks of the world model and the actor-critic: conv encoder/decoder and MLPs.

Shape legend: ``...`` any leading dims (e.g. ``T, B``), ``C`` image channels (3), ``E`` embed,
``F`` model features (stoch + deter), ``X`` vector-observation size.

Sizes follow the paper (Hafner et al. 2020, Appendix A): a 4-layer conv encoder with kernel 4 and
stride 2 (depth 32, 64, 128, 256) giving a 1024-d embedding of a 64x64 frame, and a decoder that
mirrors it with transposed convs of kernels 5, 5, 6, 6. Built and explained in notebook 01.
Both are built for 64x64 frames only (``config.IMAGE_SIZE``): the kernels and strides above fix
the sizes of every layer.
"""

from __future__ import annotations

import torch
from torch import nn


def count_parameters(module: nn.Module) -> int:
    """The number of scalar parameters of ``module`` (trainable or not); 690,144 for the
    paper's conv encoder (depth 32). Notebooks 01, 02, 03 and 05 compare model sizes with it."""
    return sum(p.numel() for p in module.parameters())


def keras_init_(module: nn.Module) -> nn.Module:
    """Re-initialise ``module`` in place as the official TF2 code's Keras layers start: Glorot-
    uniform weights and zero biases for dense, conv and transposed-conv layers; for a GRU cell
    Glorot-uniform input weights, orthogonal recurrent weights, zero biases. Returns ``module``.

    PyTorch's defaults differ (Kaiming-uniform with a = sqrt(5), uniform biases); the choice is
    ``Config.weight_init``, and docs/RESULTS.md compares the two.
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.GRUCell):
            nn.init.xavier_uniform_(layer.weight_ih)
            nn.init.orthogonal_(layer.weight_hh)
            nn.init.zeros_(layer.bias_ih)
            nn.init.zeros_(layer.bias_hh)
    return module


def _flatten_leading(x: torch.Tensor, keep: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Merge all but the last ``keep`` dims into one batch dim; return the merged shape too."""
    lead = x.shape[: x.dim() - keep]
    return x.reshape(-1, *x.shape[x.dim() - keep :]), tuple(lead)


def _memory_format(module: nn.Module, channels_last: bool) -> torch.memory_format:
    """Put a conv net's weights in channels-last layout if asked, and return the layout its
    inputs should use. Channels-last (NHWC) runs oneDNN's faster convolutions on a CPU: in our
    benchmark 1.6x for the encoder and 1.3x for the decoder, with identical results."""
    if not channels_last:
        return torch.contiguous_format
    module.to(memory_format=torch.channels_last)
    return torch.channels_last


def subpixel_conv_transpose(x: torch.Tensor, layer: nn.ConvTranspose2d) -> torch.Tensor:
    """``layer(x)`` for a transposed conv whose kernel is a multiple of its stride, computed as
    one ordinary conv and a pixel shuffle: (N, in, H, W) -> (N, out, s(H - 1) + k, s(W - 1) + k).

    Output pixel (s p + a, s q + b) of a transposed conv with stride s only ever meets the kernel
    taps (a + s m, b + s l), and input pixels (p - m, q - l). So each of the s * s output phases
    (a, b) is a correlation of the input (padded by k / s - 1) with the flipped taps of its phase:
    one conv with s * s * out channels, ordered (a, b, out), whose channels are then moved back
    to pixels (a pixel shuffle). Same products, summed in another order (equal within float32
    rounding, tested). On a CPU, oneDNN runs this 3-output-channel layer about 1.5x faster than
    the transposed conv, and with a channels-last input the shuffle below moves whole pixels
    (``out`` values at a time) in both directions, forward and backward.
    """
    s, k = layer.stride[0], layer.kernel_size[0]
    if (
        layer.stride != (s, s)
        or layer.kernel_size != (k, k)
        or k % s
        or layer.padding != (0, 0)
        or layer.output_padding != (0, 0)
        or layer.dilation != (1, 1)
        or layer.groups != 1
    ):
        raise ValueError(
            "subpixel_conv_transpose needs a square kernel divisible by the stride and no "
            f"padding, output padding, dilation or groups; got {layer}"
        )
    taps = k // s
    w = layer.weight  # (in, out, k, k), tap index = a + s * m
    n_in, n_out = w.shape[:2]
    w = w.reshape(n_in, n_out, taps, s, taps, s)  # (in, out, m, a, l, b)
    w = w.flip(2, 4)  # correlation, not convolution: tap m meets input pixel p - m
    w = w.permute(3, 5, 1, 0, 2, 4).reshape(s * s * n_out, n_in, taps, taps)  # (a*b*out, in, ., .)
    bias = None if layer.bias is None else layer.bias.repeat(s * s)
    y = nn.functional.conv2d(x, w.contiguous(memory_format=_layout(x)), bias, padding=taps - 1)
    n, _, height, width = y.shape  # (N, a * b * out, H + taps - 1, W + taps - 1)
    y = y.permute(0, 2, 3, 1).reshape(n, height, width, s, s, n_out)  # (N, p, q, a, b, out)
    y = y.permute(0, 1, 3, 2, 4, 5).reshape(n, height * s, width * s, n_out)  # (N, Y, X, out)
    return y.permute(0, 3, 1, 2)  # (N, out, Y, X), stored channels-last


def _layout(x: torch.Tensor) -> torch.memory_format:
    """The memory format of a 4-d tensor: channels-last or the default."""
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


class ConvEncoder(nn.Module):
    """Image (..., C, 64, 64) in [-0.5, 0.5] -> embedding (..., 32 * depth).

    Four conv layers, kernel 4, stride 2, ReLU: 64 -> 31 -> 14 -> 6 -> 2 pixels. The ReLUs
    work in place (a conv keeps its input for backward, not its output): same numbers, and at the
    paper's batch one less 100 MB tensor per layer to allocate and fill.
    """

    def __init__(self, depth: int = 32, in_channels: int = 3, channels_last: bool = True) -> None:
        super().__init__()
        self.depth = depth
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 1 * depth, 4, stride=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(1 * depth, 2 * depth, 4, stride=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(2 * depth, 4 * depth, 4, stride=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(4 * depth, 8 * depth, 4, stride=2),
            nn.ReLU(inplace=True),
        )
        self.embed_size = 8 * depth * 2 * 2
        self.memory_format = _memory_format(self, channels_last)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x, lead = _flatten_leading(image, 3)  # (N, C, 64, 64)
        x = self.net(x.contiguous(memory_format=self.memory_format))  # (N, 8 * depth, 2, 2)
        return x.reshape(*lead, self.embed_size)  # (..., E)


class ConvDecoder(nn.Module):
    """Features (..., F) -> mean image (..., C, 64, 64), the mean of a unit-variance Normal.

    A dense layer to 32 * depth channels at 1x1, then transposed convs with kernels 5, 5, 6, 6
    and stride 2: 1 -> 5 -> 13 -> 30 -> 64 pixels.
    """

    def __init__(
        self, feat_size: int, depth: int = 32, out_channels: int = 3, channels_last: bool = True
    ) -> None:
        super().__init__()
        self.hidden = 32 * depth
        self.linear = nn.Linear(feat_size, self.hidden)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(self.hidden, 4 * depth, 5, stride=2),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(4 * depth, 2 * depth, 5, stride=2),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * depth, 1 * depth, 6, stride=2),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(1 * depth, out_channels, 6, stride=2),
        )
        self.memory_format = _memory_format(self.net[1:], channels_last)  # not the matmul layer

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        x, lead = _flatten_leading(feat, 1)  # (N, F)
        x = self.linear(x)  # (N, 32 * depth)
        # The first transposed conv sees a 1x1 input, so it is exactly a matrix product with its
        # weight (in, out, k, k) viewed as (in, out * k * k): 3x faster on a CPU than the conv.
        first = self.net[0]
        out, k = first.out_channels, first.kernel_size[0]
        x = x @ first.weight.reshape(self.hidden, out * k * k)  # (N, out * k * k)
        x = x.reshape(-1, out, k, k) + first.bias.reshape(1, out, 1, 1)  # (N, out, 5, 5)
        x = self.net[1:-1](x.contiguous(memory_format=self.memory_format))  # (N, depth, 30, 30)
        x = subpixel_conv_transpose(x, self.net[-1])  # (N, C, 64, 64)
        return x.reshape(*lead, *x.shape[1:])  # (..., C, 64, 64)


class MLP(nn.Module):
    """``layers`` dense layers of ``units`` with ELU, then a linear output: (..., in) -> (..., out).

    ``out`` may be a tuple, e.g. ``(2, A)`` for a mean and a std head; the output is reshaped to
    ``(..., *out)``.
    """

    def __init__(
        self, in_size: int, out: int | tuple[int, ...], units: int = 400, layers: int = 2
    ) -> None:
        super().__init__()
        self.out_shape = (out,) if isinstance(out, int) else tuple(out)
        out_size = 1
        for dim in self.out_shape:
            out_size *= dim
        modules: list[nn.Module] = []
        size = in_size
        for _ in range(layers):
            # In place: the linear layer keeps its input, not its output, for backward,
            # so overwriting it is safe and saves a (N, units) tensor per layer.
            modules += [nn.Linear(size, units), nn.ELU(inplace=True)]
            size = units
        modules.append(nn.Linear(size, out_size))
        self.net = nn.Sequential(*modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)  # (..., prod(out))
        return y.reshape(*x.shape[:-1], *self.out_shape)  # (..., *out)


class VectorEncoder(nn.Module):
    """Proprioceptive vector (..., X) -> embedding (..., units): two ELU layers."""

    def __init__(self, obs_size: int, units: int = 400) -> None:
        super().__init__()
        self.net = MLP(obs_size, units, units=units, layers=1)
        self.embed_size = units

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return nn.functional.elu(self.net(obs))  # (..., E)


class VectorDecoder(nn.Module):
    """Features (..., F) -> mean of the vector observation (..., X)."""

    def __init__(self, feat_size: int, obs_size: int, units: int = 400) -> None:
        super().__init__()
        self.net = MLP(feat_size, obs_size, units=units, layers=2)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.net(feat)  # (..., X)
