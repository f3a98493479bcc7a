"""Stochastic coupling (SPEC section 4, paper sec. 4.2): a coupling layer across dimensions.

Split x = (x1, x2), x1 = x[..., :split]. A network of x1 gives the Gaussian NIF
parameters A(x1) (N2 x M2), b(x1), Sigma(x1) = diag(exp(log_var(x1))):

    stochastic_inverse (data -> latent): z1 = x1, z2 = the mode of q(z2 | x2; x1), or a draw
    manifold_term:                       log int p(x2 | z2; x1) dz2
    decode (latent -> data):             x1 = z1, x2 ~ N(A(z1) z2 + b(z1), s Sigma(z1))

The manifold term stands where a coupling layer has its log-determinant. Maps
R^{N1 + N2} to R^{N1 + M2}, M2 <= N2. Works on vectors ``(n, D)``; a noisy injective layer
of :mod:`nif_zoo.flows.base`, so a ``Chain`` composes it with any other layer.
Conditioner: MLP (``depth`` hidden layers of ``hidden`` units, ReLU) with a zero-initialised
output added to learned base parameters (A0 with orthonormal columns, b0 = 0,
log_var0 = 0), so the layer starts as a plain Gaussian NIF on x2.
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from nif_zoo.flows.base import NoisyInjection, check_estimate
from nif_zoo.nif import gaussian
from nif_zoo.nif.layers import noise_key
from nif_zoo.flows.mlp_flow import MLP
from nif_zoo.rng import orthogonal


class StochasticCoupling(NoisyInjection):
    """Stochastic coupling: ``split`` = N1, ``data_dim`` = N2, ``latent_dim`` = M2."""

    split: int
    data_dim: int
    latent_dim: int
    hidden: int = 64
    depth: int = 2

    @nn.nowrap
    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.split + self.data_dim,):
            raise ValueError(f"stochastic coupling takes vectors of {self.split} + "
                             f"{self.data_dim} values; got events of shape {tuple(input_shape)}")
        return (self.split + self.latent_dim,)

    @nn.nowrap
    def input_shape(self, output_shape):
        if tuple(output_shape) != (self.split + self.latent_dim,):
            raise ValueError(f"expected latents of {self.split} + {self.latent_dim} values; got "
                             f"events of shape {tuple(output_shape)}")
        return (self.split + self.data_dim,)

    @nn.compact
    def noise_model(self, x1):
        """(A, b, log_var) of p(x2 | z2; x1), shapes (n, N2, M2), (n, N2), (n, N2)."""
        n2, m2 = self.data_dim, self.latent_dim
        if not 0 < m2 <= n2:
            raise ValueError(f"latent_dim must be in [1, N2={n2}]; got {m2}")
        a0 = self.param("A0", orthogonal, (n2, m2))
        b0 = self.param("b0", nn.initializers.zeros, (n2,))
        lv0 = self.param("log_var0", nn.initializers.zeros, (n2,))
        out = MLP(self.hidden, self.depth, n2 * m2 + 2 * n2, name="net")(x1)
        lead = x1.shape[:-1]
        A = a0 + out[..., : n2 * m2].reshape(lead + (n2, m2))
        b = b0 + out[..., n2 * m2: n2 * m2 + n2]
        log_var = lv0 + out[..., n2 * m2 + n2:]
        return A, b, log_var

    def halves(self, x):
        x1, x2 = x[..., : self.split], x[..., self.split:]
        if x2.shape[-1] != self.data_dim:
            raise ValueError(f"expected {self.split} + {self.data_dim} values; got {x.shape[-1]}")
        return x1, x2

    def manifold_term(self, x):
        x1, x2 = self.halves(x)
        return gaussian.manifold_term(x2, *self.noise_model(x1))

    def stochastic_inverse(self, x, estimate: str = "mode"):
        """(x1, z2): z2 is q(z2 | x2; x1)'s mode (``"mode"``) or a reparameterised draw
        (``"sample"``, the ``"posterior"`` RNG stream; never chosen by whether an RNG was
        passed). The posterior mean under N(0, I) does not apply: z2's prior is whatever
        the layers after this one make it."""
        check_estimate(estimate, ("mode", "sample"))
        x1, x2 = self.halves(x)
        A, b, log_var = self.noise_model(x1)
        if estimate == "sample":
            z2 = gaussian.sample_stochastic_inverse(self.make_rng("posterior"), x2, A, b, log_var)
        else:
            z2 = gaussian.stochastic_inverse_mode(x2, A, b, log_var)
        return jnp.concatenate([x1, z2], axis=-1)

    def log_stochastic_inverse(self, z, x):
        x1, x2 = self.halves(x)
        return gaussian.log_stochastic_inverse(z[..., self.split:], x2, *self.noise_model(x1))

    def decode(self, z, s=0.0, noise_form: str = "paper"):
        """(z1, z2) -> (x1 = z1, x2 ~ N(A(z1) z2 + b(z1), s Sigma(z1))); s = 0: the mean."""
        x1, z2 = z[..., : self.split], z[..., self.split:]
        if z2.shape[-1] != self.latent_dim:
            raise ValueError(f"expected {self.latent_dim} latent values after the split; "
                             f"got {z2.shape[-1]}")
        A, b, log_var = self.noise_model(x1)
        key = noise_key(self, s)
        x2 = (gaussian.decode_mean(z2, A, b) if key is None else
              gaussian.generate(key, z2, A, b, log_var, s, noise_form))
        return jnp.concatenate([x1, x2], axis=-1)
