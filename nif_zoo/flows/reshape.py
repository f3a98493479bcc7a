"""Reshaping layers of a multiscale flow: squeeze (space-to-depth) and channel split.

``space_to_depth(x, f)``: (n, f h, f w, c) -> (n, h, w, f f c). Output channel
``(di * f + dj) * c + k`` of pixel (i, j) is input pixel (i f + di, j f + dj), channel k.
The same ordering is used by the upsampling NIF (SPEC section 3), so a latent pixel's
block of f x f x c data values is one channel vector here. Both maps are permutations:
log-det 0.
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from nif_zoo.flows.base import Bijection, zero_log_det


def space_to_depth(x, factor: int):
    *lead, hh, ww, c = x.shape
    if hh % factor or ww % factor:
        raise ValueError(f"spatial shape {(hh, ww)} is not divisible by factor {factor}")
    h, w = hh // factor, ww // factor
    x = x.reshape(*lead, h, factor, w, factor, c)
    k = len(lead)
    x = jnp.moveaxis(x, k + 2, k + 1)  # (..., h, w, f_i, f_j, c)
    return x.reshape(*lead, h, w, factor * factor * c)


def depth_to_space(x, factor: int):
    *lead, h, w, cc = x.shape
    if cc % (factor * factor):
        raise ValueError(f"{cc} channels are not divisible by factor^2 = {factor * factor}")
    c = cc // (factor * factor)
    x = x.reshape(*lead, h, w, factor, factor, c)
    k = len(lead)
    x = jnp.moveaxis(x, k + 2, k + 1)  # (..., h, f_i, w, f_j, c)
    return x.reshape(*lead, h * factor, w * factor, c)


def split_channels(h):
    """Multiscale split: (kept, factored_out), the first and second half of the channels."""
    c_keep = h.shape[-1] // 2
    return h[..., :c_keep], h[..., c_keep:]


def merge_channels(kept, factored):
    """Inverse of :func:`split_channels`."""
    return jnp.concatenate([kept, factored], axis=-1)


class Squeeze(Bijection):
    """Squeeze by ``factor`` (forward: space-to-depth; inverse: depth-to-space)."""

    factor: int = 2

    def __call__(self, x, reverse: bool = False):
        y = depth_to_space(x, self.factor) if reverse else space_to_depth(x, self.factor)
        return y, zero_log_det(x)

    @nn.nowrap
    def output_shape(self, input_shape):
        h, w, c = input_shape
        if h % self.factor or w % self.factor:
            raise ValueError(f"spatial shape {(h, w)} is not divisible by factor {self.factor}")
        return (h // self.factor, w // self.factor, c * self.factor ** 2)

    @nn.nowrap
    def input_shape(self, output_shape):
        h, w, c = output_shape
        return (h * self.factor, w * self.factor, c // self.factor ** 2)
