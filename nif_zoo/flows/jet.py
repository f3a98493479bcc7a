"""A Jet trunk (Kolesnikov et al. 2024, "Jet: A Modern Transformer-Based Normalizing Flow")
as a bijection image -> latent image, beside :mod:`nif_zoo.flows.glow`.

The image is cut into p x p patches, T = (H/p)(W/p) tokens of D = p p C values
(:func:`patchify`: the same ordering as :func:`nif_zoo.flows.reshape.space_to_depth`). An
ActNorm on the D token features (data-dependent init), then K pairs of affine couplings:

* a **channel** coupling: a random half of the D features of every token (drawn once at
  init, kept in the ``constants`` collection) conditions the other half;
* a **spatial** coupling: the tokens of one colour of a checkerboard on the (H/p) x (W/p)
  token grid condition the others; the colour alternates from pair to pair.

Both are one masked affine coupling (RealNVP's mask form, so odd token grids such as 7 x 7
split as 25 / 24): with a 0/1 mask m of shape (T, D), 1 where a value conditions,

    net(m x, m) = (shift, raw),   scale = 2 sigmoid(raw)  (identity at init: raw = 0)
    y = m x + (1 - m) (x + shift) scale                 (forward)
    x = m y + (1 - m) (y / scale - shift)               (inverse: m y = m x)
    log|det dy/dx| = sum over (1 - m) of log scale

The conditioner ``net`` is a small ViT on the T tokens (pre-LayerNorm blocks: multi-head
self-attention and a 4x MLP, ``vit_depth`` of them, ``width`` features, ``heads`` heads,
learned position embeddings) whose last projection starts at zero, so every coupling starts
as the identity. It runs on m x in both directions, so its rounding cancels in the round
trip (no product here needs :func:`nif_zoo.precision.exact`: the invertible maps are
elementwise). The K pairs are one ``nn.scan`` (parameters stacked on a leading axis of size
K, one compiled body whatever K is); ``remat=True`` recomputes each pair's activations in
the backward pass. Cost per image and coupling: O(T width^2 + T^2 width).

The latent keeps the image's shape (``unpatchify``), so the NIF layers on top of a Glow sit
on a Jet unchanged.
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from nif_zoo.flows.actnorm import ActNorm
from nif_zoo.flows.base import Bijection
from nif_zoo.flows.coupling import affine_forward, affine_inverse, sum_per_example
from nif_zoo.flows.reshape import depth_to_space, space_to_depth
from nif_zoo.rng import fan_in_normal, normal

SCALE_RANGE = 2.0  # scale = SCALE_RANGE * sigmoid(raw), in (0, 2) as Jet's


def patchify(x, patch: int):
    """(n, H, W, C) -> (n, T, D): T = (H/p)(W/p) tokens (row-major), D = p p C."""
    h = space_to_depth(x, patch)
    return h.reshape(h.shape[0], h.shape[1] * h.shape[2], h.shape[3])


def unpatchify(tokens, grid, patch: int):
    """Inverse of :func:`patchify` on a (H/p, W/p) token ``grid``."""
    n, _, d = tokens.shape
    return depth_to_space(tokens.reshape(n, grid[0], grid[1], d), patch)


def checkerboard(grid, parity) -> jax.Array:
    """(T,) 0/1 float: 1 on the tokens (i, j) of the grid with (i + j) % 2 == parity."""
    i, j = np.meshgrid(np.arange(grid[0]), np.arange(grid[1]), indexing="ij")
    board = jnp.asarray(((i + j) % 2).reshape(-1), jnp.float32)
    return jnp.where(parity == 0, 1.0 - board, board)


def channel_half(key, features: int) -> jax.Array:
    """(D,) 0/1 float: a uniformly random half (floor(D/2) ones) of the features."""
    order = jax.random.permutation(key, features)
    return (order < features // 2).astype(jnp.float32)


def jet_scale(raw):
    """(scale, log scale) = (2 sigmoid(raw), log 2 + log sigmoid(raw)), the latter stably."""
    return SCALE_RANGE * jax.nn.sigmoid(raw), math.log(SCALE_RANGE) + jax.nn.log_sigmoid(raw)


def masked_affine_forward(x, mask, shift, scale):
    return mask * x + (1.0 - mask) * affine_forward(x, shift, scale)


def masked_affine_inverse(y, mask, shift, scale):
    return mask * y + (1.0 - mask) * affine_inverse(y, shift, scale)


class EncoderBlock(nn.Module):
    """Pre-LayerNorm transformer block: x + MHSA(LN x), then x + MLP(LN x) (4x, GELU)."""

    width: int
    heads: int

    @nn.compact
    def __call__(self, x):
        h = nn.LayerNorm(name="norm_attention")(x)
        x = x + nn.MultiHeadDotProductAttention(
            num_heads=self.heads, qkv_features=self.width, kernel_init=fan_in_normal,
            name="attention")(h, h)
        h = nn.LayerNorm(name="norm_mlp")(x)
        h = nn.gelu(nn.Dense(4 * self.width, kernel_init=fan_in_normal, name="mlp_in")(h))
        return x + nn.Dense(self.width, kernel_init=fan_in_normal, name="mlp_out")(h)


class ViTConditioner(nn.Module):
    """(n, T, F) tokens -> (n, T, out): embed, add positions, ``depth`` blocks, LayerNorm,
    a zero-initialised projection."""

    width: int
    heads: int
    depth: int
    out_features: int

    @nn.compact
    def __call__(self, tokens):
        x = nn.Dense(self.width, kernel_init=fan_in_normal, name="embed")(tokens)
        positions = self.param("positions", lambda k, s: normal(k, s) / math.sqrt(self.width),
                               tokens.shape[1:2] + (self.width,))
        x = x + positions
        for b in range(self.depth):
            x = EncoderBlock(self.width, self.heads, name=f"block_{b}")(x)
        x = nn.LayerNorm(name="norm_out")(x)
        return nn.Dense(self.out_features, kernel_init=nn.initializers.zeros,
                        name="project_out")(x)


class MaskedCoupling(nn.Module):
    """The masked affine coupling of the module docstring on tokens (n, T, D); ``mask`` is
    given per call (it is a constant or a function of the scanned pair's index)."""

    width: int
    heads: int
    depth: int

    @nn.compact
    def __call__(self, x, mask, reverse: bool = False):
        d = x.shape[-1]
        mask = jnp.broadcast_to(mask, x.shape[1:]).astype(x.dtype)
        net = ViTConditioner(self.width, self.heads, self.depth, 2 * d, name="net")
        conditioning = mask * x  # = mask * y: the same in both directions
        h = net(jnp.concatenate(
            [conditioning, jnp.broadcast_to(mask, x.shape)], axis=-1))
        shift, raw = h[..., :d], h[..., d:]
        scale, log_scale = jet_scale(raw)
        log_det = sum_per_example((1.0 - mask) * log_scale)
        if not reverse:
            return masked_affine_forward(x, mask, shift, scale), log_det
        return masked_affine_inverse(x, mask, shift, scale), -log_det


class CouplingPair(nn.Module):
    """A channel coupling then a spatial coupling (inverse: the other way round); the
    spatial checkerboard's colour is ``parity`` (0 / 1, the pair's index mod 2)."""

    grid: tuple
    width: int
    heads: int
    depth: int

    @nn.compact
    def __call__(self, x, parity, reverse: bool = False):
        d = x.shape[-1]
        # drawn once at init (a placeholder on later calls: Flax reads the stored value)
        channels = self.variable(
            "constants", "channel_mask",
            lambda: channel_half(self.make_rng("params"), d) if self.is_initializing()
            else jnp.zeros((d,), jnp.float32)).value
        spatial = checkerboard(self.grid, parity)[:, None]
        couplings = (
            (MaskedCoupling(self.width, self.heads, self.depth, name="channel"), channels),
            (MaskedCoupling(self.width, self.heads, self.depth, name="spatial"), spatial),
        )
        total = jnp.zeros(x.shape[:1], x.dtype)
        for coupling, mask in (reversed(couplings) if reverse else couplings):
            x, log_det = coupling(x, mask, reverse)
            total = total + log_det
        return x, total


# jax.checkpoint around a pair (``remat=True``); ``reverse`` (argument 3) stays static
RematCouplingPair = nn.remat(CouplingPair, static_argnums=(3,))


class Jet(Bijection):
    """Jet trunk: ``patch`` p, ``steps`` K coupling pairs, ViT ``width`` / ``heads`` /
    ``depth`` per coupling, ``remat``; (n, H, W, C) -> (n, H, W, C)."""

    patch: int = 4
    steps: int = 4
    width: int = 64
    heads: int = 4
    depth: int = 1
    remat: bool = False

    def check_shape(self, x):
        p = self.patch
        if x.ndim != 4 or x.shape[1] % p or x.shape[2] % p:
            raise ValueError(f"Jet with patch size {p} needs images (n, H, W, C) with H and W "
                             f"divisible by {p}; got shape {tuple(x.shape)}")
        if x.shape[3] * p * p < 2:
            raise ValueError("Jet's channel couplings need at least 2 values per patch")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must be divisible by heads {self.heads}")

    @nn.compact
    def __call__(self, x, reverse: bool = False):
        self.check_shape(x)
        grid = (x.shape[1] // self.patch, x.shape[2] // self.patch)
        tokens = patchify(x, self.patch)
        # declared first (data-dependent init sees the patched data); used at either end
        norm = ActNorm(name="actnorm")
        pair = (RematCouplingPair if self.remat else CouplingPair)(
            grid, self.width, self.heads, self.depth, name="pairs")
        scanned = nn.scan(
            lambda module, h, parity: module(h, parity, reverse),
            variable_axes={"params": 0, "constants": 0},
            split_rngs={"params": True},
            length=self.steps,
            reverse=reverse,
        )
        parities = jnp.arange(self.steps) % 2
        if not reverse:
            tokens, total = norm(tokens)
            tokens, log_dets = scanned(pair, tokens, parities)
            return unpatchify(tokens, grid, self.patch), total + log_dets.sum(axis=0)
        tokens, log_dets = scanned(pair, tokens, parities)
        tokens, total = norm(tokens, reverse=True)
        return unpatchify(tokens, grid, self.patch), total + log_dets.sum(axis=0)
