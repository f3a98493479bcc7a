"""Nearest-neighbour upsampling Gaussian NIF, O(dim z): SPEC section 3 (paper sec. 4.1).

z has shape (..., h, w, c_z), x has shape (..., f h, f w, c_x). Latent pixel (i, j)
feeds only its own f x f block of x:

    x_block(i, j) = W z_ij + b_block(i, j) + noise,   W in R^{(f^2 c_x) x c_z}

where row ``(di * f + dj) * c_x + c`` of W feeds pixel (i f + di, j f + dj), channel c
(the channel order of :func:`nif_zoo.flows.reshape.space_to_depth`). Plain nearest-
neighbour upsampling is W = stacked identities; a learnable W is a stride-f, kernel-f
transposed convolution. Injective iff W has full column rank (f^2 c_x >= c_z).

The blocks do not overlap, so Lambda is block diagonal with h w blocks
W^T Sigma_ij^-1 W (c_z x c_z), and with z ~ N(0, I) every block is an independent
Gaussian NIF: each function below is :mod:`nif_zoo.nif.gaussian` applied to the blocks
(as a batch) and, for densities, summed over them. Cost O(h w c_z^3 + N c_z).

Shapes: x (..., f h, f w, c_x); W (f^2 c_x, c_z); b and log_var (f h, f w, c_x).
"""
from __future__ import annotations

import jax.numpy as jnp

from nif_zoo.flows.reshape import depth_to_space, space_to_depth
from nif_zoo.nif import gaussian
from nif_zoo.precision import exact


def check_weight(W, factor: int, channels: int):
    rows = factor * factor * channels
    if W.ndim != 2 or W.shape[0] != rows:
        raise ValueError(
            f"W must have shape (factor^2 * c_x, c_z) = ({rows}, c_z); got {W.shape}"
        )
    if W.shape[1] > rows:
        raise ValueError(f"upsampling NIF needs c_z <= f^2 c_x = {rows}; got c_z = {W.shape[1]}")


@exact
def blocks(x, W, b, log_var, factor: int):
    """The per-block Gaussian NIF arguments: x, b, log_var as (..., h, w, f^2 c_x)."""
    check_weight(W, factor, x.shape[-1])
    if b.shape != x.shape[-3:] or log_var.shape != x.shape[-3:]:
        raise ValueError(
            f"b and log_var must be shaped like one image {x.shape[-3:]}; "
            f"got {b.shape} and {log_var.shape}"
        )
    return (space_to_depth(x, factor), space_to_depth(b, factor),
            space_to_depth(log_var, factor))


def sum_blocks(values):
    return jnp.sum(values, axis=(-2, -1))


@exact
def log_marginal(x, W, b, log_var, factor: int):
    """log p(x) with z ~ N(0, I): the sum of the blocks' closed forms. Shape (...)."""
    xb, bb, lvb = blocks(x, W, b, log_var, factor)
    return sum_blocks(gaussian.log_marginal(xb, W, bb, lvb))


@exact
def manifold_term(x, W, b, log_var, factor: int):
    """log int p(x | z) dz, summed over blocks. Shape (...)."""
    xb, bb, lvb = blocks(x, W, b, log_var, factor)
    return sum_blocks(gaussian.manifold_term(xb, W, bb, lvb))


@exact
def stochastic_inverse_mode(x, W, b, log_var, factor: int):
    """z+ = Lambda^-1 u block by block: the stochastic inverse's mode, (..., h, w, c_z)."""
    xb, bb, lvb = blocks(x, W, b, log_var, factor)
    return gaussian.stochastic_inverse_mode(xb, W, bb, lvb)


@exact
def posterior_mean(x, W, b, log_var, factor: int):
    """(I + Lambda)^-1 u block by block (posterior mean under N(0, I)), (..., h, w, c_z)."""
    xb, bb, lvb = blocks(x, W, b, log_var, factor)
    return gaussian.posterior_mean(xb, W, bb, lvb)


@exact
def sample_stochastic_inverse(key, x, W, b, log_var, factor: int):
    """z ~ q(z | x), reparameterised, (..., h, w, c_z)."""
    xb, bb, lvb = blocks(x, W, b, log_var, factor)
    return gaussian.sample_stochastic_inverse(key, xb, W, bb, lvb)


@exact
def log_stochastic_inverse(z, x, W, b, log_var, factor: int):
    """log q(z | x), summed over blocks. Shape (...)."""
    xb, bb, lvb = blocks(x, W, b, log_var, factor)
    return sum_blocks(gaussian.log_stochastic_inverse(z, xb, W, bb, lvb))


@exact
def decode_mean(z, W, b, factor: int):
    """The manifold point: block (i, j) = W z_ij + b_block. (..., h, w, c_z) -> image."""
    return depth_to_space(jnp.einsum("nm,...m->...n", W, z), factor) + b


@exact
def generate(key, z, W, b, log_var, factor: int, s=1.0, noise_form="paper"):
    """x ~ N(upsample(z) + b, s Sigma) (or the other ``noise_form``s of :func:`gaussian.noise`); s = 0: on the manifold."""
    mean = decode_mean(z, W, b, factor)
    return mean + gaussian.noise(key, mean.shape, log_var, s, noise_form)
