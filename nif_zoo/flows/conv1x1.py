"""Invertible 1x1 convolution (Glow): a C x C matrix applied to every pixel.

    y[..., :] = W x[..., :]                        (forward)
    x[..., :] = W^-1 y[..., :]                     (inverse)
    log|det dy/dx| = H W log|det W|

LU parametrisation (default, ``lu=True``):

    W = P L (U + diag(sign_s * exp(log_abs_s)))

P a fixed permutation, L unit lower triangular, U strictly upper triangular,
log|det W| = sum(log_abs_s): O(C) instead of O(C^3). The inverse weight
W^-1 = U^-1 L^-1 P^T is formed once per call by two C x C triangular solves and then
applied to every pixel as one matrix product (a solve with n H W right-hand sides per
call was the slowest part of sampling). P and sign_s are fixed at
initialisation and live in the ``constants`` collection (not trained).
Plain variant (``lu=False``): a free matrix W, log|det W| by ``slogdet`` (O(C^3)).
Both start from a random orthogonal matrix (QR of a Gaussian), as in Glow.

Sampling calls the inverse many times with the same weights, and on XLA:CPU the two
triangular solves cost far more than their O(C^3) arithmetic (a third of a 32x32x3 Glow's
sampling call, ``benchmarks/profile.py``). So W^-1 may also come from the ``cache``
collection: when a caller passes ``cache`` as a mutable collection the inverse stores W^-1
there, and when ``cache`` holds it the inverse reads it instead of solving
(:meth:`nif_zoo.models.Model.decode` builds it once per model). A cached W^-1 is a constant
to autodiff: pass no cache where gradients must reach the weights through the inverse.
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
from jax.scipy.linalg import lu as lu_decompose
from jax.scipy.linalg import solve_triangular

from nif_zoo.flows.base import Bijection, num_positions
from nif_zoo.precision import exact
from nif_zoo.rng import orthogonal


@exact
def lu_weight(perm, lower, upper, sign_s, log_abs_s):
    """W = P L (U + diag(sign_s exp(log_abs_s))), with L, U masked to their triangles."""
    c = perm.shape[0]
    l_unit = jnp.tril(lower, -1) + jnp.eye(c, dtype=lower.dtype)
    u_diag = jnp.triu(upper, 1) + jnp.diag(sign_s * jnp.exp(log_abs_s))
    return perm @ l_unit @ u_diag, l_unit, u_diag


@exact
def apply_channel_matrix(x, weight):
    """y[..., i] = sum_j weight[i, j] x[..., j]."""
    return jnp.einsum("...j,ij->...i", x, weight)


@exact
def lu_inverse_weight(perm, l_unit, u_diag):
    """W^-1 = U^-1 L^-1 P^T, by two triangular solves on the C x C matrix P^T (O(C^3) once
    per call, however many pixels it is then applied to)."""
    tmp = solve_triangular(l_unit, perm.T, lower=True, unit_diagonal=True)
    return solve_triangular(u_diag, tmp, lower=False)


class InvertibleConv1x1(Bijection):
    """Invertible 1x1 convolution; ``lu=True`` for the LU form (see module docstring)."""

    lu: bool = True

    @nn.compact
    def __call__(self, x, reverse: bool = False):
        c = x.shape[-1]
        positions = num_positions(x)
        if self.lu:
            # The random rotation is drawn once, at init. Later calls read the stored
            # variables (Flax only shape-checks the init functions then: placeholders).
            if self.is_initializing():
                p0, l0, u0 = lu_decompose(orthogonal(self.make_rng("params"), (c, c)))
            else:
                p0 = l0 = u0 = jnp.eye(c, dtype=x.dtype)
            perm = self.variable("constants", "perm", lambda: p0).value
            sign_s = self.variable("constants", "sign_s", lambda: jnp.sign(jnp.diag(u0))).value
            lower = self.param("lower", lambda _: jnp.tril(l0, -1))
            upper = self.param("upper", lambda _: jnp.triu(u0, 1))
            log_abs_s = self.param("log_abs_s", lambda _: jnp.log(jnp.abs(jnp.diag(u0))))
            weight, l_unit, u_diag = lu_weight(perm, lower, upper, sign_s, log_abs_s)
            log_det_w = jnp.sum(log_abs_s)
        else:
            weight = self.param("weight", orthogonal, (c, c))
            log_det_w = exact(jnp.linalg.slogdet)(weight)[1]
        log_det = jnp.full(x.shape[:1], positions * log_det_w, dtype=x.dtype)
        if not reverse:
            return apply_channel_matrix(x, weight), log_det
        inverse_weight = self.cached_inverse(
            lambda: lu_inverse_weight(perm, l_unit, u_diag) if self.lu else
            exact(jnp.linalg.solve)(weight, jnp.eye(c, dtype=weight.dtype)))
        return apply_channel_matrix(x, inverse_weight), -log_det

    def cached_inverse(self, compute):
        """W^-1: read from the ``cache`` collection when it holds it; else ``compute()``d (and
        stored there when ``cache`` is mutable)."""
        if self.has_variable("cache", "inverse_weight"):
            return self.get_variable("cache", "inverse_weight")
        inverse_weight = compute()
        if self.is_mutable_collection("cache"):
            self.put_variable("cache", "inverse_weight", inverse_weight)
        return inverse_weight
