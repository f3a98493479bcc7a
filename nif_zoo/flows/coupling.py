"""Affine and additive coupling (RealNVP / Glow) on images ``(n, H, W, C)``.

Split channels x = (x_a, x_b), x_a = x[..., :C//2]. A network of x_a gives
(shift, raw); scale = sigmoid(raw + 2) (Glow's stable choice, scale in (0, 1)).

    y_a = x_a,  y_b = (x_b + shift) * scale        (forward)
    x_a = y_a,  x_b = y_b / scale - shift          (inverse)
    log|det dy/dx| = sum_{H, W, C_b} log(scale)

Additive variant (``additive=True``): y_b = x_b + shift, log-det 0.
Conditioner (Glow): conv3x3(width) -> ReLU -> conv1x1(width) -> ReLU -> conv3x3
initialised to zero, so every coupling starts as the identity. Cost O(n H W width^2).
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from nif_zoo.flows.base import Bijection, zero_log_det
from nif_zoo.flows.conv import Conv
from nif_zoo.rng import fan_in_normal


def coupling_scale(raw):
    """scale = sigmoid(raw + 2); returns (scale, log scale), the latter computed stably."""
    return jax.nn.sigmoid(raw + 2.0), jax.nn.log_sigmoid(raw + 2.0)


def affine_forward(x_b, shift, scale):
    return (x_b + shift) * scale


def affine_inverse(y_b, shift, scale):
    return y_b / scale - shift


def coupling_halves(x):
    """(x_a, x_b): the first C//2 channels (conditioning) and the rest (transformed)."""
    c = x.shape[-1]
    if c < 2:
        raise ValueError(f"coupling needs at least 2 channels (features), got {c}")
    return x[..., : c // 2], x[..., c // 2:]


def sum_per_example(values):
    return jnp.sum(values.reshape(values.shape[0], -1), axis=1)


class ConvConditioner(nn.Module):
    """conv3x3(width) -> ReLU -> conv1x1(width) -> ReLU -> zero-init conv3x3(out)."""

    width: int
    out_channels: int
    conv: str = "auto"  # the convolutions' form (nif_zoo.flows.conv.CONV_FORMS)

    @nn.compact
    def __call__(self, h):
        h = nn.relu(Conv(self.width, 3, kernel_init=fan_in_normal, conv=self.conv,
                         name="conv_in")(h))
        h = nn.relu(Conv(self.width, 1, kernel_init=fan_in_normal, conv=self.conv,
                         name="conv_hidden")(h))
        return Conv(self.out_channels, 3, kernel_init=nn.initializers.zeros,
                    bias_init=nn.initializers.zeros, conv=self.conv, name="conv_out")(h)


class AffineCoupling(Bijection):
    """Affine (or, with ``additive=True``, additive) coupling; see module docstring."""

    width: int
    additive: bool = False
    conv: str = "auto"

    @nn.compact
    def __call__(self, x, reverse: bool = False):
        x_a, x_b = coupling_halves(x)
        c_b = x_b.shape[-1]
        h = ConvConditioner(self.width, c_b if self.additive else 2 * c_b, self.conv,
                            name="net")(x_a)
        if self.additive:
            y_b = x_b - h if reverse else x_b + h
            return jnp.concatenate([x_a, y_b], axis=-1), zero_log_det(x)
        shift, raw = h[..., :c_b], h[..., c_b:]
        scale, log_scale = coupling_scale(raw)
        log_det = sum_per_example(log_scale)
        if not reverse:
            return jnp.concatenate([x_a, affine_forward(x_b, shift, scale)], axis=-1), log_det
        return jnp.concatenate([x_a, affine_inverse(x_b, shift, scale)], axis=-1), -log_det
