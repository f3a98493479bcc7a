"""A fixed random permutation of the channels: the "shuffle" alternative to Glow's learned
1x1 convolution (Kingma & Dhariwal 2018, sec. 5.1) and RealNVP's fixed permutations.

    y[..., i] = x[..., perm[i]]          (forward)
    x[..., perm[i]] = y[..., i]          (inverse)
    log|det| = 0                          (a permutation)

``perm`` is drawn once at initialisation from the ``"params"`` RNG and kept, not trained,
in the ``constants`` collection (like the LU convolution's P). O(n H W C).
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from nif_zoo.flows.base import Bijection, zero_log_det


class ChannelShuffle(Bijection):
    """Permutes the last axis by a fixed random permutation (images or vectors)."""

    @nn.compact
    def __call__(self, x, reverse: bool = False):
        channels = x.shape[-1]
        perm = self.variable("constants", "perm", lambda: jax.random.permutation(
            self.make_rng("params"), channels)).value
        if perm.shape != (channels,):
            raise ValueError(f"this shuffle permutes {perm.shape[0]} channels; got {channels}")
        order = jnp.argsort(perm) if reverse else perm
        return jnp.take(x, order, axis=-1), zero_log_det(x)
