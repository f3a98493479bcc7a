"""Latent priors of an image flow, all with the interface of :mod:`nif_zoo.nif.layers`.

``StandardNormal`` is the NF prior N(0, I_N) on the whole latent; the NIF priors are the
Gaussian NIF layers with z ~ N(0, I_M) (closed-form likelihood).
"""
from __future__ import annotations

import math
from typing import Tuple

import flax.linen as nn
import jax.numpy as jnp

from nif_zoo.nif.gaussian import LOG_2PI
from nif_zoo.nif.layers import DenseNIF, UpsampleNIF, check_estimate

__all__ = ["DenseNIF", "StandardNormal", "UpsampleNIF"]


class StandardNormal(nn.Module):
    """N(0, I) over all of ``event_shape``; its latent is the flattened event.

    ``decode`` ignores s: a normalizing flow has no noise model."""

    event_shape: Tuple[int, ...]

    @property
    def latent_dim(self):
        return math.prod(self.event_shape)

    def flat(self, x):
        return x.reshape(x.shape[: x.ndim - len(self.event_shape)] + (-1,))

    def __call__(self, x):
        return self.log_prob(x)

    def log_prob(self, x):
        v = self.flat(x)
        return -0.5 * (jnp.sum(v * v, axis=-1) + v.shape[-1] * LOG_2PI)

    def embed(self, x, estimate: str = "mode"):
        check_estimate(estimate)
        return self.flat(x)

    def decode(self, z, s=0.0, isotropic: bool = False):
        del s, isotropic
        return z.reshape(z.shape[:-1] + tuple(self.event_shape))
