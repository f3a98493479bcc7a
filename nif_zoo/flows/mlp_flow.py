"""A flow on vectors (n, D): affine couplings with MLP conditioners (RealNVP), ActNorm
and a reverse permutation between them. The deep NIF's low-dimensional prior flow
(paper appendix B.4: 10 couplings, 4-layer MLPs of 1024 units, D = M = 128).

Coupling: split x = (x_a, x_b), x_a = x[..., :D//2]; an MLP of x_a gives (shift, raw);
log_scale = bound * tanh(raw / bound) (bounded for stability, identity near 0):

    y_b = x_b * exp(log_scale) + shift            (forward)
    x_b = (y_b - shift) * exp(-log_scale)         (inverse)
    log|det dy/dx| = sum(log_scale)

The MLP's output layer starts at zero, so each coupling starts as the identity.
One block: ActNorm -> coupling -> reverse; ``MLPFlow`` chains ``layers`` blocks.
Cost O(n layers (D hidden + depth hidden^2)).
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from nif_zoo.flows.actnorm import ActNorm
from nif_zoo.flows.base import Bijection, chain, zero_log_det
from nif_zoo.flows.coupling import coupling_halves
from nif_zoo.rng import fan_in_normal


class MLP(nn.Module):
    """``depth`` hidden ReLU layers of ``hidden`` units, then a zero-initialised output."""

    hidden: int
    depth: int
    out: int

    @nn.compact
    def __call__(self, h):
        for k in range(self.depth):
            h = nn.relu(nn.Dense(self.hidden, kernel_init=fan_in_normal, name=f"hidden_{k}")(h))
        return nn.Dense(self.out, kernel_init=nn.initializers.zeros, name="out")(h)


def bounded_log_scale(raw, bound: float):
    return bound * jnp.tanh(raw / bound)


class MLPCoupling(Bijection):
    hidden: int = 256
    depth: int = 2
    scale_bound: float = 2.0

    @nn.compact
    def __call__(self, x, reverse: bool = False):
        x_a, x_b = coupling_halves(x)
        d_b = x_b.shape[-1]
        h = MLP(self.hidden, self.depth, 2 * d_b, name="net")(x_a)
        shift, log_scale = h[..., :d_b], bounded_log_scale(h[..., d_b:], self.scale_bound)
        log_det = jnp.sum(log_scale, axis=-1)
        if not reverse:
            return jnp.concatenate([x_a, x_b * jnp.exp(log_scale) + shift], -1), log_det
        return jnp.concatenate([x_a, (x_b - shift) * jnp.exp(-log_scale)], -1), -log_det


class Reverse(Bijection):
    """Reverse the feature order (its own inverse); log-det 0."""

    def __call__(self, x, reverse: bool = False):
        return x[..., ::-1], zero_log_det(x)


class MLPFlow(Bijection):
    """``layers`` x [ActNorm -> MLP coupling -> reverse] on vectors (n, D)."""

    layers: int = 4
    hidden: int = 256
    depth: int = 2
    scale_bound: float = 2.0

    def setup(self):
        blocks = []
        for k in range(self.layers):
            blocks += [ActNorm(name=f"actnorm_{k}"),
                       MLPCoupling(self.hidden, self.depth, self.scale_bound, name=f"coupling_{k}"),
                       Reverse(name=f"reverse_{k}")]
        self.blocks = blocks

    def __call__(self, x, reverse: bool = False):
        return chain(self.blocks, x, reverse)
