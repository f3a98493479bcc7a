"""Flax modules over the Gaussian NIF math: the learnable noise model p(x | z), as noisy
injective layers of :mod:`nif_zoo.flows.base` (``NoisyInjection``, ``closed_form``).

``DenseNIF`` (SPEC section 2, any A of shape (N, M)) maps events of ``event_shape`` to flat
latents ``(M,)``; ``UpsampleNIF`` (section 3, the O(dim z) nearest-neighbour form) maps an
image ``(H, W, C)`` to a smaller image ``(H/f, W/f, c_z)``. Both give:

* ``log_marginal(x)``: exact log p(x) with z ~ N(0, I) (the closed form, eq. 13 corrected);
* ``manifold_term(x)``: log int p(x | z) dz;
* ``stochastic_inverse(x, estimate)``: ``"mode"`` (z+, default), ``"posterior_mean"`` (the
  true posterior mean under N(0, I)) or ``"sample"`` (z ~ q(z | x), ``"posterior"`` RNG);
* ``log_stochastic_inverse(z, x)``: log q(z | x);
* ``decode(z, s, noise_form)``: x ~ N(A z + b, s Sigma), with the ``"noise"`` RNG stream
  unless s == 0 (then exactly on the manifold);
* ``blocks(x)``, ``block_parameters(params)``, ``parameters_from_blocks(A, b, log_var)``:
  the layout of :mod:`nif_zoo.nif.factor_analysis` (data (n, B, R), shared A (R, M), b and
  log_var (B, R)) for a closed-form refit; they use no variables (call them unbound).

Parameters: A (or W), b, log_var (Sigma = diag(exp(log_var))). A starts with
orthonormal columns and log_var at 0, so Lambda = I at initialisation.
"""
from __future__ import annotations

import math
from typing import Tuple

import flax.linen as nn
import jax.numpy as jnp

from nif_zoo.flows.base import NoisyInjection, check_estimate
from nif_zoo.flows.reshape import depth_to_space, space_to_depth
from nif_zoo.nif import factor_analysis, gaussian, upsample
from nif_zoo.rng import orthogonal

def check_event(shape, expected):
    if tuple(shape) != tuple(expected):
        raise ValueError(f"this layer's events have shape {tuple(expected)}; got {tuple(shape)}")


def noise_key(module: nn.Module, s):
    """The key for x's noise, or None when s is the Python number 0 (no noise drawn)."""
    if isinstance(s, (int, float)) and s == 0:
        return None
    return module.make_rng("noise")


class DenseNIF(NoisyInjection):
    """Gaussian NIF with a dense A in R^{N x M} over the flattened ``event_shape``."""

    event_shape: Tuple[int, ...]
    latent_dim: int
    closed_form = True

    def setup(self):
        n = math.prod(self.event_shape)
        if not 0 < self.latent_dim <= n:
            raise ValueError(f"latent_dim must be in [1, N={n}]; got {self.latent_dim}")
        self.A = self.param("A", orthogonal, (n, self.latent_dim))
        self.b = self.param("b", nn.initializers.zeros, (n,))
        self.log_var = self.param("log_var", nn.initializers.zeros, (n,))

    def flat(self, x):
        return x.reshape(x.shape[: x.ndim - len(self.event_shape)] + (-1,))

    def args(self, x):
        return self.flat(x), self.A, self.b, self.log_var

    @nn.nowrap
    def output_shape(self, input_shape):
        check_event(input_shape, self.event_shape)
        return (self.latent_dim,)

    @nn.nowrap
    def input_shape(self, output_shape):
        check_event(output_shape, (self.latent_dim,))
        return tuple(self.event_shape)

    def log_marginal(self, x):
        return gaussian.log_marginal(*self.args(x))

    def manifold_term(self, x):
        return gaussian.manifold_term(*self.args(x))

    def stochastic_inverse(self, x, estimate: str = "mode"):
        check_estimate(estimate)
        if estimate == "sample":
            return gaussian.sample_stochastic_inverse(self.make_rng("posterior"), *self.args(x))
        fn = (gaussian.stochastic_inverse_mode if estimate == "mode" else
              gaussian.posterior_mean)
        return fn(*self.args(x))

    def log_stochastic_inverse(self, z, x):
        return gaussian.log_stochastic_inverse(z, *self.args(x))

    def blocks(self, x):
        return factor_analysis.dense_blocks(x)

    def block_parameters(self, params):
        return params["A"], params["b"][None], params["log_var"][None]

    def parameters_from_blocks(self, A, b, log_var):
        return {"A": jnp.asarray(A), "b": jnp.asarray(b)[0], "log_var": jnp.asarray(log_var)[0]}

    def decode(self, z, s=0.0, noise_form: str = "paper"):
        key = noise_key(self, s)
        x = (gaussian.decode_mean(z, self.A, self.b) if key is None else
             gaussian.generate(key, z, self.A, self.b, self.log_var, s, noise_form))
        return x.reshape(z.shape[:-1] + tuple(self.event_shape))


