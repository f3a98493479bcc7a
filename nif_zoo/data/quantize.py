"""Quantised images and their likelihood units (SPEC section 6).

Images are n_bits integers k in [0, 2^n_bits). Uniform dequantisation maps them to the
unit interval, y = (k + U[0, 1)) / 2^n_bits, where a density p(y) gives the discrete
log-probability bound log P(k) >= log p(y) - N log 2^n_bits, and

    bits/dim = (-log p(y) + N log 2^n_bits) / (N ln 2).

Without a key the bin centre U = 1/2 is used (deterministic). Float images are taken
to be in this continuous data scale already ([0, 1]; 0 is black, 1 is white).

A model trained TarFlow's way (``data_noise`` sigma > 0) models y + sigma eps, eps ~ N(0, I),
instead: :func:`add_data_noise`. Its bits/dim, by the same formula, are those of the noisy
data's density (the noise spills over the bins, so they bound neither the discrete data's
bits/dim nor compare with a model trained on y alone).
"""
from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from nif_zoo import rng


def num_levels(n_bits: int) -> int:
    return 2 ** n_bits


def dequantize(images, n_bits: int, key=None):
    """Integer images -> float32 y in (0, 1): (k + 1/2) / 2^n_bits, or (k + U) with a key."""
    k = jnp.asarray(images, jnp.float32)
    offset = 0.5 if key is None else rng.uniform(key, k.shape, jnp.float32)
    return (k + offset) / num_levels(n_bits)


def add_data_noise(y, sigma: float, key):
    """y + sigma eps, eps ~ N(0, I) from ``key`` (y itself when sigma is 0)."""
    if not sigma:
        return y
    return y + sigma * rng.normal(key, y.shape, jnp.float32)


def quantize(y, n_bits: int) -> np.ndarray:
    """Continuous y -> uint8 k = floor(y 2^n_bits), clipped to [0, 2^n_bits - 1]. Values an
    overflowed inverse makes non-finite: +inf saturates to the top level like any large
    value, -inf to 0, NaN (no direction) becomes 0."""
    levels = num_levels(n_bits)
    k = np.floor(np.nan_to_num(np.asarray(y, np.float64), nan=0.0, posinf=float(levels),
                               neginf=0.0) * levels)
    return np.clip(k, 0, levels - 1).astype(np.uint8)


def discrete_log_prob(log_density, num_dims: int, n_bits: int):
    """log p(y) (density on [0, 1]^N) -> log P(k) bound (nats): minus N log 2^n_bits."""
    return log_density - num_dims * n_bits * math.log(2.0)


def bits_per_dim(log_prob, num_dims: int):
    """-log P(k) / (N ln 2), from :func:`discrete_log_prob`'s value."""
    return -log_prob / (num_dims * math.log(2.0))
