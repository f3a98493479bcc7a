"""ActNorm (Glow, Kingma & Dhariwal 2018): a per-channel affine map.

    y = (x + bias) * exp(log_scale)          (forward, data -> latent)
    x = y * exp(-log_scale) - bias           (inverse)
    log|det dy/dx| = P * sum(log_scale)      P = positions per channel (H*W, or 1)

Cost O(n P C). Data-dependent initialisation: on the batch given to ``init``, ``bias``
is minus the per-channel mean and ``log_scale`` minus the log standard deviation, so
the output starts with zero mean and unit variance per channel. Works for images
``(n, H, W, C)`` and vectors ``(n, D)`` alike (the last axis is the channel axis).
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from nif_zoo.flows.base import Bijection, num_positions


def actnorm_forward(x, bias, log_scale):
    return (x + bias) * jnp.exp(log_scale)


def actnorm_inverse(y, bias, log_scale):
    return y * jnp.exp(-log_scale) - bias


def actnorm_log_det(x, log_scale):
    return jnp.full(x.shape[:1], num_positions(x) * jnp.sum(log_scale), dtype=x.dtype)


class ActNorm(Bijection):
    """Per-channel affine bijection with data-dependent init (see module docstring)."""

    eps: float = 1e-6

    @nn.compact
    def __call__(self, x, reverse: bool = False):
        axes = tuple(range(x.ndim - 1))
        bias = self.param("bias", lambda _, x: -jnp.mean(x, axis=axes), x)
        log_scale = self.param(
            "log_scale", lambda _, x: -jnp.log(jnp.std(x, axis=axes) + self.eps), x
        )
        if not reverse:
            return actnorm_forward(x, bias, log_scale), actnorm_log_det(x, log_scale)
        return actnorm_inverse(x, bias, log_scale), -actnorm_log_det(x, log_scale)
