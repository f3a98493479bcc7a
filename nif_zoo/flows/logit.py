"""The logit transform of the authors' code (SPEC section 7), as a bijection on (0, 1)^D:

    p = lambda + (1 - 2 lambda) y          (squeezes [0, 1] into [lambda, 1 - lambda])
    x = logit(p) = log p - log(1 - p)                                         (forward)
    y = (sigmoid(x) - lambda) / (1 - 2 lambda)                                (inverse)
    log|det dx/dy| = sum over dimensions of log(1 - 2 lambda) - log p - log(1 - p)

Put at the front of a model (dequantised data y in (0, 1) -> Glow), its log-det keeps the
likelihood in the data's units, so bits/dim stay comparable with a model without it. The
authors use lambda = 0.05. No parameters; O(D).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from nif_zoo.flows.base import Bijection


def log_det_forward(p, lam: float):
    """sum log|d logit(lambda + (1 - 2 lambda) y) / dy| over all but the batch axis."""
    per_dim = jnp.log1p(-2.0 * lam) - jnp.log(p) - jnp.log1p(-p)
    return jnp.sum(per_dim.reshape(per_dim.shape[0], -1), axis=-1)


def check_lambda(lam: float) -> float:
    if not 0.0 <= lam < 0.5:
        raise ValueError(f"the logit transform needs 0 <= lambda < 1/2; got {lam}")
    return float(lam)


def domain(lam: float):
    """(lo, hi): the open interval of y the transform is defined on, where
    lambda + (1 - 2 lambda) y lies in (0, 1). It holds [0, 1] when lambda > 0, and every
    inverse output (decode) lies in it."""
    margin = lam / (1.0 - 2.0 * lam)
    return -margin, 1.0 + margin


def logit_forward(y, lam: float):
    """(logit(lambda + (1 - 2 lambda) y), log|det|) for y in (0, 1), batch axis first."""
    p = lam + (1.0 - 2.0 * lam) * y
    return jnp.log(p) - jnp.log1p(-p), log_det_forward(p, lam)


def logit_inverse(x, lam: float):
    """((sigmoid(x) - lambda) / (1 - 2 lambda), log|det| of this direction)."""
    p = jax.nn.sigmoid(x)
    return (p - lam) / (1.0 - 2.0 * lam), -log_det_forward(p, lam)


class Logit(Bijection):
    """y in (0, 1) -> logit(lambda + (1 - 2 lambda) y); ``lam`` in [0, 1/2)."""

    lam: float = 0.05

    def __call__(self, x, reverse: bool = False):
        lam = check_lambda(self.lam)
        return logit_inverse(x, lam) if reverse else logit_forward(x, lam)