class UpsampleNIF(NoisyInjection):
    """Nearest-neighbour upsampling Gaussian NIF: latent (H/f, W/f, latent_channels)."""

    event_shape: Tuple[int, int, int]
    factor: int
    latent_channels: int
    closed_form = True

    def setup(self):
        h, w, c = self.event_shape
        f = self.factor
        if h % f or w % f:
            raise ValueError(f"event shape {self.event_shape} is not divisible by factor {f}")
        if not 0 < self.latent_channels <= f * f * c:
            raise ValueError(
                f"latent_channels must be in [1, f^2 c = {f * f * c}]; got {self.latent_channels}"
            )
        self.W = self.param("W", orthogonal, (f * f * c, self.latent_channels))
        self.b = self.param("b", nn.initializers.zeros, tuple(self.event_shape))
        self.log_var = self.param("log_var", nn.initializers.zeros, tuple(self.event_shape))

    @property
    def latent_shape(self):
        h, w, _ = self.event_shape
        return (h // self.factor, w // self.factor, self.latent_channels)

    @property
    def latent_dim(self):
        return math.prod(self.latent_shape)

    @nn.nowrap
    def output_shape(self, input_shape):
        check_event(input_shape, self.event_shape)
        return self.latent_shape

    @nn.nowrap
    def input_shape(self, output_shape):
        check_event(output_shape, self.latent_shape)
        return tuple(self.event_shape)

    def args(self, x):
        return x, self.W, self.b, self.log_var, self.factor

    def log_marginal(self, x):
        return upsample.log_marginal(*self.args(x))

    def manifold_term(self, x):
        return upsample.manifold_term(*self.args(x))

    def stochastic_inverse(self, x, estimate: str = "mode"):
        check_estimate(estimate)
        if estimate == "sample":
            return upsample.sample_stochastic_inverse(self.make_rng("posterior"), *self.args(x))
        fn = (upsample.stochastic_inverse_mode if estimate == "mode" else
              upsample.posterior_mean)
        return fn(*self.args(x))

    def log_stochastic_inverse(self, z, x):
        return upsample.log_stochastic_inverse(z, *self.args(x))

    def blocks(self, x):
        return factor_analysis.upsample_blocks(x, self.factor)

    def _image_to_blocks(self, image):
        return space_to_depth(jnp.asarray(image), self.factor).reshape(
            -1, self.factor * self.factor * self.event_shape[-1])

    def _blocks_to_image(self, blocks):
        h, w, _ = self.latent_shape
        return depth_to_space(jnp.asarray(blocks).reshape(h, w, -1), self.factor)

    def block_parameters(self, params):
        return (params["W"], self._image_to_blocks(params["b"]),
                self._image_to_blocks(params["log_var"]))

    def parameters_from_blocks(self, A, b, log_var):
        return {"W": jnp.asarray(A), "b": self._blocks_to_image(b),
                "log_var": self._blocks_to_image(log_var)}

    def decode(self, z, s=0.0, noise_form: str = "paper"):
        key = noise_key(self, s)
        if key is None:
            return upsample.decode_mean(z, self.W, self.b, self.factor)
        return upsample.generate(key, z, self.W, self.b, self.log_var, self.factor, s, noise_form)
